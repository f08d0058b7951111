// AVX-512 (F, BW, VL, DQ, VNNI, optionally BF16) kernels. Compiled with -mavx512*; see
// simd_kernels.h for why this file includes no std headers.
//
// Quant dots: VNNI's vpdpbusd sums four u8*s8 products into each int32 lane in one instruction
// (AVX2 needs maddubs + madd). One block per 256-bit register: a first version pairing two blocks
// in a 512-bit register measured slower on this Zen 4 (bench_kernels, Q4_0 4096x4096, 1 thread:
// 1.9 GB/s vs 2.3-3.5 GB/s for this one; shared 2-core VM, so noisy); the pairing shuffles cost
// more than the halved dot instructions save. Per-lane integer sums are
// exact, as in the scalar reference; only the float accumulation order differs.
#include <immintrin.h>
#include <stdint.h>

#include "core/kernels/quant_blocks.h"
#include "core/kernels/simd_kernels.h"

namespace pj {
namespace {

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }
inline float bf16(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0f));
}
// Bit j of qh -> 0x10 in byte j.
inline __m256i unpack_high_bits(const uint8_t* qh4) {
  uint32_t qh;
  __builtin_memcpy(&qh, qh4, 4);
  return _mm256_maskz_mov_epi8(__mmask32(qh), _mm256_set1_epi8(0x10));
}
inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// Signed x signed products via |x| * (y with x's sign); y must not hold -128 (activations never do).
inline __m256i dot_s8_s8(__m256i x, __m256i y) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}
inline __m256i dot_u8_s8(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }

// Generic block loop, two independent accumulators. weights(b) gives block b's 32 weight values in
// element order, acts(b) the activation's, scale(b) d_x*d_y, product the int32 lane sums, extra(b)
// an additive float term (the min term of the _1 types).
template <typename Weights, typename Acts, typename Scale, typename Product, typename Extra>
inline float dot_blocks(int64_t nb, Weights weights, Acts acts, Scale scale, Product product, Extra extra) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  float extra_sum = 0.0f;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(product(weights(b), acts(b))), _mm256_set1_ps(scale(b)), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(product(weights(b + 1), acts(b + 1))), _mm256_set1_ps(scale(b + 1)), acc1);
    extra_sum += extra(b) + extra(b + 1);
  }
  if (b < nb) {
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(product(weights(b), acts(b))), _mm256_set1_ps(scale(b)), acc0);
    extra_sum += extra(b);
  }
  return hsum(_mm256_add_ps(acc0, acc1)) + extra_sum;
}

inline float no_extra(int64_t) { return 0.0f; }

float dot_q4_0_q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  return dot_blocks(
      n / kQK,
      [x](int64_t b) { return _mm256_sub_epi8(unpack_nibbles(x[b].qs), _mm256_set1_epi8(8)); },
      [y](int64_t b) { return load32(y[b].qs); },
      [x, y](int64_t b) { return fp16(x[b].d) * fp16(y[b].d); }, dot_s8_s8, no_extra);
}

float dot_q4_1_q8_1(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_1*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  return dot_blocks(
      n / kQK, [x](int64_t b) { return unpack_nibbles(x[b].qs); },
      [y](int64_t b) { return load32(y[b].qs); },
      [x, y](int64_t b) { return fp16(x[b].d) * fp16(y[b].d); }, dot_u8_s8,
      [x, y](int64_t b) { return fp16(x[b].m) * fp16(y[b].s); });
}

float dot_q5_0_q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  return dot_blocks(
      n / kQK,
      [x](int64_t b) {
        const __m256i q = _mm256_or_si256(unpack_nibbles(x[b].qs), unpack_high_bits(x[b].qh));
        return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
      },
      [y](int64_t b) { return load32(y[b].qs); },
      [x, y](int64_t b) { return fp16(x[b].d) * fp16(y[b].d); }, dot_s8_s8, no_extra);
}

float dot_q5_1_q8_1(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_1*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  return dot_blocks(
      n / kQK,
      [x](int64_t b) { return _mm256_or_si256(unpack_nibbles(x[b].qs), unpack_high_bits(x[b].qh)); },
      [y](int64_t b) { return load32(y[b].qs); },
      [x, y](int64_t b) { return fp16(x[b].d) * fp16(y[b].d); }, dot_u8_s8,
      [x, y](int64_t b) { return fp16(x[b].m) * fp16(y[b].s); });
}

float dot_q8_0_q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ8_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  return dot_blocks(
      n / kQK, [x](int64_t b) { return load32(x[b].qs); },
      [y](int64_t b) { return load32(y[b].qs); },
      [x, y](int64_t b) { return fp16(x[b].d) * fp16(y[b].d); }, dot_s8_s8, no_extra);
}

// Float dots: a masked load handles the tail, so every element goes through the vector path.
inline __mmask16 tail_mask(int64_t left) { return __mmask16(left >= 16 ? 0xffff : (1u << left) - 1); }

float dot_f32(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const float*>(vx);
  const auto* y = static_cast<const float*>(vy);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

float dot_f16_f32(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const uint16_t*>(vx);
  const auto* y = static_cast<const float*>(vy);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))),
                         _mm512_loadu_ps(y + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 16))),
                         _mm512_loadu_ps(y + i + 16), a1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 xv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
    a0 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, y + i), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

// BF16 x BF16 with vdpbf16ps (32 products per instruction). It treats denormal inputs as zero,
// unlike the reference; weights and activations of real models are far from the denormal range.
float dot_bf16_vdpbf16ps(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const uint16_t*>(vx);
  const auto* y = static_cast<const uint16_t*>(vy);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i xv = _mm512_loadu_si512(x + i);
    const __m512i yv = _mm512_loadu_si512(y + i);
    acc = _mm512_dpbf16_ps(acc, (__m512bh)xv, (__m512bh)yv);
  }
  if (i < n) {
    const __mmask32 m = __mmask32(n - i >= 32 ? 0xffffffffu : (1u << (n - i)) - 1);
    acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_maskz_loadu_epi16(m, x + i),
                           (__m512bh)_mm512_maskz_loadu_epi16(m, y + i));
  }
  return _mm512_reduce_add_ps(acc);
}

// Without AVX512_BF16: widen to f32 by shifting (bf16 is the top half of an f32).
inline __m512 load_bf16x16(const uint16_t* p, __mmask16 m) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
float dot_bf16_widen(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const uint16_t*>(vx);
  const auto* y = static_cast<const uint16_t*>(vy);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc = _mm512_fmadd_ps(load_bf16x16(x + i, m), load_bf16x16(y + i, m), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  const float scale = 1.0f / __builtin_sqrtf(_mm512_reduce_add_ps(acc) / float(n) + eps);
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
    if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
    _mm512_mask_storeu_ps(out + i, m, v);
  }
}

// 16-lane exp, same method as exp8 in dot_avx2.cpp: Cody-Waite reduction, Taylor series to r^7,
// 2^k via vscalefps. Below -87.3 returns 0.
inline __m512 exp16(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.33f);
  const __mmask16 ok = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
  x = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.37f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(ok, _mm512_scalef_ps(p, k));
}

void softmax(const float* x, float* out, int64_t n) {
  __m512 vmax = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    vmax = _mm512_mask_max_ps(vmax, k, vmax, _mm512_maskz_loadu_ps(k, x + i));
  }
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m)));
    _mm512_mask_storeu_ps(out + i, k, e);
    acc = _mm512_add_ps(acc, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(acc));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, out + i), inv));
  }
}

void silu(const float* x, float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), v));
    _mm512_mask_storeu_ps(out + i, k, _mm512_div_ps(v, _mm512_add_ps(one, e)));
  }
}

}  // namespace

SimdKernels simd_kernels_avx512(bool with_bf16) {
  SimdKernels k{};
  k.q4_0_q8_0 = dot_q4_0_q8_0;
  k.q4_1_q8_1 = dot_q4_1_q8_1;
  k.q5_0_q8_0 = dot_q5_0_q8_0;
  k.q5_1_q8_1 = dot_q5_1_q8_1;
  k.q8_0_q8_0 = dot_q8_0_q8_0;
  k.f32 = dot_f32;
  k.f16_f32 = dot_f16_f32;
  k.bf16 = with_bf16 ? dot_bf16_vdpbf16ps : dot_bf16_widen;
  k.rms_norm = rms_norm;
  k.softmax = softmax;
  k.silu = silu;
  return k;
}

}  // namespace pj
