// A decoder-only LLM loaded from GGUF: hyper-parameters plus weights found by their canonical
// llama.cpp names (token_embd.weight, blk.N.attn_q.weight, ...). Weights point into the file's memory
// map: nothing is copied at load, so resident memory stays near the file size plus the KV cache.
//
// Architectures register by general.architecture (arch_registry.cpp); each family file (arch_*.cpp)
// sets the options below and the model then runs on the shared forward pass in session.cpp.
#pragma once

#include "core/base/ggml_types.h"
#include "core/gguf/gguf.h"
#include "models/llm/hparams.h"

#include <memory>
#include <string>
#include <vector>

namespace pj::llm {

// A 2-D weight (rows, cols) of any kernel type, row-major; or a 1-D vector (rows == 1).
struct Weight {
  const gguf::Tensor* t = nullptr;
  GgmlType type = GgmlType::F32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;
  explicit operator bool() const { return t != nullptr; }
};

struct LayerWeights {
  Weight attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm, post_attn_norm;
  Weight ffn_norm, ffn_gate, ffn_up, ffn_down, post_ffw_norm;
};

class LlmModel {
 public:
  struct LoadOptions {
    // Reproduce transformers' RoPE for bfloat16 checkpoints (see RopeConfig::inv_freq_bf16).
    bool rope_inv_freq_bf16 = false;
  };
  static std::unique_ptr<LlmModel> load(const std::string& path, LoadOptions o);
  static std::unique_ptr<LlmModel> load(const std::string& path) { return load(path, LoadOptions{}); }

  const LlmHparams& hparams() const { return hp_; }
  const gguf::File& file() const { return file_; }
  const Weight& token_embd() const { return token_embd_; }
  const Weight& output_norm() const { return output_norm_; }
  const Weight& output() const { return output_; }  // token_embd when tied
  const std::vector<LayerWeights>& layers() const { return layers_; }

  // Used by the arch files while loading.
  Weight weight(const std::string& name, std::initializer_list<int64_t> shape, bool required = true) const;

 private:
  explicit LlmModel(gguf::File f) : file_(std::move(f)) {}
  friend struct ArchLoader;

  gguf::File file_;
  LlmHparams hp_;
  Weight token_embd_, output_norm_, output_;
  std::vector<LayerWeights> layers_;
};

// Architecture hooks: adjust hyper-parameters after the common keys are read.
struct ArchSpec {
  const char* name;
  void (*configure)(const gguf::File& f, LlmHparams& h);
};
const ArchSpec* find_arch(const std::string& name);
std::vector<std::string> supported_archs();

}  // namespace pj::llm
