// Scalar reference element-wise ops; the SIMD variants in the kernel table are tested against these.
#pragma once

#include <cstdint>

namespace pj {

void rms_norm_ref(const float* x, const float* w, float* out, int64_t n, float eps);
void layer_norm_ref(const float* x, const float* w, const float* b, float* out, int64_t n, float eps);
void softmax_ref(const float* x, float* out, int64_t n);
void silu_ref(const float* x, float* out, int64_t n);
void gelu_tanh_ref(const float* x, float* out, int64_t n);

}  // namespace pj
