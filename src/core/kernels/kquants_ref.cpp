// K-quant dequantizers, scalar dot products with Q8_K, and the table rows (see kquants_ref.h).
// Each block is first unpacked into signed integer values and per-sub-block integer scales; the
// dequantizers then apply ggml's float expressions (so that they equal gguf-py's numpy
// dequantization bit for bit) and the dot products sum integers exactly per super-block.
#include "core/kernels/kquants_ref.h"

#include <cmath>
#include <cstring>

#include "core/base/half.h"
#include "core/kernels/kquants_simd.h"

namespace pj {

void kq_scale_min(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

void q3_k_scales(const uint8_t* packed, int8_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = int8_t((low | high << 4) - 32);
  }
}

namespace {

inline float h2f(uint16_t h) { return fp16_to_f32(h); }

// 2-bit field of element j (0..255) in Q2_K/Q3_K's qs.
inline int q2_bits(const uint8_t* qs, int j) { return (qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3; }

void unpack_q2_k(const BlockQ2_K& b, int8_t* q) {
  for (int j = 0; j < kQK_K; ++j) q[j] = int8_t(q2_bits(b.qs, j));
}
void unpack_q3_k(const BlockQ3_K& b, int8_t* q) {
  for (int j = 0; j < kQK_K; ++j) q[j] = int8_t(q2_bits(b.qs, j) - ((b.hmask[j % 32] >> (j / 32)) & 1 ? 0 : 4));
}
void unpack_q4_k(const BlockQ4_K& b, int8_t* q) {
  for (int j = 0; j < kQK_K; ++j) {
    const uint8_t byte = b.qs[32 * (j / 64) + j % 32];
    q[j] = int8_t(j % 64 < 32 ? byte & 0xF : byte >> 4);
  }
}
void unpack_q5_k(const BlockQ5_K& b, int8_t* q) {
  for (int j = 0; j < kQK_K; ++j) {
    const uint8_t byte = b.qs[32 * (j / 64) + j % 32];
    const int low = j % 64 < 32 ? byte & 0xF : byte >> 4;
    q[j] = int8_t(low | ((b.qh[j % 32] >> (j / 32)) & 1) << 4);
  }
}
void unpack_q6_k(const BlockQ6_K& b, int8_t* q) {
  for (int j = 0; j < kQK_K; ++j) {
    const int chunk = j / 128, e = j % 128, l = e % 32, quarter = e / 32;
    const uint8_t lo = b.ql[64 * chunk + l + (quarter & 1) * 32];
    const int low = quarter < 2 ? lo & 0xF : lo >> 4;
    const int high = (b.qh[32 * chunk + l] >> (2 * quarter)) & 3;
    q[j] = int8_t((low | high << 4) - 32);
  }
}

}  // namespace

void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t n) {
  int8_t q[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_q2_k(x[i], q);
    const float d = h2f(x[i].d), min = h2f(x[i].dmin);
    for (int s = 0; s < 16; ++s) {
      const float dl = d * float(x[i].scales[s] & 0xF), ml = min * float(x[i].scales[s] >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * float(q[16 * s + l]) - ml;
    }
  }
}

void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t n) {
  int8_t q[kQK_K], sc[16];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_q3_k(x[i], q);
    q3_k_scales(x[i].scales, sc);
    const float d = h2f(x[i].d);
    for (int s = 0; s < 16; ++s) {
      const float dl = d * float(sc[s]);
      for (int l = 0; l < 16; ++l) *y++ = dl * float(q[16 * s + l]);
    }
  }
}

void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
  int8_t q[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_q4_k(x[i], q);
    const float d = h2f(x[i].d), min = h2f(x[i].dmin);
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      kq_scale_min(s, x[i].scales, sc, m);
      const float d1 = d * float(sc), m1 = min * float(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[32 * s + l]) - m1;
    }
  }
}

void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n) {
  int8_t q[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_q5_k(x[i], q);
    const float d = h2f(x[i].d), min = h2f(x[i].dmin);
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, m;
      kq_scale_min(s, x[i].scales, sc, m);
      const float d1 = d * float(sc), m1 = min * float(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[32 * s + l]) - m1;
    }
  }
}

void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
  int8_t q[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_q6_k(x[i], q);
    const float d = h2f(x[i].d);
    for (int s = 0; s < 16; ++s)
      for (int l = 0; l < 16; ++l) *y++ = d * float(x[i].scales[s]) * float(q[16 * s + l]);
  }
}

void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) *y++ = x[i].d * float(x[i].qs[j]);
}

// Every K-quant dot follows ggml-cpu's x86 order (the AVX2 path of ggml_vec_dot_q{2,3,4,5,6}_K_q8_K in
// ggml-cpu/arch/x86/quants.c, which llama.cpp runs on every AVX2 machine): per super-block eight
// int32 lanes, lane k holding, for each 32-element group g, scale x sum of the products of elements
// 4k..4k+3 of g; eight float accumulators acc[k] = fma(d_y d_x, lane[k], acc[k]) across super-blocks,
// reduced as ggml's hsum_float_8. With this order our logits equal llama.cpp's bit for bit where the
// rest of the graph does (an ulp here can flip an 8-bit activation rounding in a later layer). The
// SIMD dots and tiles (kquants_simd.inc) compute the same lanes.
namespace {

float hsum8_ggml(const float* a) {
  const float r0 = a[4] + a[0], r1 = a[5] + a[1], r2 = a[6] + a[2], r3 = a[7] + a[3];
  return (r0 + r2) + (r1 + r3);
}

// lanes[k] += sum over the 32-element groups g of scale(g, k) * sum_{e = 4k..4k+3} u[32g + e] * y[32g + e].
template <typename ScaleFn>
void ggml_lanes(const int8_t* u, const int8_t* y, ScaleFn scale, int32_t lanes[8]) {
  for (int g = 0; g < 8; ++g)
    for (int k = 0; k < 8; ++k) {
      int32_t s = 0;
      for (int e = 4 * k; e < 4 * k + 4; ++e) s += int32_t(u[32 * g + e]) * y[32 * g + e];
      lanes[k] += scale(g, k) * s;
    }
}

}  // namespace

// Q2_K (16-element sub-blocks: lanes 0-3 of group g take scale 2g, lanes 4-7 scale 2g+1): the mins
// term shares the eight accumulators, fma'd first: acc[k] = fma(-d_y dmin_x, m[2k] bsums[2k] +
// m[2k+1] bsums[2k+1], acc[k]), then acc[k] = fma(d_y d_x, lane[k], acc[k]).
float vec_dot_q2_k_q8_k_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ2_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  int8_t q[kQK_K];
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_q2_k(x[i], q);
    const uint8_t* sc = x[i].scales;
    const int16_t* bs = y[i].bsums;
    const float d = y[i].d * h2f(x[i].d);
    const float dmin = -y[i].d * h2f(x[i].dmin);
    for (int k = 0; k < 8; ++k)
      acc[k] = std::fma(dmin, float((sc[2 * k] >> 4) * bs[2 * k] + (sc[2 * k + 1] >> 4) * bs[2 * k + 1]), acc[k]);
    int32_t lanes[8] = {};
    ggml_lanes(q, y[i].qs, [&](int g, int k) { return sc[2 * g + k / 4] & 0xF; }, lanes);
    for (int k = 0; k < 8; ++k) acc[k] = std::fma(d, float(lanes[k]), acc[k]);
  }
  return hsum8_ggml(acc);
}

// Q3_K: the lanes of the signed weights (-4..3) times the signed 6-bit scales, no mins.
float vec_dot_q3_k_q8_k_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ3_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  int8_t q[kQK_K], sc[16];
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_q3_k(x[i], q);
    q3_k_scales(x[i].scales, sc);
    int32_t lanes[8] = {};
    ggml_lanes(q, y[i].qs, [&](int g, int k) { return int(sc[2 * g + k / 4]); }, lanes);
    const float d = y[i].d * h2f(x[i].d);
    for (int k = 0; k < 8; ++k) acc[k] = std::fma(d, float(lanes[k]), acc[k]);
  }
  return hsum8_ggml(acc);
}

// Q4_K and Q5_K: the lanes of the unsigned weights times the 32-element sub-block scales. The mins
// term of Q4_K: four lanes t = m[2t] (bsums[4t] + bsums[4t+1]) + m[2t+1] (bsums[4t+2] + bsums[4t+3]),
// each fma'd with -d_y dmin_x and reduced (a0 + a2) + (a1 + a3); Q5_K sums the four as an integer and
// fma's one float. Q6_K: the lanes of the unsigned weights q + 32 minus, per lane,
// 32 x (bsums[2k] sc[2k] + bsums[2k+1] sc[2k+1]).
namespace {

template <typename Block, void (*Unpack)(const Block&, int8_t*), bool kFive>
float dot_scale_min(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  int8_t q[kQK_K];
  float acc[8] = {}, accm[4] = {}, summs = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    Unpack(x[i], q);
    int sc[8], m[8];
    for (int s = 0; s < 8; ++s) {
      uint8_t a, b;
      kq_scale_min(s, x[i].scales, a, b);
      sc[s] = a;
      m[s] = b;
    }
    const float d = y[i].d * h2f(x[i].d);
    const float dmin = -y[i].d * h2f(x[i].dmin);
    const int16_t* bs = y[i].bsums;
    int32_t prod[4];
    for (int t = 0; t < 4; ++t)
      prod[t] = m[2 * t] * (bs[4 * t] + bs[4 * t + 1]) + m[2 * t + 1] * (bs[4 * t + 2] + bs[4 * t + 3]);
    if constexpr (kFive) {
      summs = std::fma(dmin, float(prod[0] + prod[1] + prod[2] + prod[3]), summs);
    } else {
      for (int t = 0; t < 4; ++t) accm[t] = std::fma(dmin, float(prod[t]), accm[t]);
    }
    int32_t lanes[8] = {};
    ggml_lanes(q, y[i].qs, [&](int g, int) { return sc[g]; }, lanes);
    for (int k = 0; k < 8; ++k) acc[k] = std::fma(d, float(lanes[k]), acc[k]);
  }
  return hsum8_ggml(acc) + (kFive ? summs : (accm[0] + accm[2]) + (accm[1] + accm[3]));
}
}  // namespace

float vec_dot_q4_k_q8_k_ref(int64_t n, const void* x, const void* y) {
  return dot_scale_min<BlockQ4_K, unpack_q4_k, false>(n, x, y);
}
float vec_dot_q5_k_q8_k_ref(int64_t n, const void* x, const void* y) {
  return dot_scale_min<BlockQ5_K, unpack_q5_k, true>(n, x, y);
}

float vec_dot_q6_k_q8_k_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  int8_t q[kQK_K];
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    unpack_q6_k(x[i], q);
    for (int j = 0; j < kQK_K; ++j) q[j] = int8_t(q[j] + 32);  // ggml multiplies the unsigned weights
    const int8_t* sc = x[i].scales;
    const int16_t* bs = y[i].bsums;
    int32_t lanes[8];
    for (int k = 0; k < 8; ++k) lanes[k] = -32 * (bs[2 * k] * sc[2 * k] + bs[2 * k + 1] * sc[2 * k + 1]);
    ggml_lanes(q, y[i].qs, [&](int g, int k) { return int(sc[2 * g + k / 4]); }, lanes);
    const float d = y[i].d * h2f(x[i].d);
    for (int k = 0; k < 8; ++k) acc[k] = std::fma(d, float(lanes[k]), acc[k]);
  }
  return hsum8_ggml(acc);
}

namespace {

template <typename Block, void (*Fn)(const float*, Block*, int64_t)>
void from_float(const float* x, void* y, int64_t n) {
  Fn(x, static_cast<Block*>(y), n);
}
template <typename Block, void (*Fn)(const Block*, float*, int64_t)>
void to_float(const void* x, float* y, int64_t n) {
  Fn(static_cast<const Block*>(x), y, n);
}

void set(KernelTable& t, GgmlType type, ToFloatFn to, FromFloatFn from, VecDotFn dot, QuantizeRowsFn rows) {
  const GgmlTypeInfo& info = ggml_type_info(type);
  TypeTraits& tr = t.types[size_t(type)];
  tr.type = type;
  tr.supported = true;
  tr.block_size = info.block_size;
  tr.type_size = info.type_size;
  tr.to_float = to;
  tr.from_float_ref = from;
  tr.vec_dot = dot;
  tr.vec_dot_type = GgmlType::Q8_K;
  tr.quantize_rows = rows;
}

}  // namespace

void install_kquants_scalar(KernelTable& t) {
  using T = GgmlType;
  set(t, T::Q2_K, to_float<BlockQ2_K, dequantize_row_q2_k>, from_float<BlockQ2_K, quantize_row_q2_k_ref>,
      vec_dot_q2_k_q8_k_ref, quantize_rows_q2_k);
  set(t, T::Q3_K, to_float<BlockQ3_K, dequantize_row_q3_k>, from_float<BlockQ3_K, quantize_row_q3_k_ref>,
      vec_dot_q3_k_q8_k_ref, quantize_rows_q3_k);
  set(t, T::Q4_K, to_float<BlockQ4_K, dequantize_row_q4_k>, from_float<BlockQ4_K, quantize_row_q4_k_ref>,
      vec_dot_q4_k_q8_k_ref, quantize_rows_q4_k);
  set(t, T::Q5_K, to_float<BlockQ5_K, dequantize_row_q5_k>, from_float<BlockQ5_K, quantize_row_q5_k_ref>,
      vec_dot_q5_k_q8_k_ref, quantize_rows_q5_k);
  set(t, T::Q6_K, to_float<BlockQ6_K, dequantize_row_q6_k>, from_float<BlockQ6_K, quantize_row_q6_k_ref>,
      vec_dot_q6_k_q8_k_ref, quantize_rows_q6_k);
  // Q8_K is an activation type only (llama.cpp has no Q8_K weight dot either).
  set(t, T::Q8_K, to_float<BlockQ8_K, dequantize_row_q8_k>, from_float<BlockQ8_K, quantize_row_q8_k_ref>, nullptr,
      nullptr);
  // Importance-weighted quantizers of the legacy types (their other entries are set by install_scalar).
  t.types[size_t(T::Q4_0)].quantize_rows = quantize_rows_q4_0;
  t.types[size_t(T::Q4_1)].quantize_rows = quantize_rows_q4_1;
  t.types[size_t(T::Q5_0)].quantize_rows = quantize_rows_q5_0;
  t.types[size_t(T::Q5_1)].quantize_rows = quantize_rows_q5_1;
}

void install_kquants_simd(KernelTable& t, Isa isa) {
  auto overlay = [&](const KquantDots& k) {
    auto put = [&](GgmlType type, KquantDots::Dot dot) {
      if (dot) t.types[size_t(type)].vec_dot = dot;
    };
    put(GgmlType::Q2_K, k.q2_k);
    put(GgmlType::Q3_K, k.q3_k);
    put(GgmlType::Q4_K, k.q4_k);
    put(GgmlType::Q5_K, k.q5_k);
    put(GgmlType::Q6_K, k.q6_k);
    auto put_gemm = [&](GgmlType type, KquantDots::Gemm gemm) {
      if (gemm) t.types[size_t(type)].gemm = gemm;
    };
    put_gemm(GgmlType::Q4_K, k.q4_k_gemm);
    put_gemm(GgmlType::Q5_K, k.q5_k_gemm);
    put_gemm(GgmlType::Q6_K, k.q6_k_gemm);
  };
#if defined(__x86_64__)
  if (isa == Isa::Avx2 || isa == Isa::Avx512) overlay(kquant_dots_avx2());
  if (isa == Isa::Avx512) overlay(kquant_dots_avx512());
#elif defined(__aarch64__)
  if (isa == Isa::Neon) overlay(kquant_dots_neon());
#endif
}

}  // namespace pj
