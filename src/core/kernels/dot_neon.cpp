// AArch64 NEON kernels (baseline ARMv8-A: no dotprod or i8mm extension needed). Built only for
// aarch64 targets (CMakeLists.txt); same rules as the x86 files (simd_kernels.h): no std:: or shared
// inline function, plain function pointers handed back to context.cpp.
//
// Every kernel forms the same int32 lanes and the same float operations in the same order as the
// x86 ones, so a model gives the same bits on ARM as on x86:
// - 32-element blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 with Q8_0/Q8_1): eight int32 lanes per block, lane k
//   = products of elements 4k..4k+3 (AVX2's maddubs + madd), converted and fma'd with d_x d_y into
//   eight float lanes (two float32x4_t), reduced as hsum: (lane k + lane k+4), then (0 + 2) + (1 + 3).
// - Q2_K .. Q6_K: ggml's x86 lane order as spelled out in kquants_ref.cpp; IQ4_NL and MXFP4 as the
//   32-element types; IQ4_XS, the lattice types, IQ1_S/IQ1_M and the ternary types as iquants_ref.cpp
//   (grid points looked up per 8 weights, signs applied with a bit test, then the same lanes).
// - F32 / F16 x F32: dot_avx2.cpp's four (F16: two) 8-lane accumulators and its tails.
// Integer products: int8 x int8 through vmull_s8 (|p| <= 16384 fits int16), pairwise widened to int32.
#include <arm_neon.h>
#include <stdint.h>

#include "core/kernels/iquants_blocks.h"
#include "core/kernels/iquants_simd.h"
#include "core/kernels/iquants_tables.h"
#include "core/kernels/kquants_blocks.h"
#include "core/kernels/kquants_simd.h"
#include "core/kernels/quant_blocks.h"
#include "core/kernels/simd_kernels.h"

namespace pj {
namespace {

inline float fp16(uint16_t h) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

// Eight float lanes as two halves: lo = lanes 0..3, hi = lanes 4..7.
struct F8 {
  float32x4_t lo, hi;
};
inline F8 f8_zero() { return F8{vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}; }
// acc + v * d, fused per lane (x86: _mm256_fmadd_ps).
inline F8 f8_fma(F8 acc, int32x4_t vlo, int32x4_t vhi, float d) {
  return F8{vfmaq_n_f32(acc.lo, vcvtq_f32_s32(vlo), d), vfmaq_n_f32(acc.hi, vcvtq_f32_s32(vhi), d)};
}
// The x86 hsum of eight lanes: (k + k+4) for k < 4, then (0 + 2) + (1 + 3).
inline float hsum4(float32x4_t r) {
  const float32x2_t t = vadd_f32(vget_low_f32(r), vget_high_f32(r));
  return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}
inline float hsum8(F8 a) { return hsum4(vaddq_f32(a.hi, a.lo)); }

// 32 int8 x 32 int8 -> lanes 0..3 (elements 0..15) and 4..7 (16..31), lane k = elements 4k..4k+3.
inline void dot32(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1, int32x4_t& lo, int32x4_t& hi) {
  const int16x8_t p0 = vmull_s8(vget_low_s8(x0), vget_low_s8(y0));
  const int16x8_t p1 = vmull_high_s8(x0, y0);
  const int16x8_t p2 = vmull_s8(vget_low_s8(x1), vget_low_s8(y1));
  const int16x8_t p3 = vmull_high_s8(x1, y1);
  lo = vpaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
  hi = vpaddq_s32(vpaddlq_s16(p2), vpaddlq_s16(p3));
}

// 16 bytes of packed nibbles -> elements 0..15 (low nibbles) and 16..31 (high nibbles).
inline void nibbles(const uint8_t* qs, int8x16_t& lo, int8x16_t& hi) {
  const uint8x16_t b = vld1q_u8(qs);
  lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0F)));
  hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
}

// Bit j of the little-endian 32-bit qh -> 0x10 in byte j (elements 0..15 in lo, 16..31 in hi).
inline void high_bits(const uint8_t* qh4, uint8x16_t& lo, uint8x16_t& hi) {
  static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bit = vld1q_u8(kBit);
  const uint8x8_t b0 = vdup_n_u8(qh4[0]), b1 = vdup_n_u8(qh4[1]), b2 = vdup_n_u8(qh4[2]), b3 = vdup_n_u8(qh4[3]);
  lo = vandq_u8(vtstq_u8(vcombine_u8(b0, b1), bit), vdupq_n_u8(0x10));
  hi = vandq_u8(vtstq_u8(vcombine_u8(b2, b3), bit), vdupq_n_u8(0x10));
}

inline int8x16_t ld(const int8_t* p) { return vld1q_s8(p); }

// A 32-element block type against Q8_0 / Q8_1 activations: weights(b, q0, q1) decodes block b into
// elements 0..15 and 16..31, scale(b) is d_x d_y; eight lanes fma'd per block, the x86 hsum. With
// kMin (Q4_1, Q5_1) the block's m_x s_y is fma'd into a scalar added at the end.
template <bool kMin, class Block, class Act, class Weights>
float dot_blocks32(int64_t n, const void* vx, const void* vy, Weights weights) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const Act*>(vy);
  F8 acc = f8_zero();
  float mins = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int8x16_t q0, q1;
    weights(x[b], q0, q1);
    int32x4_t lo, hi;
    dot32(q0, q1, ld(y[b].qs), ld(y[b].qs + 16), lo, hi);
    acc = f8_fma(acc, lo, hi, fp16(x[b].d) * fp16(y[b].d));
    if constexpr (kMin) mins = __builtin_fmaf(fp16(x[b].m), fp16(y[b].s), mins);  // x86 contracts it too
  }
  if constexpr (kMin) return hsum8(acc) + mins;
  return hsum8(acc);
}

// Q5_0 / Q5_1: the nibbles with their fifth bits.
inline void nibbles5(const uint8_t* qs, const uint8_t* qh, int8x16_t& q0, int8x16_t& q1) {
  nibbles(qs, q0, q1);
  uint8x16_t h0, h1;
  high_bits(qh, h0, h1);
  q0 = vorrq_s8(q0, vreinterpretq_s8_u8(h0));
  q1 = vorrq_s8(q1, vreinterpretq_s8_u8(h1));
}

float dot_q4_0_q8_0(int64_t n, const void* vx, const void* vy) {
  return dot_blocks32<false, BlockQ4_0, BlockQ8_0>(n, vx, vy, [](const BlockQ4_0& b, int8x16_t& q0, int8x16_t& q1) {
    nibbles(b.qs, q0, q1);
    q0 = vsubq_s8(q0, vdupq_n_s8(8));
    q1 = vsubq_s8(q1, vdupq_n_s8(8));
  });
}

float dot_q4_1_q8_1(int64_t n, const void* vx, const void* vy) {
  return dot_blocks32<true, BlockQ4_1, BlockQ8_1>(
      n, vx, vy, [](const BlockQ4_1& b, int8x16_t& q0, int8x16_t& q1) { nibbles(b.qs, q0, q1); });
}

float dot_q5_0_q8_0(int64_t n, const void* vx, const void* vy) {
  return dot_blocks32<false, BlockQ5_0, BlockQ8_0>(n, vx, vy, [](const BlockQ5_0& b, int8x16_t& q0, int8x16_t& q1) {
    nibbles5(b.qs, b.qh, q0, q1);
    q0 = vsubq_s8(q0, vdupq_n_s8(16));
    q1 = vsubq_s8(q1, vdupq_n_s8(16));
  });
}

float dot_q5_1_q8_1(int64_t n, const void* vx, const void* vy) {
  return dot_blocks32<true, BlockQ5_1, BlockQ8_1>(
      n, vx, vy, [](const BlockQ5_1& b, int8x16_t& q0, int8x16_t& q1) { nibbles5(b.qs, b.qh, q0, q1); });
}

float dot_q8_0_q8_0(int64_t n, const void* vx, const void* vy) {
  return dot_blocks32<false, BlockQ8_0, BlockQ8_0>(n, vx, vy, [](const BlockQ8_0& b, int8x16_t& q0, int8x16_t& q1) {
    q0 = ld(b.qs);
    q1 = ld(b.qs + 16);
  });
}

inline F8 f8_fma_f(F8 acc, F8 a, const float* y) {
  return F8{vfmaq_f32(acc.lo, a.lo, vld1q_f32(y)), vfmaq_f32(acc.hi, a.hi, vld1q_f32(y + 4))};
}
inline F8 f8_load(const float* p) { return F8{vld1q_f32(p), vld1q_f32(p + 4)}; }
inline F8 f8_load_f16(const uint16_t* p) {
  const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
  return F8{vcvt_f32_f16(vget_low_f16(h)), vcvt_high_f32_f16(h)};
}
inline F8 f8_add(F8 a, F8 b) { return F8{vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)}; }

float dot_f32(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const float*>(vx);
  const auto* y = static_cast<const float*>(vy);
  F8 a0 = f8_zero(), a1 = f8_zero(), a2 = f8_zero(), a3 = f8_zero();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = f8_fma_f(a0, f8_load(x + i), y + i);
    a1 = f8_fma_f(a1, f8_load(x + i + 8), y + i + 8);
    a2 = f8_fma_f(a2, f8_load(x + i + 16), y + i + 16);
    a3 = f8_fma_f(a3, f8_load(x + i + 24), y + i + 24);
  }
  for (; i + 8 <= n; i += 8) a0 = f8_fma_f(a0, f8_load(x + i), y + i);
  float sum = hsum8(f8_add(f8_add(a0, a1), f8_add(a2, a3)));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

float dot_f16_f32(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const uint16_t*>(vx);
  const auto* y = static_cast<const float*>(vy);
  F8 a0 = f8_zero(), a1 = f8_zero();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = f8_fma_f(a0, f8_load_f16(x + i), y + i);
    a1 = f8_fma_f(a1, f8_load_f16(x + i + 8), y + i + 8);
  }
  for (; i + 8 <= n; i += 8) a0 = f8_fma_f(a0, f8_load_f16(x + i), y + i);
  float sum = hsum8(f8_add(a0, a1));
  for (; i < n; ++i) sum += fp16(x[i]) * y[i];
  return sum;
}

// ---- K-quants x Q8_K in ggml's x86 lane order (kquants_ref.cpp).

void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// lanes += scale_lo * (lanes 0..3 of u . y) and scale_hi * (lanes 4..7) for one 32-element group.
inline void group(const int8x16_t u0, const int8x16_t u1, const int8_t* y, int scale_lo, int scale_hi,
                  int32x4_t& acc_lo, int32x4_t& acc_hi) {
  int32x4_t lo, hi;
  dot32(u0, u1, ld(y), ld(y + 16), lo, hi);
  acc_lo = vmlaq_n_s32(acc_lo, lo, scale_lo);
  acc_hi = vmlaq_n_s32(acc_hi, hi, scale_hi);
}

// Q2_K: weights 0..3 (group g: bits 2(g%4) of qs[32(g/4) ..]), 4-bit scales per 16 elements; the mins
// lanes k = m[2k] bsums[2k] + m[2k+1] bsums[2k+1] fma'd into the accumulators first.
float dot_q2_k(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ2_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  F8 acc = f8_zero();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* sc = x[i].scales;
    const int16_t* bs = y[i].bsums;
    const float d = y[i].d * fp16(x[i].d);
    const float dmin = -y[i].d * fp16(x[i].dmin);
    int32_t mins[8];
    for (int k = 0; k < 8; ++k) mins[k] = (sc[2 * k] >> 4) * bs[2 * k] + (sc[2 * k + 1] >> 4) * bs[2 * k + 1];
    acc = f8_fma(acc, vld1q_s32(mins), vld1q_s32(mins + 4), dmin);
    int32x4_t lanes_lo = vdupq_n_s32(0), lanes_hi = vdupq_n_s32(0);
    for (int g = 0; g < 8; ++g) {
      const int8x16_t sh = vdupq_n_s8(int8_t(-2 * (g % 4)));
      const uint8x16_t three = vdupq_n_u8(3);
      const uint8_t* q = x[i].qs + 32 * (g / 4);
      const uint8x16_t u0 = vandq_u8(vshlq_u8(vld1q_u8(q), sh), three);
      const uint8x16_t u1 = vandq_u8(vshlq_u8(vld1q_u8(q + 16), sh), three);
      group(vreinterpretq_s8_u8(u0), vreinterpretq_s8_u8(u1), y[i].qs + 32 * g, sc[2 * g] & 0xF,
            sc[2 * g + 1] & 0xF, lanes_lo, lanes_hi);
    }
    acc = f8_fma(acc, lanes_lo, lanes_hi, d);
  }
  return hsum8(acc);
}

// Q3_K: signed weights (2 low bits as Q2_K, minus 4 where the hmask bit g of byte l is clear), signed
// 6-bit scales per 16 elements.
float dot_q3_k(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ3_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  F8 acc = f8_zero();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sc[16];
    for (int j = 0; j < 16; ++j) {
      const int low = j < 8 ? x[i].scales[j] & 0xF : x[i].scales[j - 8] >> 4;
      const int high = (x[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3;
      sc[j] = (low | high << 4) - 32;
    }
    const uint8x16_t hm0 = vld1q_u8(x[i].hmask), hm1 = vld1q_u8(x[i].hmask + 16);
    int32x4_t lanes_lo = vdupq_n_s32(0), lanes_hi = vdupq_n_s32(0);
    for (int g = 0; g < 8; ++g) {
      const int8x16_t sh = vdupq_n_s8(int8_t(-2 * (g % 4))), hsh = vdupq_n_s8(int8_t(-g));
      const uint8x16_t three = vdupq_n_u8(3), one = vdupq_n_u8(1);
      const uint8_t* q = x[i].qs + 32 * (g / 4);
      // u = low + 4 * hbit in 0..7, weight = u - 4
      const uint8x16_t u0 = vorrq_u8(vandq_u8(vshlq_u8(vld1q_u8(q), sh), three),
                                     vshlq_n_u8(vandq_u8(vshlq_u8(hm0, hsh), one), 2));
      const uint8x16_t u1 = vorrq_u8(vandq_u8(vshlq_u8(vld1q_u8(q + 16), sh), three),
                                     vshlq_n_u8(vandq_u8(vshlq_u8(hm1, hsh), one), 2));
      group(vsubq_s8(vreinterpretq_s8_u8(u0), vdupq_n_s8(4)), vsubq_s8(vreinterpretq_s8_u8(u1), vdupq_n_s8(4)),
            y[i].qs + 32 * g, sc[2 * g], sc[2 * g + 1], lanes_lo, lanes_hi);
    }
    acc = f8_fma(acc, lanes_lo, lanes_hi, y[i].d * fp16(x[i].d));
  }
  return hsum8(acc);
}

template <bool kFive, typename Block>
float dot_scale_min(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  F8 acc = f8_zero();
  float32x4_t accm = vdupq_n_f32(0.0f);
  float summs = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sc[8], m[8];
    for (int s = 0; s < 8; ++s) scale_min_k4(s, x[i].scales, sc[s], m[s]);
    const float d = y[i].d * fp16(x[i].d);
    const float dmin = -y[i].d * fp16(x[i].dmin);
    const int16_t* bs = y[i].bsums;
    int32_t prod[4];
    for (int t = 0; t < 4; ++t)
      prod[t] = m[2 * t] * (bs[4 * t] + bs[4 * t + 1]) + m[2 * t + 1] * (bs[4 * t + 2] + bs[4 * t + 3]);
    if constexpr (kFive) {
      summs = __builtin_fmaf(dmin, float(prod[0] + prod[1] + prod[2] + prod[3]), summs);
    } else {
      accm = vfmaq_n_f32(accm, vcvtq_f32_s32(vld1q_s32(prod)), dmin);
    }
    uint8x16_t qh0 = vdupq_n_u8(0), qh1 = vdupq_n_u8(0);
    if constexpr (kFive) {
      qh0 = vld1q_u8(x[i].qh);
      qh1 = vld1q_u8(x[i].qh + 16);
    }
    int32x4_t lanes_lo = vdupq_n_s32(0), lanes_hi = vdupq_n_s32(0);
    for (int c = 0; c < 4; ++c) {
      const uint8x16_t b0 = vld1q_u8(x[i].qs + 32 * c), b1 = vld1q_u8(x[i].qs + 32 * c + 16);
      uint8x16_t l0 = vandq_u8(b0, vdupq_n_u8(0x0F)), l1 = vandq_u8(b1, vdupq_n_u8(0x0F));
      uint8x16_t h0 = vshrq_n_u8(b0, 4), h1 = vshrq_n_u8(b1, 4);
      if constexpr (kFive) {
        const int8x16_t sl = vdupq_n_s8(int8_t(-2 * c)), sh = vdupq_n_s8(int8_t(-2 * c - 1));
        const uint8x16_t one = vdupq_n_u8(1);
        l0 = vorrq_u8(l0, vshlq_n_u8(vandq_u8(vshlq_u8(qh0, sl), one), 4));
        l1 = vorrq_u8(l1, vshlq_n_u8(vandq_u8(vshlq_u8(qh1, sl), one), 4));
        h0 = vorrq_u8(h0, vshlq_n_u8(vandq_u8(vshlq_u8(qh0, sh), one), 4));
        h1 = vorrq_u8(h1, vshlq_n_u8(vandq_u8(vshlq_u8(qh1, sh), one), 4));
      }
      group(vreinterpretq_s8_u8(l0), vreinterpretq_s8_u8(l1), y[i].qs + 64 * c, sc[2 * c], sc[2 * c], lanes_lo,
            lanes_hi);
      group(vreinterpretq_s8_u8(h0), vreinterpretq_s8_u8(h1), y[i].qs + 64 * c + 32, sc[2 * c + 1],
            sc[2 * c + 1], lanes_lo, lanes_hi);
    }
    acc = f8_fma(acc, lanes_lo, lanes_hi, d);
  }
  return hsum8(acc) + (kFive ? summs : hsum4(accm));
}

float dot_q4_k(int64_t n, const void* x, const void* y) { return dot_scale_min<false, BlockQ4_K>(n, x, y); }
float dot_q5_k(int64_t n, const void* x, const void* y) { return dot_scale_min<true, BlockQ5_K>(n, x, y); }

float dot_q6_k(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  F8 acc = f8_zero();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const int8_t* sc = x[i].scales;
    const int16_t* bs = y[i].bsums;
    // the +32 of the unsigned weights, per lane: 32 (bsums[2k] sc[2k] + bsums[2k+1] sc[2k+1])
    int32_t off[8];
    for (int k = 0; k < 8; ++k) off[k] = 32 * (bs[2 * k] * sc[2 * k] + bs[2 * k + 1] * sc[2 * k + 1]);
    int32x4_t lanes_lo = vnegq_s32(vld1q_s32(off)), lanes_hi = vnegq_s32(vld1q_s32(off + 4));
    for (int c = 0; c < 2; ++c) {
      const uint8_t* ql = x[i].ql + 64 * c;
      const uint8x16_t qh0 = vld1q_u8(x[i].qh + 32 * c), qh1 = vld1q_u8(x[i].qh + 32 * c + 16);
      for (int k = 0; k < 4; ++k) {
        const uint8_t* src = ql + 32 * (k & 1);
        uint8x16_t l0 = vld1q_u8(src), l1 = vld1q_u8(src + 16);
        if (k & 2) {
          l0 = vshrq_n_u8(l0, 4);
          l1 = vshrq_n_u8(l1, 4);
        } else {
          l0 = vandq_u8(l0, vdupq_n_u8(0x0F));
          l1 = vandq_u8(l1, vdupq_n_u8(0x0F));
        }
        const int8x16_t sh = vdupq_n_s8(int8_t(-2 * k));
        const uint8x16_t three = vdupq_n_u8(3);
        const uint8x16_t u0 = vorrq_u8(l0, vshlq_n_u8(vandq_u8(vshlq_u8(qh0, sh), three), 4));
        const uint8x16_t u1 = vorrq_u8(l1, vshlq_n_u8(vandq_u8(vshlq_u8(qh1, sh), three), 4));
        const int v = 4 * c + k;
        group(vreinterpretq_s8_u8(u0), vreinterpretq_s8_u8(u1), y[i].qs + 32 * v, sc[2 * v], sc[2 * v + 1],
              lanes_lo, lanes_hi);
      }
    }
    acc = f8_fma(acc, lanes_lo, lanes_hi, y[i].d * fp16(x[i].d));
  }
  return hsum8(acc);
}

// ---- Codebook and ternary types (iquants_ref.cpp's orders; x86: iquants_simd.inc).

// 16 nibble codes -> their codebook values, elements 0..15 (low nibbles) and 16..31 (high nibbles).
inline void lookup_nibbles(const uint8_t* qs, int8x16_t table, int8x16_t& lo, int8x16_t& hi) {
  const uint8x16_t b = vld1q_u8(qs);
  lo = vqtbl1q_s8(table, vandq_u8(b, vdupq_n_u8(0x0F)));
  hi = vqtbl1q_s8(table, vshrq_n_u8(b, 4));
}

float e8m0_half(uint8_t e) {  // MXFP4's block scale 2^(e - 127), halved (the codebook is doubled)
  const uint32_t bits = e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

float dot_iq4_nl_q8_0(int64_t n, const void* vx, const void* vy) {
  return dot_blocks32<false, BlockIq4Nl, BlockQ8_0>(n, vx, vy, [](const BlockIq4Nl& b, int8x16_t& q0, int8x16_t& q1) {
    lookup_nibbles(b.qs, vld1q_s8(kValuesIq4nl), q0, q1);
  });
}

// MXFP4 in ggml's order (iquants_ref.cpp): even blocks into one set of eight float lanes, odd blocks
// into another, their sum reduced; an odd last block fma'd into the scalar after.
float dot_mxfp4_q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockMxfp4*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  const int8x16_t table = vld1q_s8(kValuesMxfp4);
  const int64_t nb = n / kQK4NL;
  F8 acc[2] = {f8_zero(), f8_zero()};
  int32x4_t lo, hi;
  int64_t b = 0;
  for (; b + 1 < nb; b += 2)
    for (int h = 0; h < 2; ++h) {
      int8x16_t q0, q1;
      lookup_nibbles(x[b + h].qs, table, q0, q1);
      dot32(q0, q1, ld(y[b + h].qs), ld(y[b + h].qs + 16), lo, hi);
      acc[h] = f8_fma(acc[h], lo, hi, fp16(y[b + h].d) * e8m0_half(x[b + h].e));
    }
  float sum = hsum8(f8_add(acc[0], acc[1]));
  for (; b < nb; ++b) {
    int8x16_t q0, q1;
    lookup_nibbles(x[b].qs, table, q0, q1);
    dot32(q0, q1, ld(y[b].qs), ld(y[b].qs + 16), lo, hi);
    sum = __builtin_fmaf(fp16(y[b].d) * e8m0_half(x[b].e), float(vaddvq_s32(vaddq_s32(lo, hi))), sum);
  }
  return sum;
}

float dot_iq4_xs_q8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq4Xs*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  const int8x16_t table = vld1q_s8(kValuesIq4nl);
  F8 acc = f8_zero();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32x4_t lanes_lo = vdupq_n_s32(0), lanes_hi = vdupq_n_s32(0);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const int ls = (((x[b].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[b].scales_h >> 2 * ib) & 3) << 4)) - 32;
      int8x16_t q0, q1;
      lookup_nibbles(x[b].qs + 16 * ib, table, q0, q1);
      group(q0, q1, y[b].qs + 32 * ib, ls, ls, lanes_lo, lanes_hi);
    }
    acc = f8_fma(acc, lanes_lo, lanes_hi, fp16(x[b].d) * y[b].d);
  }
  return hsum8(acc);
}

// TQ2_0: trits t = value + 1 (0..2) laid out as Q2_K's 2-bit fields; lane k minus bsums[2k] + bsums[2k+1].
float dot_tq2_0_q8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockTq2_0*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  F8 acc = f8_zero();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const int16_t* bs = y[b].bsums;
    int32_t off[8];
    for (int k = 0; k < 8; ++k) off[k] = bs[2 * k] + bs[2 * k + 1];
    int32x4_t lanes_lo = vnegq_s32(vld1q_s32(off)), lanes_hi = vnegq_s32(vld1q_s32(off + 4));
    for (int g = 0; g < 8; ++g) {
      const int8x16_t sh = vdupq_n_s8(int8_t(-2 * (g % 4)));
      const uint8_t* q = x[b].qs + 32 * (g / 4);
      const uint8x16_t t0 = vandq_u8(vshlq_u8(vld1q_u8(q), sh), vdupq_n_u8(3));
      const uint8x16_t t1 = vandq_u8(vshlq_u8(vld1q_u8(q + 16), sh), vdupq_n_u8(3));
      group(vreinterpretq_s8_u8(t0), vreinterpretq_s8_u8(t1), y[b].qs + 32 * g, 1, 1, lanes_lo, lanes_hi);
    }
    acc = f8_fma(acc, lanes_lo, lanes_hi, y[b].d * fp16(x[b].d));
  }
  return hsum8(acc);
}

// ---- The lattice types: each group of 32 weights is four 8-element grid points (two 4-element points
// for the IQ3 types) with their sign bits, unpacked into two int8x16_t and multiplied as the rest.

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// 8 unsigned grid bytes, negated where bit j of `signs` is set.
inline int8x8_t signed8(uint8x8_t grid, uint8_t signs) {
  static const uint8_t kBit8[8] = {1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x8_t neg = vtst_u8(vdup_n_u8(signs), vld1_u8(kBit8));
  const int8x8_t g = vreinterpret_s8_u8(grid);
  return vbsl_s8(neg, vneg_s8(g), g);
}
inline uint8x8_t grid8(const uint64_t* g, uint32_t i) { return vcreate_u8(g[i]); }
inline uint8x8_t grid4x2(const uint32_t* g, uint32_t i0, uint32_t i1) {
  return vcreate_u8(uint64_t(g[i0]) | (uint64_t(g[i1]) << 32));
}

// One super-block's lanes from a per-group decoder: decode(ib, w0, w1, sc_lo, sc_hi).
template <class Decode>
inline void lattice_lanes(const int8_t* y, Decode decode, int32x4_t& lo, int32x4_t& hi) {
  lo = vdupq_n_s32(0);
  hi = vdupq_n_s32(0);
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    int8x16_t w0, w1;
    int s_lo, s_hi;
    decode(ib, w0, w1, s_lo, s_hi);
    group(w0, w1, y + 32 * ib, s_lo, s_hi, lo, hi);
  }
}

template <class Block, class Decode>
float dot_lattice(int64_t n, const void* vx, const void* vy, float factor, Decode decode) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  F8 acc = f8_zero();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32x4_t lo, hi;
    lattice_lanes(y[b].qs, [&](int ib, int8x16_t& w0, int8x16_t& w1, int& sl, int& sh) { decode(x[b], ib, w0, w1, sl, sh); },
                  lo, hi);
    acc = f8_fma(acc, lo, hi, fp16(x[b].d) * y[b].d);
  }
  return factor * hsum8(acc);
}

float dot_iq2_xxs_q8_K(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq2Xxs>(n, vx, vy, 0.125f, [](const BlockIq2Xxs& b, int ib, int8x16_t& w0, int8x16_t& w1, int& sl, int& sh) {
    const auto* q = reinterpret_cast<const uint8_t*>(b.qs + 4 * ib);
    const uint32_t aux = load_u32(q + 4);
    int8x8_t w[4];
    for (int l = 0; l < 4; ++l) w[l] = signed8(grid8(kIq2xxsGrid, q[l]), kKsignsIq2xs[(aux >> 7 * l) & 127]);
    w0 = vcombine_s8(w[0], w[1]);
    w1 = vcombine_s8(w[2], w[3]);
    sl = sh = int(2 * (aux >> 28) + 1);
  });
}

float dot_iq2_xs_q8_K(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq2Xs>(n, vx, vy, 0.125f, [](const BlockIq2Xs& b, int ib, int8x16_t& w0, int8x16_t& w1, int& sl, int& sh) {
    int8x8_t w[4];
    for (int l = 0; l < 4; ++l) {
      const uint16_t q = b.qs[4 * ib + l];
      w[l] = signed8(grid8(kIq2xsGrid, q & 511), kKsignsIq2xs[q >> 9]);
    }
    w0 = vcombine_s8(w[0], w[1]);
    w1 = vcombine_s8(w[2], w[3]);
    sl = 2 * (b.scales[ib] & 0xf) + 1;
    sh = 2 * (b.scales[ib] >> 4) + 1;
  });
}

float dot_iq2_s_q8_K(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq2S>(n, vx, vy, 0.125f, [](const BlockIq2S& b, int ib, int8x16_t& w0, int8x16_t& w1, int& sl, int& sh) {
    const uint8_t* signs = b.qs + kQK_K / 8;
    int8x8_t w[4];
    for (int l = 0; l < 4; ++l) {
      const uint32_t index = b.qs[4 * ib + l] | ((uint32_t(b.qh[ib]) << (8 - 2 * l)) & 0x300);
      w[l] = signed8(grid8(kIq2sGrid, index), signs[4 * ib + l]);
    }
    w0 = vcombine_s8(w[0], w[1]);
    w1 = vcombine_s8(w[2], w[3]);
    sl = 2 * (b.scales[ib] & 0xf) + 1;
    sh = 2 * (b.scales[ib] >> 4) + 1;
  });
}

float dot_iq3_xxs_q8_K(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq3Xxs>(n, vx, vy, 0.25f, [](const BlockIq3Xxs& b, int ib, int8x16_t& w0, int8x16_t& w1, int& sl, int& sh) {
    const uint8_t* q3 = b.qs + 8 * ib;
    const uint32_t aux = load_u32(b.qs + kQK_K / 4 + 4 * ib);
    int8x8_t w[4];
    for (int l = 0; l < 4; ++l)
      w[l] = signed8(grid4x2(kIq3xxsGrid, q3[2 * l], q3[2 * l + 1]), kKsignsIq2xs[(aux >> 7 * l) & 127]);
    w0 = vcombine_s8(w[0], w[1]);
    w1 = vcombine_s8(w[2], w[3]);
    sl = sh = int(2 * (aux >> 28) + 1);
  });
}

float dot_iq3_s_q8_K(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq3S>(n, vx, vy, 1.0f, [](const BlockIq3S& b, int ib, int8x16_t& w0, int8x16_t& w1, int& sl, int& sh) {
    const uint8_t* qs = b.qs + 8 * ib;
    const uint32_t qh = b.qh[ib];
    auto index = [&](int k) { return qs[k] | ((qh << (8 - k)) & 256); };
    int8x8_t w[4];
    for (int l = 0; l < 4; ++l) w[l] = signed8(grid4x2(kIq3sGrid, index(2 * l), index(2 * l + 1)), b.signs[4 * ib + l]);
    w0 = vcombine_s8(w[0], w[1]);
    w1 = vcombine_s8(w[2], w[3]);
    sl = sh = 2 * (ib % 2 == 0 ? (b.scales[ib / 2] & 0xf) : (b.scales[ib / 2] >> 4)) + 1;
  });
}

inline int8x8_t grid1(uint32_t i) { return vcreate_s8(kIq1sGrid[i]); }

// IQ1_S: grid lanes (scale per 32 elements); the shift term sum of ls * (+-1) * (bsums[2ib] + bsums[2ib+1])
// fma'd into a scalar; result hsum + IQ1S_DELTA (0.125) * that.
float dot_iq1_s_q8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq1S*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  F8 acc = f8_zero();
  float acc1 = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int sumi1 = 0;
    int32x4_t lo, hi;
    lattice_lanes(y[b].qs, [&](int ib, int8x16_t& w0, int8x16_t& w1, int& sl, int& sh) {
      const uint16_t qh = x[b].qh[ib];
      const int ls = 2 * ((qh >> 12) & 7) + 1;
      int8x8_t w[4];
      for (int l = 0; l < 4; ++l) w[l] = grid1(x[b].qs[4 * ib + l] | (((qh >> 3 * l) & 7) << 8));
      w0 = vcombine_s8(w[0], w[1]);
      w1 = vcombine_s8(w[2], w[3]);
      sl = sh = ls;
      sumi1 += ls * (qh & 0x8000 ? -1 : 1) * (y[b].bsums[2 * ib] + y[b].bsums[2 * ib + 1]);
    }, lo, hi);
    const float d = y[b].d * fp16(x[b].d);
    acc = f8_fma(acc, lo, hi, d);
    acc1 = __builtin_fmaf(d, float(sumi1), acc1);
  }
  return hsum8(acc) + 0.125f * acc1;
}

// IQ1_M: the grid's lanes and the shift's lanes (activations times the +-1 of their 8-element point),
// both with the 16-element scales; result hsum(grid) + IQ1M_DELTA (0.125) * hsum(shift).
float dot_iq1_m_q8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq1M*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  F8 acc1 = f8_zero(), acc2 = f8_zero();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint16_t sc[4];
    __builtin_memcpy(sc, x[b].scales, 8);
    const uint16_t dbits = uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    int32x4_t lo1 = vdupq_n_s32(0), hi1 = vdupq_n_s32(0), lo2 = vdupq_n_s32(0), hi2 = vdupq_n_s32(0);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint8_t* qs = x[b].qs + 4 * ib;
      const uint8_t* qh = x[b].qh + 2 * ib;
      int8x8_t w[4], s[4];
      for (int l = 0; l < 4; ++l) {
        const uint8_t h = uint8_t(l % 2 == 0 ? qh[l / 2] & 0xf : qh[l / 2] >> 4);
        w[l] = grid1(qs[l] | (uint32_t(h & 7) << 8));
        s[l] = vdup_n_s8(h & 8 ? -1 : 1);
      }
      const int sl = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 7) + 1;
      const int sh = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1;
      group(vcombine_s8(w[0], w[1]), vcombine_s8(w[2], w[3]), y[b].qs + 32 * ib, sl, sh, lo1, hi1);
      group(vcombine_s8(s[0], s[1]), vcombine_s8(s[2], s[3]), y[b].qs + 32 * ib, sl, sh, lo2, hi2);
    }
    const float d = y[b].d * fp16(dbits);
    acc1 = f8_fma(acc1, lo1, hi1, d);
    acc2 = f8_fma(acc2, lo2, hi2, d);
  }
  return hsum8(acc1) + 0.125f * hsum8(acc2);
}

// TQ1_0: five trits per byte as a base-3 fraction (trit n of q: ((uint8(q * 3^n)) * 3) >> 8), stored
// +1 (0..2): elements 32n + m from qs[0..31], 160 + 16n + m from qs[32..47], 240 + 4n + m from qh.
// Lanes as TQ2_0's.
inline uint8x16_t trits16(uint8x16_t q, uint8_t pow3) {
  const uint8x16_t s = vmulq_u8(q, vdupq_n_u8(pow3));  // wraps mod 256: moves trit n to the top
  const uint16x8_t lo = vmull_u8(vget_low_u8(s), vdup_n_u8(3)), hi = vmull_high_u8(s, vdupq_n_u8(3));
  return vcombine_u8(vshrn_n_u16(lo, 8), vshrn_n_u16(hi, 8));
}

float dot_tq1_0_q8_K(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockTq1_0*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  static const uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  F8 acc = f8_zero();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint8_t t[kQK_K];
    const uint8x16_t a0 = vld1q_u8(x[b].qs), a1 = vld1q_u8(x[b].qs + 16), a2 = vld1q_u8(x[b].qs + 32);
    for (int p = 0; p < 5; ++p) {
      vst1q_u8(t + 32 * p, trits16(a0, kPow3[p]));
      vst1q_u8(t + 32 * p + 16, trits16(a1, kPow3[p]));
      vst1q_u8(t + 160 + 16 * p, trits16(a2, kPow3[p]));
    }
    for (int p = 0; p < 4; ++p)
      for (int m = 0; m < 4; ++m) t[240 + 4 * p + m] = uint8_t((uint16_t(uint8_t(x[b].qh[m] * kPow3[p])) * 3) >> 8);
    const int16_t* bs = y[b].bsums;
    int32_t off[8];
    for (int k = 0; k < 8; ++k) off[k] = bs[2 * k] + bs[2 * k + 1];
    int32x4_t lo = vnegq_s32(vld1q_s32(off)), hi = vnegq_s32(vld1q_s32(off + 4));
    for (int g = 0; g < 8; ++g)
      group(vreinterpretq_s8_u8(vld1q_u8(t + 32 * g)), vreinterpretq_s8_u8(vld1q_u8(t + 32 * g + 16)), y[b].qs + 32 * g,
            1, 1, lo, hi);
    acc = f8_fma(acc, lo, hi, y[b].d * fp16(x[b].d));
  }
  return hsum8(acc);
}

}  // namespace

IquantDots iquant_dots_neon() {
  IquantDots k{};
  k.iq4_nl = dot_iq4_nl_q8_0;
  k.mxfp4 = dot_mxfp4_q8_0;
  k.iq4_xs = dot_iq4_xs_q8_K;
  k.tq2_0 = dot_tq2_0_q8_K;
  k.iq2_xxs = dot_iq2_xxs_q8_K;
  k.iq2_xs = dot_iq2_xs_q8_K;
  k.iq2_s = dot_iq2_s_q8_K;
  k.iq3_xxs = dot_iq3_xxs_q8_K;
  k.iq3_s = dot_iq3_s_q8_K;
  k.iq1_s = dot_iq1_s_q8_K;
  k.iq1_m = dot_iq1_m_q8_K;
  k.tq1_0 = dot_tq1_0_q8_K;
  return k;
}

SimdKernels simd_kernels_neon() {
  SimdKernels k{};
  k.q4_0_q8_0 = dot_q4_0_q8_0;
  k.q4_1_q8_1 = dot_q4_1_q8_1;
  k.q5_0_q8_0 = dot_q5_0_q8_0;
  k.q5_1_q8_1 = dot_q5_1_q8_1;
  k.q8_0_q8_0 = dot_q8_0_q8_0;
  k.f32 = dot_f32;
  k.f16_f32 = dot_f16_f32;
  return k;
}

KquantDots kquant_dots_neon() {
  KquantDots k{};
  k.q2_k = dot_q2_k;
  k.q3_k = dot_q3_k;
  k.q4_k = dot_q4_k;
  k.q5_k = dot_q5_k;
  k.q6_k = dot_q6_k;
  return k;
}

}  // namespace pj
