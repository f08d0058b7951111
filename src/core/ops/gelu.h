// GELU with the exact Gaussian CDF (PyTorch's nn.GELU() default, Whisper's activation):
// x * 0.5 * (1 + erf(x / sqrt(2))). The tanh approximation is in the kernel table (gelu_tanh).
#pragma once

#include <cstdint>

namespace pj::ops {

void gelu_erf(const float* x, float* out, int64_t n);

}  // namespace pj::ops
