// Scalar reference element-wise ops (signatures and formulas in kernel_table.h, OpsTable).
#include <cmath>

#include "core/kernels/kernel_table.h"
#include "core/kernels/ops_ref.h"

namespace pj {

void rms_norm_ref(const float* x, const float* w, float* out, int64_t n, float eps) {
  double ss = 0.0;  // double: the reference should not depend on summation order
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float scale = float(1.0 / std::sqrt(ss / double(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void layer_norm_ref(const float* x, const float* w, const float* b, float* out, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / double(n);
  double var = 0.0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float scale = float(1.0 / std::sqrt(var / double(n) + eps));
  const float m = float(mean);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - m) * scale * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

void softmax_ref(const float* x, float* out, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::exp(x[i] - max);
    sum += out[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) out[i] *= inv;
}

void silu_ref(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void gelu_tanh_ref(const float* x, float* out, int64_t n) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    out[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
  }
}

void install_ops_scalar(OpsTable& ops) {
  ops.rms_norm = rms_norm_ref;
  ops.layer_norm = layer_norm_ref;
  ops.softmax = softmax_ref;
  ops.silu = silu_ref;
  ops.gelu_tanh = gelu_tanh_ref;
}

}  // namespace pj
