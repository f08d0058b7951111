// Whisper (Radford et al. 2022, "Robust Speech Recognition via Large-Scale Weak Supervision"): a
// pre-norm Transformer encoder over the log-mel (two 3-wide convolutions, the second with stride 2,
// GELU, sinusoidal positions) and a decoder with learned positions, causal self-attention,
// cross-attention to the encoder output and logits tied to the token embedding. Every size (tiny ...
// large-v3, English-only and multilingual, 80 or 128 mel bins) is this one graph with other numbers.
//
// Weights are bound by canonical name (the GGUF names, see weights.md in this folder) from a GGUF file,
// a Hugging Face folder (WhisperForConditionalGeneration) or a CTranslate2 model.bin (faster-whisper);
// matrices stay in their stored type (F32, F16, BF16 or any quantized type with kernels) and run on the
// LLM kernels (core/kernels matmul); norms, biases and position tables are kept as f32.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/ggml_types.h"

namespace pj {
class KernelContext;
}

namespace pj::whisper {

struct HParams {
  int n_vocab = 0;
  int n_mels = 80;
  int n_audio_ctx = 1500;  // encoder positions (3000 mel frames / 2)
  int n_audio_state = 0;
  int n_audio_head = 0;
  int n_audio_layer = 0;
  int n_audio_ffn = 0;
  int n_text_ctx = 448;
  int n_text_state = 0;
  int n_text_head = 0;
  int n_text_layer = 0;
  int n_text_ffn = 0;
  bool multilingual() const { return n_vocab >= 51865; }
  int n_languages() const { return n_vocab - 51765 - int(multilingual()); }  // 99, or 100 for large-v3
};

// A matrix for matmul: (rows, cols) of `type`, row-major; data owned by the model's storage.
struct Matrix {
  GgmlType type = GgmlType::F32;
  const void* data = nullptr;
  int64_t rows = 0, cols = 0;
};
struct Linear {
  Matrix w;
  std::vector<float> b;  // empty: no bias
};
struct Norm {
  std::vector<float> w, b;
};
struct Attention {
  Linear q, k, v, o;
};
struct EncoderLayer {
  Norm attn_norm;
  Attention attn;
  Norm ffn_norm;
  Linear ffn_up, ffn_down;
};
struct DecoderLayer {
  Norm attn_norm;
  Attention attn;
  Norm cross_norm;
  Attention cross;
  Norm ffn_norm;
  Linear ffn_up, ffn_down;
};

// A tensor as a loader found it: outermost dimension first (PyTorch order), any element type.
struct RawTensor {
  GgmlType type = GgmlType::F32;
  const void* data = nullptr;
  std::vector<int64_t> shape;
};

struct Model {
  HParams hp;
  std::string source;     // the file or folder it came from
  std::string format;     // "gguf", "hf", "ct2"
  Linear conv1, conv2;    // weight (out, in * 3): row-major [out][in][3], as PyTorch's Conv1d
  std::vector<float> enc_pos;  // [n_audio_ctx][n_audio_state]
  std::vector<EncoderLayer> enc;
  Norm enc_norm;
  Matrix tok_emb;              // [n_vocab][n_text_state]
  Matrix output;               // the logit projection: tok_emb unless the checkpoint has its own
  std::vector<float> dec_pos;  // [n_text_ctx][n_text_state]
  std::vector<DecoderLayer> dec;
  Norm dec_norm;
  // Alignment heads (layer, head) for word timestamps, when the checkpoint names them.
  std::vector<std::pair<int, int>> alignment_heads;
  std::vector<int> suppress_tokens;  // from generation_config.json / CTranslate2 config, when present
  std::vector<std::shared_ptr<const void>> storage;  // memory maps and converted buffers

  // Loads a GGUF file (general.architecture = whisper), a Hugging Face folder or a CTranslate2 folder.
  static Model load(const std::string& path);
};

// Binds canonical names to a model (shared by the loaders): pj::Error naming `source` and the tensor
// if one is missing or has the wrong shape.
void bind_weights(Model& m, const std::function<const RawTensor*(const std::string&)>& get);

// Tensor sources (loaders): each returns canonical-name tensors and fills hp/metadata.
void load_gguf(Model& m, const std::string& path);
void load_hf_folder(Model& m, const std::string& folder);
void load_ct2_folder(Model& m, const std::string& folder);
bool is_hf_whisper_folder(const std::string& folder);
bool is_ct2_whisper_folder(const std::string& folder);
bool is_whisper_gguf(const std::string& path);

// Encoder: mel [n_mels][3000] -> out [n_audio_ctx][n_audio_state].
void encode(KernelContext& ctx, const Model& m, const float* mel, std::vector<float>& out);

// The encoder output projected by every decoder layer's cross-attention keys and values, per head:
// k [layer][head][n_audio_ctx][head_dim], vt [layer][head][head_dim][n_audio_ctx].
struct CrossKv {
  int n_ctx = 0;
  std::vector<float> k, vt;
};
void cross_kv(KernelContext& ctx, const Model& m, const std::vector<float>& enc_out, CrossKv& out);

// The decoder's self-attention cache of one sequence: k, v [layer][n_text_ctx][n_text_state].
struct DecoderCache {
  int n = 0;  // positions filled
  std::vector<float> k, v;
  void reset(const HParams& hp);
};

// Runs `n` tokens at positions cache.n ... through the decoder, appending to the cache. logits gets
// [n][n_vocab] when all_logits, else the last token's [n_vocab]. pj::Error past n_text_ctx.
void decode(KernelContext& ctx, const Model& m, const CrossKv& xkv, DecoderCache& cache, const int32_t* tokens,
            int n, bool all_logits, std::vector<float>& logits);

// A whole sequence decoded from an empty cache, keeping the cross-attention of the given (layer, head)
// pairs (word timestamps): qk gets [heads.size()][n][n_audio_ctx], the scores q.k / sqrt(head_dim) before
// the softmax; logits [n][n_vocab].
void decode_cross_qk(KernelContext& ctx, const Model& m, const CrossKv& xkv, const int32_t* tokens, int n,
                     const std::vector<std::pair<int, int>>& heads, std::vector<float>& qk, std::vector<float>& logits);

// One token for each of several sequences (a beam) in one pass: tokens[i] goes to caches[i] (distinct
// caches). logits gets [n][n_vocab].
void decode_batch(KernelContext& ctx, const Model& m, const CrossKv& xkv, const std::vector<DecoderCache*>& caches,
                  const int32_t* tokens, std::vector<float>& logits);

}  // namespace pj::whisper
