// Scaled dot-product attention over a KV cache, with grouped-query heads, causal and sliding-window
// masks and logit soft-capping (Gemma 2). Works on a range of query heads so the caller can split the
// heads across threads.
#pragma once

#include <cstdint>

#include "core/kernels/kernel_table.h"

namespace pj::ops {

enum class KvType { f32, f16 };

struct AttentionParams {
  int n_head = 0, n_head_kv = 0, head_dim = 0;
  float scale = 1.0f;    // applied to q.k
  float softcap = 0.0f;  // > 0: scores become softcap * tanh(score / softcap)
  int window = 0;        // > 0: a query at position p sees keys at positions p - window + 1 .. p
};

// One layer's cache: row r holds position r, n_head_kv * head_dim values, in `type`.
struct KvView {
  const void* k = nullptr;
  const void* v = nullptr;
  KvType type = KvType::f16;
  int64_t row_stride = 0;  // elements between positions
};

// q:   [n_tokens, n_head, head_dim], token t at position pos0 + t (its keys must already be cached)
// out: [n_tokens, n_head, head_dim]
// scratch: at least attention_scratch_floats(p, n_tokens, pos0 + n_tokens) floats
//
// The arithmetic is llama.cpp's (no flash attention): scores q.k as ggml_vec_dot_f32, times scale,
// softmax with ggml's expf and double sum, then the V sum in llamafile sgemm's order; with an F16
// cache q and the probabilities are rounded to f16 first, as ggml converts them to the cache type.
// The kernels come from `ops` (kernel_table.h), so every ISA gives the same bits. Prompt batches score
// 16 keys per call (attn_dot16, keys transposed a chunk at a time, shared by a block of queries and the
// heads of a KV group); one token at a time goes key by key (attn_dot). Both give the same bits.
void attention_heads(const OpsTable& ops, const AttentionParams& p, const float* q, int n_tokens,
                     int64_t pos0, const KvView& kv, float* out, int head_begin, int head_end,
                     float* scratch);
int64_t attention_scratch_floats(const AttentionParams& p, int n_tokens, int64_t n_pos);

}  // namespace pj::ops
