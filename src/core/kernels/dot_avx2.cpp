// AVX2 + FMA + F16C kernels. Compiled with -mavx2 -mfma -mf16c; see simd_kernels.h for why this file
// includes no std headers and defines everything with internal linkage.
//
// Quant dots: one block per step, its 32 int8 products summed exactly in int32 lanes, then scaled
// by d_x*d_y in float; so per-block integer sums equal the scalar reference's and only the float
// accumulation order differs.
#include <immintrin.h>
#include <stdint.h>

#include "core/kernels/quant_blocks.h"
#include "core/kernels/simd_kernels.h"

namespace pj {
namespace {

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 16 bytes of packed nibbles -> 32 bytes in element order (low nibbles first, then high nibbles).
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Bit j of the little-endian qh -> byte j is 0x10 if set, else 0.
inline __m256i unpack_high_bits(const uint8_t* qh4) {
  uint32_t qh;
  __builtin_memcpy(&qh, qh4, 4);
  const __m256i v = _mm256_set1_epi32(int(qh));
  // byte j takes qh byte j/8 (the shuffle works within 128-bit lanes, each holding all 4 bytes)
  const __m256i pick = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, pick), bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Sum of u8*s8 products in 8 int32 lanes. maddubs saturates at int16: safe since |u| <= 128 and
// |s| <= 127 gives at most 32512 per pair.
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
// Signed x signed via |x| * (y with x's sign). y must not hold -128 (activations never do).
inline __m256i dot_s8_s8(__m256i x, __m256i y) {
  return dot_u8_s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}
inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

float dot_q4_0_q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i qx = _mm256_sub_epi8(unpack_nibbles(x[b].qs), _mm256_set1_epi8(8));
    const __m256i sum = dot_s8_s8(qx, load32(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(fp16(x[b].d) * fp16(y[b].d)), acc);
  }
  return hsum(acc);
}

float dot_q4_1_q8_1(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ4_1*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i sum = dot_u8_s8(unpack_nibbles(x[b].qs), load32(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(fp16(x[b].d) * fp16(y[b].d)), acc);
    mins = __builtin_fmaf(fp16(x[b].m), fp16(y[b].s), mins);  // fused, as GCC builds llama.cpp's
  }
  return hsum(acc) + mins;
}

// Four-row dots read four rows side by side, which the hardware prefetchers follow poorly: each
// block is prefetched two row groups (8 rows) ahead (as dot_avx512.cpp; measured there). A prefetch
// past the matrix's end is harmless (no fault).
inline void prefetch_ahead(const void* block, size_t row_bytes) {
  _mm_prefetch(static_cast<const char*>(block) + 8 * row_bytes, _MM_HINT_T1);  // into L2: see dot_avx512.cpp
}

// Four weight rows per pass over the activation; each row's arithmetic is dot_q4_1_q8_1's.
void dot4_q4_1_q8_1(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out) {
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  const BlockQ4_1* x[4];
  for (int r = 0; r < 4; ++r) x[r] = reinterpret_cast<const BlockQ4_1*>(static_cast<const uint8_t*>(vx) + r * row_bytes);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  float mins[4] = {0, 0, 0, 0};
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i qy = load32(y[b].qs);
    const float dy = fp16(y[b].d), sy = fp16(y[b].s);
    for (int r = 0; r < 4; ++r) {
      prefetch_ahead(&x[r][b], row_bytes);
      const __m256i sum = dot_u8_s8(unpack_nibbles(x[r][b].qs), qy);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(fp16(x[r][b].d) * dy), acc[r]);
      mins[r] = __builtin_fmaf(fp16(x[r][b].m), sy, mins[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = hsum(acc[r]) + mins[r];
}

// Four weight rows per pass over a Q8_0 activation row; each row's arithmetic is its one-row dot's
// (dot_q8_0_q8_0, dot_q4_0_q8_0, dot_q5_0_q8_0): one weight block of each row, decoded to signed bytes
// by `weights`, against the same loaded activation block.
template <typename Block, typename Weights>
void dot4_q8_0_act(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out, Weights weights) {
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  const Block* x[4];
  for (int r = 0; r < 4; ++r) x[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(vx) + r * row_bytes);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i qy = load32(y[b].qs);
    const float dy = fp16(y[b].d);
    for (int r = 0; r < 4; ++r) {
      prefetch_ahead(&x[r][b], row_bytes);
      const __m256i sum = dot_s8_s8(weights(x[r][b]), qy);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(fp16(x[r][b].d) * dy), acc[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = hsum(acc[r]);
}

void dot4_q8_0_q8_0(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out) {
  dot4_q8_0_act<BlockQ8_0>(n, vx, row_bytes, vy, out, [](const BlockQ8_0& b) { return load32(b.qs); });
}

void dot4_q4_0_q8_0(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out) {
  dot4_q8_0_act<BlockQ4_0>(n, vx, row_bytes, vy, out, [](const BlockQ4_0& b) {
    return _mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8));
  });
}

void dot4_q5_0_q8_0(int64_t n, const void* vx, size_t row_bytes, const void* vy, float* out) {
  dot4_q8_0_act<BlockQ5_0>(n, vx, row_bytes, vy, out, [](const BlockQ5_0& b) {
    return _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(b.qs), unpack_high_bits(b.qh)), _mm256_set1_epi8(16));
  });
}

float dot_q5_0_q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK; ++b) {
    __m256i qx = _mm256_or_si256(unpack_nibbles(x[b].qs), unpack_high_bits(x[b].qh));
    qx = _mm256_sub_epi8(qx, _mm256_set1_epi8(16));
    const __m256i sum = dot_s8_s8(qx, load32(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(fp16(x[b].d) * fp16(y[b].d)), acc);
  }
  return hsum(acc);
}

float dot_q5_1_q8_1(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ5_1*>(vx);
  const auto* y = static_cast<const BlockQ8_1*>(vy);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i qx = _mm256_or_si256(unpack_nibbles(x[b].qs), unpack_high_bits(x[b].qh));
    const __m256i sum = dot_u8_s8(qx, load32(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(fp16(x[b].d) * fp16(y[b].d)), acc);
    mins += fp16(x[b].m) * fp16(y[b].s);
  }
  return hsum(acc) + mins;
}

float dot_q8_0_q8_0(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockQ8_0*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK; ++b) {
    const __m256i sum = dot_s8_s8(load32(x[b].qs), load32(y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(fp16(x[b].d) * fp16(y[b].d)), acc);
  }
  return hsum(acc);
}

float dot_f32(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const float*>(vx);
  const auto* y = static_cast<const float*>(vy);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

float dot_f16_f32(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const uint16_t*>(vx);
  const auto* y = static_cast<const float*>(vy);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(load_f16x8(x + i), _mm256_loadu_ps(y + i), a0);
    a1 = _mm256_fmadd_ps(load_f16x8(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_f16x8(x + i), _mm256_loadu_ps(y + i), a0);
  float sum = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) sum += fp16(x[i]) * y[i];
  return sum;
}

inline __m256 load_bf16x8(const uint16_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
inline float bf16(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

float dot_bf16(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const uint16_t*>(vx);
  const auto* y = static_cast<const uint16_t*>(vy);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(load_bf16x8(x + i), load_bf16x8(y + i), a0);
    a1 = _mm256_fmadd_ps(load_bf16x8(x + i + 8), load_bf16x8(y + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_bf16x8(x + i), load_bf16x8(y + i), a0);
  float sum = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) sum += bf16(x[i]) * bf16(y[i]);
  return sum;
}

// exp(x) for 8 lanes: x = k ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^7
// (truncation error < 2e-8 relative), 2^k built in the exponent bits. Below -87.3 returns 0.
inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.37f));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in a high part exact in float and a low remainder (Cody-Waite)
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // k in [-126, 127] after the clamp, so 2^k is a normal float
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

inline float exp1(float v) {
  float buf[8] = {v};
  _mm256_storeu_ps(buf, exp8(_mm256_loadu_ps(buf)));
  return buf[0];
}

void softmax(const float* x, float* out, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float buf[8];
  _mm256_storeu_ps(buf, vmax);
  float max = buf[0];
  for (int j = 1; j < 8; ++j) max = buf[j] > max ? buf[j] : max;
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  const __m256 m = _mm256_set1_ps(max);
  __m256 acc = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
    _mm256_storeu_ps(out + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = hsum(acc);
  for (; i < n; ++i) {
    out[i] = exp1(x[i] - max);
    sum += out[i];
  }
  const __m256 inv = _mm256_set1_ps(1.0f / sum);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), inv));
  for (; i < n; ++i) out[i] *= 1.0f / sum;
}

void silu(const float* x, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
    _mm256_storeu_ps(out + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
  }
  for (; i < n; ++i) out[i] = x[i] / (1.0f + exp1(-x[i]));
}


// ---- llama.cpp-order kernels (see OpsTable in kernel_table.h and the references in ops_ref.cpp).
// ggml's 16-lane (512-bit) structure is emulated with pairs of 8-lane registers (lo = lanes 0-7,
// hi = lanes 8-15); the 16-lane tree sum is then hsum(hi + lo).

// ggml_v_expf, AVX-512 form. vscalefps's j * 2^n is done as two multiplies by exact powers of two
// (n split in halves of at most 96), so a result below 2^-126 is rounded once, as vscalefps does.
inline __m256 ggml_exp8(__m256 x) {
  const __m256 r = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
  const __m256 n = _mm256_sub_ps(z, r);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  const __m256 nc = _mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-192.0f)), _mm256_set1_ps(192.0f));
  const __m256i ni = _mm256_cvtps_epi32(nc);
  const __m256i na = _mm256_srai_epi32(ni, 1);
  const __m256i nb = _mm256_sub_epi32(ni, na);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 pa = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(na, bias), 23));
  const __m256 pb = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(nb, bias), 23));
  const __m256 res = _mm256_mul_ps(_mm256_mul_ps(j, pa), pb);
  const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n), _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  const __m256 alt = _mm256_andnot_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ),
                                      _mm256_set1_ps(__builtin_inff()));
  return _mm256_blendv_ps(res, alt, big);
}

// Lanes i < left of p (left may exceed 8).
inline __m256i lane_mask(int64_t left) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(left > 8 ? 8 : left)), idx);
}
inline __m256 load_masked(const float* p, int64_t left) {
  if (left >= 8) return _mm256_loadu_ps(p);
  return _mm256_maskload_ps(p, lane_mask(left));
}
inline void store_masked(float* p, int64_t left, __m256 v) {
  if (left >= 8) return _mm256_storeu_ps(p, v);
  _mm256_maskstore_ps(p, lane_mask(left), v);
}

void swiglu(const float* g, const float* u, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 x = load_masked(g + i, n - i);
    const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, ggml_exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    store_masked(out + i, n - i, _mm256_mul_ps(s, load_masked(u + i, n - i)));
  }
}

inline __m256 load_kv8(const void* p, bool f16, int64_t i) {
  return f16 ? load_f16x8(static_cast<const uint16_t*>(p) + i) : _mm256_loadu_ps(static_cast<const float*>(p) + i);
}
inline float kv1(const void* p, bool f16, int64_t i) {
  return f16 ? fp16(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

float attn_dot(const float* q, const void* k, bool k_f16, int64_t n) {
  __m256 lo[4], hi[4];
  for (int j = 0; j < 4; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
  const int64_t np = n & ~int64_t(63);
  for (int64_t i = 0; i < np; i += 64)
    for (int j = 0; j < 4; ++j) {
      const int64_t e = i + 16 * j;
      lo[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + e), load_kv8(k, k_f16, e), lo[j]);
      hi[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + e + 8), load_kv8(k, k_f16, e + 8), hi[j]);
    }
  lo[0] = _mm256_add_ps(lo[0], lo[2]);
  hi[0] = _mm256_add_ps(hi[0], hi[2]);
  lo[1] = _mm256_add_ps(lo[1], lo[3]);
  hi[1] = _mm256_add_ps(hi[1], hi[3]);
  lo[0] = _mm256_add_ps(lo[0], lo[1]);
  hi[0] = _mm256_add_ps(hi[0], hi[1]);
  float sum = hsum(_mm256_add_ps(hi[0], lo[0]));
  for (int64_t i = np; i < n; ++i) sum = __builtin_fmaf(q[i], kv1(k, k_f16, i), sum);
  return sum;
}

// attn_dot for 16 transposed keys (OpsTable::attn_dot16), keys 0-7 in one register, 8-15 in another:
// attn_dot's lane l of key i becomes lane i of c[l]; the fold and the 16-lane tree run across registers.
void attn_dot16(const float* q, const float* kt, int64_t n, float scale, float* out) {
  for (int half = 0; half < 2; ++half) {
    const float* k = kt + 8 * half;
    __m256 c[16];
    for (int l = 0; l < 16; ++l) {
      __m256 a[4];
      for (int j = 0; j < 4; ++j) a[j] = _mm256_setzero_ps();
      for (int64_t b = 0; b < n; b += 64)
        for (int j = 0; j < 4; ++j) {
          const int64_t e = b + 16 * j + l;
          a[j] = _mm256_fmadd_ps(_mm256_set1_ps(q[e]), _mm256_loadu_ps(k + e * 16), a[j]);
        }
      c[l] = _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3]));
    }
    __m256 t8[8], t4[4];
    for (int l = 0; l < 8; ++l) t8[l] = _mm256_add_ps(c[l + 8], c[l]);
    for (int l = 0; l < 4; ++l) t4[l] = _mm256_add_ps(t8[l + 4], t8[l]);
    const __m256 s = _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3]));
    _mm256_storeu_ps(out + 8 * half, _mm256_mul_ps(s, _mm256_set1_ps(scale)));
  }
}

float max_f32(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t left = n - i;
    const __m256 v = load_masked(x + i, left);
    m = left >= 8 ? _mm256_max_ps(m, v) : _mm256_blendv_ps(m, _mm256_max_ps(m, v), _mm256_castsi256_ps(lane_mask(left)));
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
}

void scale_f32(float* x, int64_t n, float s, bool round_f16) {
  const __m256 f = _mm256_set1_ps(s);
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = _mm256_mul_ps(load_masked(x + i, n - i), f);
    if (round_f16) v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    store_masked(x + i, n - i, v);
  }
}

double exp_sum(const float* x, float* out, int64_t n, float max) {
  const __m256 m = _mm256_set1_ps(max);
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t left = n - i;
    const __m256 lo = _mm256_and_ps(ggml_exp8(_mm256_sub_ps(load_masked(x + i, left), m)),
                                    _mm256_castsi256_ps(lane_mask(left)));
    __m256 hi = _mm256_setzero_ps();
    store_masked(out + i, left, lo);
    if (left > 8) {
      hi = _mm256_and_ps(ggml_exp8(_mm256_sub_ps(load_masked(x + i + 8, left - 8), m)),
                         _mm256_castsi256_ps(lane_mask(left - 8)));
      store_masked(out + i + 8, left - 8, hi);
    }
    sum += double(hsum(_mm256_add_ps(hi, lo)));
  }
  return sum;
}

// Lane classes l0..l0+7 (l = j % 16) of one 8-wide column chunk of attn_accumulate, class l in acc[l - l0].
template <bool kF16>
void accumulate_half(const float* p, const void* v, int64_t stride, int64_t first, int64_t last, int d, int l0,
                     __m256 acc[8]) {
  for (int l = 0; l < 8; ++l) acc[l] = _mm256_setzero_ps();
  for (int64_t jb = (first & ~int64_t(15)) + l0; jb <= last; jb += 16) {
    if (jb >= first && jb + 7 <= last) {
#pragma GCC unroll 8
      for (int l = 0; l < 8; ++l)
        acc[l] = _mm256_fmadd_ps(load_kv8(v, kF16, (jb + l) * stride + d), _mm256_set1_ps(p[jb + l]), acc[l]);
    } else {
#pragma GCC unroll 8
      for (int l = 0; l < 8; ++l) {
        const int64_t j = jb + l;
        if (j >= first && j <= last)
          acc[l] = _mm256_fmadd_ps(load_kv8(v, kF16, j * stride + d), _mm256_set1_ps(p[j]), acc[l]);
      }
    }
  }
}

// 8 columns of attn_accumulate: the low and high lane classes in two passes, then the 16-lane tree
// lane-wise over d: (l + 8), then (l + 4), then (0 + 2) + (1 + 3).
template <bool kF16>
__m256 accumulate_chunk(const float* p, const void* v, int64_t stride, int64_t first, int64_t last, int d) {
  __m256 lo[8], hi[8];
  accumulate_half<kF16>(p, v, stride, first, last, d, 0, lo);
  accumulate_half<kF16>(p, v, stride, first, last, d, 8, hi);
  __m256 t4[4];
  for (int l = 0; l < 4; ++l) t4[l] = _mm256_add_ps(_mm256_add_ps(hi[l + 4], lo[l + 4]), _mm256_add_ps(hi[l], lo[l]));
  return _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3]));
}

void attn_accumulate(const float* p, const void* v, bool v_f16, int64_t stride, int64_t first, int64_t last,
                     int hd, float* out) {
  if (hd % 8 != 0) {  // not met by any model we run; keep the order anyway
    for (int d = 0; d < hd; ++d) {
      float lanes[16] = {};
      for (int64_t j = first; j <= last; ++j)
        lanes[j % 16] = __builtin_fmaf(kv1(v, v_f16, j * stride + d), p[j], lanes[j % 16]);
      __m256 lo = _mm256_loadu_ps(lanes), hi = _mm256_loadu_ps(lanes + 8);
      out[d] = hsum(_mm256_add_ps(hi, lo));
    }
    return;
  }
  for (int d = 0; d < hd; d += 8)
    _mm256_storeu_ps(out + d, v_f16 ? accumulate_chunk<true>(p, v, stride, first, last, d)
                                    : accumulate_chunk<false>(p, v, stride, first, last, d));
}

// ggml-cpu x86 quantize_row_q8_0/q8_1 semantics (quants_ref.cpp, *_act): amax, d = amax/127,
// id = 127/amax, round half to even. Returns the 32 values as int32 in 4 registers.
inline float quantize_block(const float* x, __m256i q[4]) {
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v[i]));
  }
  __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(amax, 1), _mm256_castps256_ps128(amax));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float mx = _mm_cvtss_f32(m4);
  const __m256 id = _mm256_set1_ps(mx != 0.0f ? 127.0f / mx : 0.0f);
  for (int i = 0; i < 4; ++i)
    q[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[i], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return mx / 127.0f;
}
inline void pack_block(const __m256i q[4], int8_t* out) {
  const __m256i a = _mm256_packs_epi32(q[0], q[1]);
  const __m256i b = _mm256_packs_epi32(q[2], q[3]);
  const __m256i c = _mm256_packs_epi16(a, b);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
inline uint16_t to_fp16(float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

void quantize_q8_0_act(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(vy);
  for (int64_t b = 0; b < n / kQK; ++b) {
    __m256i q[4];
    const float d = quantize_block(x + b * kQK, q);
    y[b].d = to_fp16(d);
    pack_block(q, y[b].qs);
  }
}

void quantize_q8_1_act(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(vy);
  for (int64_t b = 0; b < n / kQK; ++b) {
    __m256i q[4];
    const float d = quantize_block(x + b * kQK, q);
    const __m256i s8 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
    y[b].d = to_fp16(d);
    y[b].s = to_fp16(d * float(_mm_cvtsi128_si32(s4)));
    pack_block(q, y[b].qs);
  }
}

}  // namespace

SimdKernels simd_kernels_avx2() {
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
  k.bf16 = dot_bf16;
  // rms_norm: the scalar reference is ggml's order (double sum) and cheap; no SIMD variant.
  k.softmax = softmax;
  k.silu = silu;
  k.q8_0_act = quantize_q8_0_act;
  k.q8_1_act = quantize_q8_1_act;
  k.swiglu = swiglu;
  k.attn_dot = attn_dot;
  k.attn_dot16 = attn_dot16;
  k.max_f32 = max_f32;
  k.scale_f32 = scale_f32;
  k.exp_sum = exp_sum;
  k.attn_accumulate = attn_accumulate;
  return k;
}

}  // namespace pj
