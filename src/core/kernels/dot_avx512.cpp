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

// Generic block loop in llama.cpp's order (ggml-cpu x86 ggml_vec_dot_*: its AVX2 code, which is
// also what it runs on AVX-512 CPUs): one 8-lane accumulator, acc += (d_x*d_y) * lane sums per
// block, the min terms summed one by one, hsum at the end. Same bits as our AVX2 kernels.
// weights(b) gives block b's 32 weight values in element order, acts(b) the activation's, scale(b)
// d_x*d_y, product the int32 lane sums, extra(b) an additive float term (the _1 types' min term).
template <typename Weights, typename Acts, typename Scale, typename Product, typename Extra>
inline float dot_blocks(int64_t nb, Weights weights, Acts acts, Scale scale, Product product, Extra extra) {
  __m256 acc = _mm256_setzero_ps();
  float extra_sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(product(weights(b), acts(b))), _mm256_set1_ps(scale(b)), acc);
    extra_sum += extra(b);  // contracted to an FMA by GCC, as in llama.cpp's build and our AVX2
  }
  return hsum(acc) + extra_sum;
}

// The one-activation-row product streams the weights once per token; the four-row dots read four
// rows side by side, which the hardware prefetchers follow poorly: each block is prefetched two row
// groups (8 rows) ahead. Gemma-3-270M Q8_0 tg (its 262144 x 640 output matrix): 13.5 -> 21 t/s
// (docs/performance.md, session 4). Into L2 (T1), not L1: an L1 prefetch holds one of the core's few
// fill buffers until the line arrives, which capped a single thread near 10 GB/s; L2 prefetches queue
// deeper (session 5, alternating A/B: Gemma-3 Q8_0 tg 34.5 -> 36.7 t/s, Q4_K_M 37.5 -> 39.2). A
// prefetch past the matrix's end is harmless (no fault).
inline void prefetch_ahead(const void* block, size_t row_bytes) {
  _mm_prefetch(static_cast<const char*>(block) + 8 * row_bytes, _MM_HINT_T1);
}

// Four weight rows per pass over the activation; each row's arithmetic is dot_blocks'.
template <typename Block, typename Act, typename Weights, typename Product>
inline void dot4_blocks(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out, Weights weights,
                        Product product, bool with_min) {
  const auto* y = static_cast<const Act*>(vy);
  const Block* x[4];
  for (int r = 0; r < 4; ++r) x[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(vx) + r * row_bytes);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  float mins[4] = {0, 0, 0, 0};
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i qy = load32(y[b].qs);
    const float dy = fp16(y[b].d);
    for (int r = 0; r < 4; ++r) {
      prefetch_ahead(&x[r][b], row_bytes);
      const __m256i sum = product(weights(x[r][b]), qy);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(fp16(x[r][b].d) * dy), acc[r]);
    }
    if (with_min) {
      const float sy = fp16(reinterpret_cast<const BlockQ8_1*>(y)[b].s);
      for (int r = 0; r < 4; ++r)
        mins[r] = __builtin_fmaf(fp16(reinterpret_cast<const BlockQ4_1*>(x[r])[b].m), sy, mins[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = hsum(acc[r]) + mins[r];
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

void dot4_q4_1_q8_1(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out) {
  dot4_blocks<BlockQ4_1, BlockQ8_1>(n, vx, row_bytes, vy, out, [](const BlockQ4_1& b) { return unpack_nibbles(b.qs); },
                                    dot_u8_s8, true);
}

// Four rows of a type stored as unsigned bytes u = value + kOffset (Q8_0 with the sign bit flipped,
// Q4_0/Q5_0 nibbles as stored) against Q8_0: one vpdpbusd per row and block, starting from
// -kOffset * (sum of 4 activation bytes) per lane, computed once per block for the four rows: the same
// exact int32 lane sums as dot_s8_s8's. The four d_x convert in one vcvtph2ps and multiply d_y in one
// vector multiply (the same float products). Then dot_blocks' fma and hsum, so the same bits.
inline __m128 fp16x4(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  return _mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(a | (b << 16) | (c << 32) | (d << 48))));
}
template <typename Block, int kOffset, typename Unsigned>
inline void dot4_offset(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out, Unsigned u) {
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  const Block* x[4];
  for (int r = 0; r < 4; ++r) x[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(vx) + r * row_bytes);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i qy = load32(y[b].qs);
    const __m256i start =
        _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(char(kOffset)), qy));
    const __m128 d4 = _mm_mul_ps(fp16x4(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d), _mm_set1_ps(fp16(y[b].d)));
    const __m256 d = _mm256_set_m128(d4, d4);
    const __m256 dr[4] = {_mm256_permute_ps(d, 0x00), _mm256_permute_ps(d, 0x55), _mm256_permute_ps(d, 0xAA),
                          _mm256_permute_ps(d, 0xFF)};
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      prefetch_ahead(&x[r][b], row_bytes);
      const __m256i sum = _mm256_dpbusd_epi32(start, u(x[r][b]), qy);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), dr[r], acc[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = hsum(acc[r]);
}

void dot4_q8_0_q8_0(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out) {
  dot4_offset<BlockQ8_0, 128>(n, vx, row_bytes, vy, out,
                              [](const BlockQ8_0& b) { return _mm256_xor_si256(load32(b.qs), _mm256_set1_epi8(char(0x80))); });
}

void dot4_q4_0_q8_0(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out) {
  dot4_offset<BlockQ4_0, 8>(n, vx, row_bytes, vy, out, [](const BlockQ4_0& b) { return unpack_nibbles(b.qs); });
}

void dot4_q5_0_q8_0(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out) {
  dot4_offset<BlockQ5_0, 16>(n, vx, row_bytes, vy, out, [](const BlockQ5_0& b) {
    return _mm256_or_si256(unpack_nibbles(b.qs), unpack_high_bits(b.qh));
  });
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


// ---- llama.cpp-order kernels (OpsTable in kernel_table.h; references in ops_ref.cpp). These are
// ggml-cpu's own 16-lane structure, so no emulation is needed here.

// ggml_v_expf, AVX-512 form (constants from ggml-cpu/vec.h).
inline __m512 ggml_exp16(__m512 x) {
  const __m512 r = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
  const __m512 n = _mm512_sub_ps(z, r);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  const __m512 res = _mm512_scalef_ps(j, n);
  if (!big) return res;
  const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ),
                                          _mm512_set1_ps(__builtin_inff()), _mm512_setzero_ps());
  return _mm512_mask_blend_ps(big, res, alt);
}

void swiglu(const float* g, const float* u, float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 x = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, ggml_exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, u + i)));
  }
}

inline __m512 load_kv16(const void* p, bool f16, int64_t i) {
  return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(p) + i)))
             : _mm512_loadu_ps(static_cast<const float*>(p) + i);
}
inline float kv1(const void* p, bool f16, int64_t i) {
  return f16 ? fp16(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

float attn_dot(const float* q, const void* k, bool k_f16, int64_t n) {
  __m512 acc[4];
  for (int j = 0; j < 4; ++j) acc[j] = _mm512_setzero_ps();
  const int64_t np = n & ~int64_t(63);
  for (int64_t i = 0; i < np; i += 64)
    for (int j = 0; j < 4; ++j)
      acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16 * j), load_kv16(k, k_f16, i + 16 * j), acc[j]);
  acc[0] = _mm512_add_ps(acc[0], acc[2]);
  acc[1] = _mm512_add_ps(acc[1], acc[3]);
  acc[0] = _mm512_add_ps(acc[0], acc[1]);
  float sum = _mm512_reduce_add_ps(acc[0]);
  for (int64_t i = np; i < n; ++i) sum = __builtin_fmaf(q[i], kv1(k, k_f16, i), sum);
  return sum;
}

// attn_dot for 16 transposed keys (OpsTable::attn_dot16): register i of attn_dot's lane l becomes lane i
// of c[l]; the fold and the lane tree then run across the c[l] registers.
void attn_dot16(const float* q, const float* kt, int64_t n, float scale, float* out) {
  __m512 c[16];
  for (int l = 0; l < 16; ++l) {
    __m512 a[4];
    for (int j = 0; j < 4; ++j) a[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n; b += 64)
      for (int j = 0; j < 4; ++j) {
        const int64_t e = b + 16 * j + l;
        a[j] = _mm512_fmadd_ps(_mm512_set1_ps(q[e]), _mm512_loadu_ps(kt + e * 16), a[j]);
      }
    c[l] = _mm512_add_ps(_mm512_add_ps(a[0], a[2]), _mm512_add_ps(a[1], a[3]));
  }
  __m512 t8[8], t4[4];
  for (int l = 0; l < 8; ++l) t8[l] = _mm512_add_ps(c[l + 8], c[l]);
  for (int l = 0; l < 4; ++l) t4[l] = _mm512_add_ps(t8[l + 4], t8[l]);
  const __m512 s = _mm512_add_ps(_mm512_add_ps(t4[0], t4[2]), _mm512_add_ps(t4[1], t4[3]));
  _mm512_storeu_ps(out, _mm512_mul_ps(s, _mm512_set1_ps(scale)));
}

// 16 x 16 floats transposed in registers: unpack pairs, shuffle quads, then exchange 128-bit lanes twice.
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
      t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xDD);
    }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

void attn_kt16(const void* k, bool k_f16, int64_t stride, int n_rows, int hd, float* kt) {
  if (hd % 16 != 0) {
    for (int i = 0; i < 16; ++i)
      for (int e = 0; e < hd; ++e) kt[e * 16 + i] = i < n_rows ? kv1(k, k_f16, i * stride + e) : 0.0f;
    return;
  }
  for (int e = 0; e < hd; e += 16) {
    __m512 r[16];
    for (int i = 0; i < 16; ++i) r[i] = i < n_rows ? load_kv16(k, k_f16, i * stride + e) : _mm512_setzero_ps();
    transpose16x16(r);
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(kt + (e + i) * 16, r[i]);
  }
}

float max_f32(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) m = _mm512_mask_max_ps(m, tail_mask(n - i), m, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
  return _mm512_reduce_max_ps(m);
}

void f16_to_f32(const uint16_t* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, x + i)));
  }
}

void scale_f32(float* x, int64_t n, float s, bool round_f16) {
  const __m512 f = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), f);
    if (round_f16) v = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm512_mask_storeu_ps(x + i, k, v);
  }
}

double exp_sum(const float* x, float* out, int64_t n, float max) {
  const __m512 m = _mm512_set1_ps(max);
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 e = _mm512_maskz_mov_ps(k, ggml_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m)));
    _mm512_mask_storeu_ps(out + i, k, e);
    sum += double(_mm512_reduce_add_ps(e));
  }
  return sum;
}

// One 16-wide column chunk of attn_accumulate: lane class l = j % 16 lives in register acc[l] (16
// columns d at once), so each position costs one load and one FMA. Blocks of 16 positions; only the
// first and last block can be partial (positions outside [first, last] are skipped, never read).
// kStride > 0: the row stride is that constant (attention's 16-column slices of V), so the 16 rows of
// a block are constant offsets from one pointer; 0: the runtime `stride`.
template <bool kF16, int kStride = 0>
__m512 accumulate_chunk(const float* p, const void* v, int64_t stride, int64_t first, int64_t last, int d) {
  __m512 acc[16];
  for (int l = 0; l < 16; ++l) acc[l] = _mm512_setzero_ps();
  const size_t es = kF16 ? 2 : 4;
  if constexpr (kStride > 0) stride = kStride;
  const size_t row = size_t(stride) * es;
  for (int64_t jb = first & ~int64_t(15); jb <= last; jb += 16) {
    const uint8_t* vp = static_cast<const uint8_t*>(v) + (size_t(jb) * size_t(stride) + size_t(d)) * es;
    if (jb >= first && jb + 15 <= last) {
#pragma GCC unroll 16
      for (int l = 0; l < 16; ++l, vp += row)
        acc[l] = _mm512_fmadd_ps(load_kv16(vp, kF16, 0), _mm512_set1_ps(p[jb + l]), acc[l]);
    } else {
      // positions outside [first, last]: a zero mask keeps acc[l] as it is and loads nothing
#pragma GCC unroll 16
      for (int l = 0; l < 16; ++l, vp += row) {
        const int64_t j = jb + l;
        const bool in = j >= first && j <= last;
        const __mmask16 k = in ? __mmask16(0xffff) : __mmask16(0);
        const __m512 vv = kF16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, vp))
                               : _mm512_maskz_loadu_ps(k, reinterpret_cast<const float*>(vp));
        acc[l] = _mm512_mask3_fmadd_ps(vv, _mm512_set1_ps(in ? p[j] : 0.0f), acc[l], k);
      }
    }
  }
  // _mm512_reduce_add_ps's tree, lane-wise over d: (l + 8), then (l + 4), then (0 + 2) + (1 + 3)
  __m512 t8[8], t4[4];
  for (int l = 0; l < 8; ++l) t8[l] = _mm512_add_ps(acc[l + 8], acc[l]);
  for (int l = 0; l < 4; ++l) t4[l] = _mm512_add_ps(t8[l + 4], t8[l]);
  return _mm512_add_ps(_mm512_add_ps(t4[0], t4[2]), _mm512_add_ps(t4[1], t4[3]));
}

void attn_accumulate(const float* p, const void* v, bool v_f16, int64_t stride, int64_t first, int64_t last,
                     int hd, float* out) {
  if (hd % 16 != 0) {
    for (int d = 0; d < hd; ++d) {
      float lanes[16] = {};
      for (int64_t j = first; j <= last; ++j)
        lanes[j % 16] = __builtin_fmaf(kv1(v, v_f16, j * stride + d), p[j], lanes[j % 16]);
      out[d] = _mm512_reduce_add_ps(_mm512_loadu_ps(lanes));
    }
    return;
  }
  if (!v_f16 && stride == 16 && hd == 16) {
    _mm512_storeu_ps(out, accumulate_chunk<false, 16>(p, v, stride, first, last, 0));
    return;
  }
  for (int d = 0; d < hd; d += 16)
    _mm512_storeu_ps(out + d, v_f16 ? accumulate_chunk<true>(p, v, stride, first, last, d)
                                    : accumulate_chunk<false>(p, v, stride, first, last, d));
}

// ggml-cpu x86 quantize_row_q8_0/q8_1 semantics (quants_ref.cpp, *_act), 16 lanes at a time.
inline float quantize_block(const float* x, __m512i q[2]) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float mx = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const __m512 id = _mm512_set1_ps(mx != 0.0f ? 127.0f / mx : 0.0f);
  q[0] = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  q[1] = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return mx / 127.0f;
}
inline void pack_block(const __m512i q[2], int8_t* out) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtsepi32_epi8(q[0]));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm512_cvtsepi32_epi8(q[1]));
}
inline uint16_t to_fp16(float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

void quantize_q8_0_act(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(vy);
  for (int64_t b = 0; b < n / kQK; ++b) {
    __m512i q[2];
    const float d = quantize_block(x + b * kQK, q);
    y[b].d = to_fp16(d);
    pack_block(q, y[b].qs);
  }
}

void quantize_q8_1_act(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(vy);
  for (int64_t b = 0; b < n / kQK; ++b) {
    __m512i q[2];
    const float d = quantize_block(x + b * kQK, q);
    y[b].d = to_fp16(d);
    y[b].s = to_fp16(d * float(_mm512_reduce_add_epi32(_mm512_add_epi32(q[0], q[1]))));
    pack_block(q, y[b].qs);
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
  k.q4_1_q8_1_x4 = dot4_q4_1_q8_1;
  k.q8_0_q8_0_x4 = dot4_q8_0_q8_0;
  k.q4_0_q8_0_x4 = dot4_q4_0_q8_0;
  k.q5_0_q8_0_x4 = dot4_q5_0_q8_0;
  k.f32 = dot_f32;
  k.f16_f32 = dot_f16_f32;
  k.bf16 = with_bf16 ? dot_bf16_vdpbf16ps : dot_bf16_widen;
  k.softmax = softmax;
  k.silu = silu;
  k.q8_0_act = quantize_q8_0_act;
  k.q8_1_act = quantize_q8_1_act;
  k.swiglu = swiglu;
  k.attn_dot = attn_dot;
  k.attn_dot16 = attn_dot16;
  k.attn_kt16 = attn_kt16;
  k.max_f32 = max_f32;
  k.f16_to_f32 = f16_to_f32;
  k.scale_f32 = scale_f32;
  k.exp_sum = exp_sum;
  k.attn_accumulate = attn_accumulate;
  return k;
}

}  // namespace pj
