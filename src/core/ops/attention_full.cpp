#include "core/ops/attention_full.h"

#include "core/kernels/context.h"
#include "core/kernels/matmul.h"

namespace pj::ops {

void split_heads(const float* x, int64_t n, int n_head, int head_dim, float* k) {
  const int64_t d = int64_t(n_head) * head_dim;
  for (int h = 0; h < n_head; ++h)
    for (int64_t t = 0; t < n; ++t)
      for (int i = 0; i < head_dim; ++i) k[(h * n + t) * head_dim + i] = x[t * d + h * head_dim + i];
}

void split_heads_transposed(const float* x, int64_t n, int n_head, int head_dim, float* vt) {
  const int64_t d = int64_t(n_head) * head_dim;
  for (int h = 0; h < n_head; ++h)
    for (int i = 0; i < head_dim; ++i)
      for (int64_t t = 0; t < n; ++t) vt[(int64_t(h) * head_dim + i) * n + t] = x[t * d + h * head_dim + i];
}

void attention_full(KernelContext& ctx, const float* q, int64_t n_q, const float* k, const float* vt,
                    int64_t n_kv, int n_head, int head_dim, float* out, std::vector<float>& scratch) {
  const int64_t d = int64_t(n_head) * head_dim;
  const size_t qh_size = size_t(n_q * head_dim), sc_size = size_t(n_q * n_kv);
  scratch.resize(2 * qh_size + sc_size);
  float* qh = scratch.data();
  float* oh = qh + qh_size;
  float* scores = oh + qh_size;
  const auto softmax = ctx.ops().softmax;
  for (int h = 0; h < n_head; ++h) {
    for (int64_t t = 0; t < n_q; ++t)
      for (int i = 0; i < head_dim; ++i) qh[t * head_dim + i] = q[t * d + h * head_dim + i];
    matmul(ctx, GgmlType::F32, k + int64_t(h) * n_kv * head_dim, n_kv, head_dim, qh, n_q, scores);
    ctx.pool().parallel_for(n_q, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) softmax(scores + t * n_kv, scores + t * n_kv, n_kv);
    });
    matmul(ctx, GgmlType::F32, vt + int64_t(h) * head_dim * n_kv, head_dim, n_kv, scores, n_q, oh);
    for (int64_t t = 0; t < n_q; ++t)
      for (int i = 0; i < head_dim; ++i) out[t * d + h * head_dim + i] = oh[t * head_dim + i];
  }
}

}  // namespace pj::ops
