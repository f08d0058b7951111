// An inference session over one LlmModel: the KV cache, scratch buffers and the forward pass.
// Not thread-safe; one session per conversation (they can share a model).
#pragma once

#include "core/kernels/context.h"
#include "core/ops/attention.h"
#include "models/llm/model.h"

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace pj::llm {

struct SessionOptions {
  int64_t n_ctx = 4096;                  // KV cache positions (clamped to the training context)
  ops::KvType kv_type = ops::KvType::f16;
  // Called with the hidden states (n, n_embd) after the embedding (layer 0) and after each layer i
  // (layer i + 1), for tests that compare intermediate tensors with a reference.
  std::function<void(int64_t layer, const float* x, int64_t n)> on_hidden;
  // Called before each weight matmul with the weight's GGUF name and its input x (n_rows, n_cols),
  // e.g. to collect an importance matrix (models/imatrix). Unset: no cost.
  std::function<void(std::string_view weight, const float* x, int64_t n_rows, int64_t n_cols)> on_matmul;
};

class LlmSession {
 public:
  LlmSession(const LlmModel& model, KernelContext& ctx, SessionOptions opts = {});

  // Runs `tokens` at positions n_past()..n_past()+n-1, appends them to the cache and returns the
  // logits of the last token ([n_vocab]), or of every token ([n, n_vocab]) when all_logits is set.
  std::span<const float> decode(std::span<const int32_t> tokens, bool all_logits = false);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  // Forgets positions >= n (n <= n_past), e.g. to reuse a common prompt prefix.
  void truncate(int64_t n);
  const LlmModel& model() const { return model_; }

 private:
  void matmul(const Weight& w, const float* x, int64_t n, float* y);
  void add_bias(const Weight& b, float* y, int64_t n);
  void rms_norm_rows(const float* x, const Weight& w, float* out, int64_t n_rows, int64_t n);
  void attention_layer(int64_t il, int64_t n);

  const LlmModel& model_;
  KernelContext& ctx_;
  SessionOptions opts_;
  int64_t n_ctx_ = 0, n_past_ = 0;
  std::vector<uint8_t> k_cache_, v_cache_;  // [n_layer][n_ctx][kv_dim]
  std::vector<float> x_, h_, q_, k_, v_, att_, o_, gate_, up_, logits_, scratch_;
  std::vector<float> cos_, sin_;
};

}  // namespace pj::llm
