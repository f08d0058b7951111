// Ops for vision transformers (ViT, CLIP) on the kernels: patch embedding (a conv2d whose stride equals its
// kernel, as im2col + matmul), self-attention over a whole sequence (bidirectional, or causal for CLIP's
// text tower), exact and quick GELU.
#pragma once

#include <cstdint>
#include <vector>

#include "core/base/ggml_types.h"

namespace pj {
class KernelContext;
}

namespace pj::ops {

// pixels: (C, H, W) f32. weight: (dim, C * p * p) of wtype (a PyTorch conv weight [dim, C, p, p] flattened).
// bias: dim floats or nullptr. out: (n_patches, dim), patches in row-major order of the (H/p, W/p) grid.
void patch_embed(KernelContext& ctx, const float* pixels, int channels, int height, int width, int patch,
                 GgmlType wtype, const void* weight, const float* bias, int dim, float* out);

// q, k, v: (n, n_head * head_dim), token-major (as a Linear produces them). out: same layout.
// scale multiplies q.k; causal: token i sees tokens 0..i.
void self_attention(KernelContext& ctx, const float* q, const float* k, const float* v, int64_t n, int n_head,
                    int head_dim, float scale, bool causal, float* out);

// x * 0.5 * (1 + erf(x / sqrt(2))) (PyTorch's GELU, "gelu" in HF configs).
void gelu_exact(const float* x, float* out, int64_t n);
// x * sigmoid(1.702 x) ("quick_gelu", CLIP).
void quick_gelu(const float* x, float* out, int64_t n);

}  // namespace pj::ops
