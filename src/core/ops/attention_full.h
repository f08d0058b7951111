// Attention without a cache or mask (an encoder's self-attention, a decoder's cross-attention) as two
// matmuls per head on the f32 kernels: scores = Q_h K_h^T, out_h = softmax(scores) V_h.
#pragma once

#include <cstdint>
#include <vector>

namespace pj {
class KernelContext;
}

namespace pj::ops {

// q:   [n_q][n_head * head_dim] (queries, already scaled)
// k:   [n_head][n_kv][head_dim]    (per-head contiguous keys)
// vt:  [n_head][head_dim][n_kv]    (per-head values, transposed)
// out: [n_q][n_head * head_dim]
// scratch: resized as needed.
void attention_full(KernelContext& ctx, const float* q, int64_t n_q, const float* k, const float* vt,
                    int64_t n_kv, int n_head, int head_dim, float* out, std::vector<float>& scratch);

// Rearranges x [n][n_head * head_dim] into per-head k [n_head][n][head_dim] or vt [n_head][head_dim][n].
void split_heads(const float* x, int64_t n, int n_head, int head_dim, float* k);
void split_heads_transposed(const float* x, int64_t n, int n_head, int head_dim, float* vt);

}  // namespace pj::ops
