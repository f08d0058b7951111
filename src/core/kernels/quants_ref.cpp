// Scalar reference quantizers, dequantizers and dot products (see quants_ref.h).
#include "core/kernels/quants_ref.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/base/half.h"
#include "core/kernels/iquants_ref.h"
#include "core/kernels/kernel_table.h"
#include "core/kernels/kquants_ref.h"

namespace pj {
namespace {

constexpr int kHalf = kQK / 2;

// The block element with the largest magnitude, keeping its sign (first one on ties, as llama.cpp).
float signed_absmax(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float& lo, float& hi) {
  lo = FLT_MAX;
  hi = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    lo = std::fmin(lo, x[j]);
    hi = std::fmax(hi, x[j]);
  }
}

inline float inverse_or_zero(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// The 5th bits of a Q5 block as one integer (bit j = element j), stored little-endian.
inline uint32_t load_qh(const uint8_t* qh) {
  return uint32_t(qh[0]) | uint32_t(qh[1]) << 8 | uint32_t(qh[2]) << 16 | uint32_t(qh[3]) << 24;
}
inline void store_qh(uint8_t* qh, uint32_t v) {
  for (int i = 0; i < 4; ++i) qh[i] = uint8_t(v >> (8 * i));
}

// Element j of a Q4 block as an unsigned nibble.
inline int nibble(const uint8_t* qs, int j) { return j < kHalf ? (qs[j] & 0x0f) : (qs[j - kHalf] >> 4); }
inline int q5_value(const uint8_t* qs, uint32_t qh, int j) { return nibble(qs, j) | int((qh >> j) & 1) << 4; }

}  // namespace

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float d = signed_absmax(x) / -8;
    const float id = inverse_or_zero(d);
    y[b].d = f32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {
      // truncation after +8.5 rounds to nearest; the max element maps to -8 -> 0 after the offset
      const int lo = std::min(15, int(int8_t(x[j] * id + 8.5f)));
      const int hi = std::min(15, int(int8_t(x[j + kHalf] * id + 8.5f)));
      y[b].qs[j] = uint8_t(lo | hi << 4);
    }
  }
}

void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float lo, hi;
    min_max(x, lo, hi);
    const float d = (hi - lo) / 15;
    const float id = inverse_or_zero(d);
    y[b].d = f32_to_fp16(d);
    y[b].m = f32_to_fp16(lo);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = std::min(15, int(int8_t((x[j] - lo) * id + 0.5f)));
      const int q1 = std::min(15, int(int8_t((x[j + kHalf] - lo) * id + 0.5f)));
      y[b].qs[j] = uint8_t(q0 | q1 << 4);
    }
  }
}

void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    const float d = signed_absmax(x) / -16;
    const float id = inverse_or_zero(d);
    y[b].d = f32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = std::min(31, int(int8_t(x[j] * id + 16.5f)));
      const int q1 = std::min(31, int(int8_t(x[j + kHalf] * id + 16.5f)));
      y[b].qs[j] = uint8_t((q0 & 0x0f) | (q1 & 0x0f) << 4);
      qh |= uint32_t(q0 >> 4) << j | uint32_t(q1 >> 4) << (j + kHalf);
    }
    store_qh(y[b].qh, qh);
  }
}

void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float lo, hi;
    min_max(x, lo, hi);
    const float d = (hi - lo) / 31;
    const float id = inverse_or_zero(d);
    y[b].d = f32_to_fp16(d);
    y[b].m = f32_to_fp16(lo);
    uint32_t qh = 0;
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = std::min(31, int(uint8_t((x[j] - lo) * id + 0.5f)));
      const int q1 = std::min(31, int(uint8_t((x[j + kHalf] - lo) * id + 0.5f)));
      y[b].qs[j] = uint8_t((q0 & 0x0f) | (q1 & 0x0f) << 4);
      qh |= uint32_t(q0 >> 4) << j | uint32_t(q1 >> 4) << (j + kHalf);
    }
    store_qh(y[b].qh, qh);
  }
}

void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = inverse_or_zero(d);
    y[b].d = f32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) y[b].qs[j] = int8_t(std::round(x[j] * id));  // half away from zero
  }
}

void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = inverse_or_zero(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[b].qs[j] = int8_t(std::round(x[j] * id));
      sum += y[b].qs[j];
    }
    y[b].d = f32_to_fp16(d);
    y[b].s = f32_to_fp16(float(sum) * d);  // uses the unrounded d, as llama.cpp does
  }
}

// ggml-cpu's x86 quantize_row_q8_0/q8_1 (arch/x86/quants.c), which llama.cpp runs on activations:
// id = 127/amax rather than 1/d, and _mm256_round_ps rounds half to even.
void quantize_row_q8_0_act(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[b].d = f32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) y[b].qs[j] = int8_t(std::nearbyint(x[j] * id));
  }
}

void quantize_row_q8_1_act(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[b].qs[j] = int8_t(std::nearbyint(x[j] * id));
      sum += y[b].qs[j];
    }
    y[b].d = f32_to_fp16(d);
    y[b].s = f32_to_fp16(d * float(sum));
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = float(nibble(x[b].qs, j) - 8) * d;
  }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d), m = fp16_to_f32(x[b].m);
    for (int j = 0; j < kQK; ++j) y[j] = float(nibble(x[b].qs, j)) * d + m;
  }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    const uint32_t qh = load_qh(x[b].qh);
    for (int j = 0; j < kQK; ++j) y[j] = float(q5_value(x[b].qs, qh, j) - 16) * d;
  }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d), m = fp16_to_f32(x[b].m);
    const uint32_t qh = load_qh(x[b].qh);
    for (int j = 0; j < kQK; ++j) y[j] = float(q5_value(x[b].qs, qh, j)) * d + m;
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = float(x[b].qs[j]) * d;
  }
}

void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = float(x[b].qs[j]) * d;
  }
}

float vec_dot_q4_0_q8_0_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += (nibble(x[b].qs, j) - 8) * y[b].qs[j];
    sum += float(sumi) * (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d));
  }
  return sum;
}

float vec_dot_q4_1_q8_1_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_1*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += nibble(x[b].qs, j) * y[b].qs[j];
    sum += float(sumi) * (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d)) +
           fp16_to_f32(x[b].m) * fp16_to_f32(y[b].s);
  }
  return sum;
}

float vec_dot_q5_0_q8_0_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const uint32_t qh = load_qh(x[b].qh);
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += (q5_value(x[b].qs, qh, j) - 16) * y[b].qs[j];
    sum += float(sumi) * (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d));
  }
  return sum;
}

float vec_dot_q5_1_q8_1_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_1*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const uint32_t qh = load_qh(x[b].qh);
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += q5_value(x[b].qs, qh, j) * y[b].qs[j];
    sum += float(sumi) * (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d)) +
           fp16_to_f32(x[b].m) * fp16_to_f32(y[b].s);
  }
  return sum;
}

float vec_dot_q8_0_q8_0_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ8_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += int(x[b].qs[j]) * y[b].qs[j];
    sum += float(sumi) * (fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d));
  }
  return sum;
}

float vec_dot_f32_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const float*>(vx);
  const auto* y = static_cast<const float*>(vy);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

// F16 weights meet f32 activations: the activation needs no conversion and loses no precision.
float vec_dot_f16_f32_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const uint16_t*>(vx);
  const auto* y = static_cast<const float*>(vy);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += fp16_to_f32(x[i]) * y[i];
  return sum;
}

// BF16 weights meet BF16 activations so that AVX-512 BF16 can use vdpbf16ps; the products of two
// bf16 values are exact in f32.
float vec_dot_bf16_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const uint16_t*>(vx);
  const auto* y = static_cast<const uint16_t*>(vy);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += bf16_to_f32(x[i]) * bf16_to_f32(y[i]);
  return sum;
}

namespace {

template <typename Block, void (*Fn)(const float*, Block*, int64_t)>
void from_float_erased(const float* x, void* y, int64_t n) {
  Fn(x, static_cast<Block*>(y), n);
}
template <typename Block, void (*Fn)(const Block*, float*, int64_t)>
void to_float_erased(const void* x, float* y, int64_t n) {
  Fn(static_cast<const Block*>(x), y, n);
}

void f32_to_float(const void* x, float* y, int64_t n) { std::memcpy(y, x, size_t(n) * sizeof(float)); }
void f32_from_float(const float* x, void* y, int64_t n) { std::memcpy(y, x, size_t(n) * sizeof(float)); }
void f16_to_float(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(vx);
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_f32(x[i]);
}
void f16_from_float(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint16_t*>(vy);
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}
void bf16_to_float(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(vx);
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}
void bf16_from_float(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<uint16_t*>(vy);
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

void set(KernelTable& t, GgmlType type, ToFloatFn to, FromFloatFn from, VecDotFn dot, GgmlType dot_type) {
  const GgmlTypeInfo& info = ggml_type_info(type);
  TypeTraits& tr = t.types[size_t(type)];
  tr.type = type;
  tr.supported = true;
  tr.block_size = info.block_size;
  tr.type_size = info.type_size;
  tr.to_float = to;
  tr.from_float_ref = from;
  tr.vec_dot = dot;
  tr.vec_dot_type = dot_type;
}

}  // namespace

void install_ops_scalar(OpsTable& ops);  // ops_ref.cpp

void install_scalar(KernelTable& t) {
  for (const GgmlTypeInfo& info : kGgmlTypes) {
    TypeTraits& tr = t.types[size_t(info.type)];
    tr.type = info.type;
    tr.block_size = info.block_size;
    tr.type_size = info.type_size;
  }
  using T = GgmlType;
  set(t, T::F32, f32_to_float, f32_from_float, vec_dot_f32_ref, T::F32);
  set(t, T::F16, f16_to_float, f16_from_float, vec_dot_f16_f32_ref, T::F32);
  set(t, T::BF16, bf16_to_float, bf16_from_float, vec_dot_bf16_ref, T::BF16);
  set(t, T::Q4_0, to_float_erased<BlockQ4_0, dequantize_row_q4_0>,
      from_float_erased<BlockQ4_0, quantize_row_q4_0_ref>, vec_dot_q4_0_q8_0_ref, T::Q8_0);
  set(t, T::Q4_1, to_float_erased<BlockQ4_1, dequantize_row_q4_1>,
      from_float_erased<BlockQ4_1, quantize_row_q4_1_ref>, vec_dot_q4_1_q8_1_ref, T::Q8_1);
  set(t, T::Q5_0, to_float_erased<BlockQ5_0, dequantize_row_q5_0>,
      from_float_erased<BlockQ5_0, quantize_row_q5_0_ref>, vec_dot_q5_0_q8_0_ref, T::Q8_0);
  set(t, T::Q5_1, to_float_erased<BlockQ5_1, dequantize_row_q5_1>,
      from_float_erased<BlockQ5_1, quantize_row_q5_1_ref>, vec_dot_q5_1_q8_1_ref, T::Q8_1);
  set(t, T::Q8_0, to_float_erased<BlockQ8_0, dequantize_row_q8_0>,
      from_float_erased<BlockQ8_0, quantize_row_q8_0_ref>, vec_dot_q8_0_q8_0_ref, T::Q8_0);
  // Q8_1 is an activation type only: llama.cpp has no Q8_1 x Q8_1 dot either.
  set(t, T::Q8_1, to_float_erased<BlockQ8_1, dequantize_row_q8_1>,
      from_float_erased<BlockQ8_1, quantize_row_q8_1_ref>, nullptr, T::Q8_1);
  t.types[size_t(T::Q8_0)].from_float = from_float_erased<BlockQ8_0, quantize_row_q8_0_act>;
  t.types[size_t(T::Q8_1)].from_float = from_float_erased<BlockQ8_1, quantize_row_q8_1_act>;
  install_iquants_scalar(t);  // IQ, ternary and MXFP4 types (iquants_quantize.cpp)
  install_kquants_scalar(t);  // K-quants, Q8_K, importance-weighted legacy quantizers (kquants_ref.cpp)
  install_ops_scalar(t.ops);
}

}  // namespace pj
