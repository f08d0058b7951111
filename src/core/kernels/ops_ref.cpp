// Scalar reference element-wise ops (signatures and formulas in kernel_table.h, OpsTable).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/half.h"
#include "core/kernels/kernel_table.h"
#include "core/kernels/ops_ref.h"

namespace pj {

void rms_norm_ref(const float* x, const float* w, float* out, int64_t n, float eps) {
  // ggml's order (ggml_compute_forward_rms_norm_f32): float squares summed in double, the mean
  // rounded to float, the scale in float. Every ISA uses this function: it is cheap next to a matmul.
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i] * x[i]);
  const float mean = float(ss / double(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void rms_norm_rows_ref(const float* x, const float* w, float* out, int64_t rows, int64_t n, float eps) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* xr[4] = {x + r * n, x + (r + 1) * n, x + (r + 2) * n, x + (r + 3) * n};
    double ss[4] = {0.0, 0.0, 0.0, 0.0};  // four independent serial sums, each in rms_norm_ref's order
    for (int64_t i = 0; i < n; ++i)
      for (int k = 0; k < 4; ++k) ss[k] += double(xr[k][i] * xr[k][i]);
    for (int k = 0; k < 4; ++k) {
      const float mean = float(ss[k] / double(n));
      const float scale = 1.0f / std::sqrt(mean + eps);
      float* o = out + (r + k) * n;
      for (int64_t i = 0; i < n; ++i) o[i] = xr[k][i] * scale * (w ? w[i] : 1.0f);
    }
  }
  for (; r < rows; ++r) rms_norm_ref(x + r * n, w, out + r * n, n, eps);
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

float ggml_expf_ref(float x) {
  // ggml_v_expf (ggml-cpu/vec.h, AVX-512 form; constants from there, after ARM's optimized-routines
  // expf): x = n ln2 + b, exp(b) by a degree-5 polynomial, then scaled by 2^n (vscalefps).
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  if (std::isnan(n)) return n;
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  return std::ldexp(j, int(n));
}

float lane_tree_ref(const float* a) {
  // _mm512_reduce_add_ps: halves added (8), halves again (4), then (0+2) + (1+3).
  float t8[8], t4[4];
  for (int i = 0; i < 8; ++i) t8[i] = a[i + 8] + a[i];
  for (int i = 0; i < 4; ++i) t4[i] = t8[i + 4] + t8[i];
  return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

void swiglu_ref(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.0f + ggml_expf_ref(0.0f - g[i])) * u[i];
}

namespace {
inline float kv_value(const void* p, bool f16, int64_t i) {
  return f16 ? fp16_to_f32(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}
}  // namespace

float attn_dot_ref(const float* q, const void* k, bool k_f16, int64_t n) {
  float acc[4][16] = {};
  const int64_t np = n & ~int64_t(63);
  for (int64_t i = 0; i < np; i += 64)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 16; ++l) {
        const int64_t e = i + 16 * j + l;
        acc[j][l] = std::fma(q[e], kv_value(k, k_f16, e), acc[j][l]);
      }
  for (int l = 0; l < 16; ++l) {
    acc[0][l] += acc[2][l];
    acc[1][l] += acc[3][l];
    acc[0][l] += acc[1][l];
  }
  float sum = lane_tree_ref(acc[0]);
  // fused: ggml-cpu is built with FMA and GCC contracts its `sumf += x[i]*y[i]`
  for (int64_t i = np; i < n; ++i) sum = std::fma(q[i], kv_value(k, k_f16, i), sum);
  return sum;
}

void attn_dot16_ref(const float* q, const float* kt, int64_t n, float scale, float* out) {
  // attn_dot_ref's acc[j][l] for key i is c[l][i] after its fold; n % 64 == 0, so no tail.
  float c[16][16];
  for (int l = 0; l < 16; ++l)
    for (int i = 0; i < 16; ++i) {
      float acc[4] = {};
      for (int64_t b = 0; b < n; b += 64)
        for (int j = 0; j < 4; ++j) {
          const int64_t e = b + 16 * j + l;
          acc[j] = std::fma(q[e], kt[e * 16 + i], acc[j]);
        }
      c[l][i] = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    }
  for (int i = 0; i < 16; ++i) {
    float lanes[16];
    for (int l = 0; l < 16; ++l) lanes[l] = c[l][i];
    out[i] = lane_tree_ref(lanes) * scale;
  }
}

void attn_kt16_ref(const void* k, bool k_f16, int64_t stride, int n_rows, int hd, float* kt) {
  for (int i = 0; i < 16; ++i)
    for (int e = 0; e < hd; ++e) kt[e * 16 + i] = i < n_rows ? kv_value(k, k_f16, i * stride + e) : 0.0f;
}

float max_f32_ref(const float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  return mx;
}

void f16_to_f32_ref(const uint16_t* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fp16_to_f32(x[i]);
}

void scale_f32_ref(float* x, int64_t n, float s, bool round_f16) {
  for (int64_t i = 0; i < n; ++i) x[i] = round_f16 ? fp16_round(x[i] * s) : x[i] * s;
}

double exp_sum_ref(const float* x, float* out, int64_t n, float max) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    float lanes[16] = {};
    for (int l = 0; l < 16 && i + l < n; ++l) lanes[l] = out[i + l] = ggml_expf_ref(x[i + l] - max);
    sum += double(lane_tree_ref(lanes));
  }
  return sum;
}

void attn_accumulate_ref(const float* p, const void* v, bool v_f16, int64_t stride, int64_t first,
                         int64_t last, int hd, float* out) {
  for (int d = 0; d < hd; ++d) {
    float lanes[16] = {};
    for (int64_t j = first; j <= last; ++j)
      lanes[j % 16] = std::fma(kv_value(v, v_f16, j * stride + d), p[j], lanes[j % 16]);
    out[d] = lane_tree_ref(lanes);
  }
}

void install_ops_scalar(OpsTable& ops) {
  ops.rms_norm = rms_norm_ref;
  ops.rms_norm_rows = rms_norm_rows_ref;
  ops.layer_norm = layer_norm_ref;
  ops.softmax = softmax_ref;
  ops.silu = silu_ref;
  ops.gelu_tanh = gelu_tanh_ref;
  ops.swiglu = swiglu_ref;
  ops.attn_dot = attn_dot_ref;
  ops.attn_dot16 = attn_dot16_ref;
  ops.attn_kt16 = attn_kt16_ref;
  ops.max_f32 = max_f32_ref;
  ops.f16_to_f32 = f16_to_f32_ref;
  ops.scale_f32 = scale_f32_ref;
  ops.exp_sum = exp_sum_ref;
  ops.attn_accumulate = attn_accumulate_ref;
}

}  // namespace pj
