#include "core/ops/gelu.h"

#include <cmath>

namespace pj::ops {

void gelu_erf(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * float(M_SQRT1_2)));
}

}  // namespace pj::ops
