#include "core/ops/ops_vision.h"

#include <algorithm>
#include <cmath>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/kernels/matmul.h"

namespace pj::ops {

void patch_embed(KernelContext& ctx, const float* pixels, int C, int H, int W, int p, GgmlType wtype,
                 const void* weight, const float* bias, int dim, float* out) {
  if (p <= 0 || H % p || W % p) fail("patch_embed: image {}x{} is not a multiple of the patch size {}", W, H, p);
  int gh = H / p, gw = W / p;
  int64_t n = int64_t(gh) * gw, cols = int64_t(C) * p * p;
  std::vector<float> patches(size_t(n * cols));  // (n_patches, C * p * p), im2col
  for (int py = 0; py < gh; ++py)
    for (int px = 0; px < gw; ++px) {
      float* row = &patches[size_t((int64_t(py) * gw + px) * cols)];
      for (int c = 0; c < C; ++c)
        for (int ky = 0; ky < p; ++ky) {
          const float* src = pixels + (size_t(c) * H + size_t(py) * p + ky) * W + size_t(px) * p;
          std::copy(src, src + p, row + (size_t(c) * p + ky) * p);
        }
    }
  matmul(ctx, wtype, weight, dim, cols, patches.data(), n, out);
  if (bias)
    for (int64_t i = 0; i < n; ++i)
      for (int d = 0; d < dim; ++d) out[i * dim + d] += bias[d];
}

void self_attention(KernelContext& ctx, const float* q, const float* k, const float* v, int64_t n, int n_head,
                    int head_dim, float scale, bool causal, float* out) {
  int64_t width = int64_t(n_head) * head_dim;
  std::vector<float> qh(size_t(n * head_dim)), kh(size_t(n * head_dim)), vt(size_t(n * head_dim));
  std::vector<float> scores(size_t(n * n)), oh(size_t(n * head_dim));
  for (int h = 0; h < n_head; ++h) {
    // (n, head_dim) slices of this head; values transposed to (head_dim, n) so that out = P V is a matmul
    // with vt as the "weight".
    for (int64_t t = 0; t < n; ++t)
      for (int d = 0; d < head_dim; ++d) {
        qh[t * head_dim + d] = q[t * width + h * head_dim + d] * scale;
        kh[t * head_dim + d] = k[t * width + h * head_dim + d];
        vt[d * n + t] = v[t * width + h * head_dim + d];
      }
    matmul(ctx, GgmlType::F32, kh.data(), n, head_dim, qh.data(), n, scores.data());  // (n_q, n_k)
    for (int64_t t = 0; t < n; ++t) {
      float* s = &scores[t * n];
      int64_t seen = causal ? t + 1 : n;
      ctx.ops().softmax(s, s, seen);
      std::fill(s + seen, s + n, 0.0f);
    }
    matmul(ctx, GgmlType::F32, vt.data(), head_dim, n, scores.data(), n, oh.data());  // (n_q, head_dim)
    for (int64_t t = 0; t < n; ++t)
      std::copy(&oh[t * head_dim], &oh[t * head_dim] + head_dim, out + t * width + h * head_dim);
  }
}

void gelu_exact(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void quick_gelu(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] / (1.0f + std::exp(-1.702f * x[i]));
}

}  // namespace pj::ops
