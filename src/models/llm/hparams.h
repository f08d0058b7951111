// Hyper-parameters of a decoder-only LLM, read from GGUF keys as llama.cpp writes them
// ("<arch>.block_count", "<arch>.attention.head_count", ...). Architecture files (arch_*.cpp) fill in
// what differs between families; everything else is shared.
#pragma once

#include "core/ops/rope.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pj::gguf {
class File;
}

namespace pj::llm {

enum class Activation { silu, gelu_tanh };

struct LlmHparams {
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // attention.key_length (== value_length here)
  int64_t n_ff = 0;
  float norm_eps = 1e-5f;
  Activation act = Activation::silu;

  ops::RopeConfig rope;           // full-attention layers
  ops::RopeConfig rope_swa;       // sliding-window layers (Gemma 3 uses another base there)
  int64_t sliding_window = 0;     // 0: none
  std::vector<bool> layer_swa;    // per layer: uses the sliding window
  float attn_scale = 0;           // q.k scale; 0 -> 1/sqrt(head_dim)
  float attn_softcap = 0;         // Gemma 2
  float final_softcap = 0;        // Gemma 2
  bool embed_scale = false;       // Gemma: embeddings times sqrt(n_embd)

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// Reads the keys common to all families; `arch` is general.architecture.
LlmHparams read_common_hparams(const gguf::File& f, const std::string& arch);

}  // namespace pj::llm
