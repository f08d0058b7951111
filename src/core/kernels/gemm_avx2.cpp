// AVX2 + FMA + F16C register-blocked tile kernels for matmul (TypeTraits::gemm, kernel_table.h).
// Compiled with -mavx2 -mfma -mf16c; see simd_kernels.h for why this file includes no std headers.
//
// Every output element is bit-identical to the vec_dot of dot_avx2.cpp (same accumulator, same
// operations in the same order); a micro-tile of R weight rows x C activation rows shares each loaded
// weight block across C columns and each activation block across R rows. 16 ymm registers allow
// 3 x 2 tiles. Quant lane sums are exact integers however computed: Q4_0/Q5_0 use the unsigned
// nibbles (maddubs cannot overflow: 31 * 127 * 2 < 2^15) minus offset * (sum of 4 activation bytes),
// the latter once per activation block; Q8_0 keeps the sign trick of dot_s8_s8 (x + 128 would overflow
// maddubs' int16 pairs). F32/F16: their dots keep four (F32) and two (F16) 8-lane accumulators per
// output, so the tiles are small (1 x 3 and 2 x 3 outputs, 12 accumulators) and save only part of the
// loads: each weight chunk is loaded (and converted) once for 3 columns.
#include <immintrin.h>
#include <stdint.h>

#include "core/kernels/gemm_kernels.h"
#include "core/kernels/iquants_blocks.h"
#include "core/kernels/quant_blocks.h"

namespace pj {
namespace {

inline float fp16(uint16_t h) { return _cvtsh_ss(h); }
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0f));
}
inline __m256i unpack_high_bits(const uint8_t* qh4) {
  uint32_t qh;
  __builtin_memcpy(&qh, qh4, 4);
  const __m256i v = _mm256_set1_epi32(int(qh));
  const __m256i pick = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, pick), bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// ---- micro-tile dispatch: Kernel::tile<R, C> for R <= Kernel::kR, C <= Kernel::kC.
struct TileArgs {
  int64_t n;
  const uint8_t* x;
  size_t xs;
  const uint8_t* y;
  size_t ys;
  float* out;
  int64_t ldo;
  size_t prefetch = 0;  // > 0 (the 4 x 1 dot4 only): prefetch each weight block this many bytes ahead
};

template <typename K, int R, int C>
inline void call_c(int c, const TileArgs& a) {
  if constexpr (C >= 1) {
    if (c == C) return K::template tile<R, C>(a);
    call_c<K, R, C - 1>(c, a);
  }
}
template <typename K, int R>
inline void call_r(int r, int c, const TileArgs& a) {
  if constexpr (R >= 1) {
    if (r == R) return call_c<K, R, K::kC>(c, a);
    call_r<K, R - 1>(r, c, a);
  }
}

// Rows outer (a panel of kR weight rows stays in L1), activation rows inner.
template <typename K>
void gemm(int64_t n, const void* x, size_t xs, int64_t mr, const void* y, size_t ys, int64_t nr, float* out,
          int64_t ldo) {
  for (int64_t r0 = 0; r0 < mr; r0 += K::kR) {
    const int rr = int(mr - r0 < K::kR ? mr - r0 : K::kR);
    for (int64_t j0 = 0; j0 < nr; j0 += K::kC) {
      const int cc = int(nr - j0 < K::kC ? nr - j0 : K::kC);
      const TileArgs a{n, static_cast<const uint8_t*>(x) + size_t(r0) * xs, xs,
                       static_cast<const uint8_t*>(y) + size_t(j0) * ys, ys, out + j0 * ldo + r0, ldo};
      call_r<K, K::kR>(rr, cc, a);
    }
  }
}

// ---- F32 x F32 (dot_f32: a0..a3 take the 8-element chunks 0..3 of each 32, then whole chunks of 8
// into a0, hsum((a0 + a1) + (a2 + a3)), then the last n % 8 products one by one) and F16 x F32
// (dot_f16_f32: a0/a1 the two chunks of each 16, chunks of 8 into a0, hsum(a0 + a1), then the rest).
template <bool kF16>
struct FloatTile {
  static constexpr int kA = kF16 ? 2 : 4;  // accumulators per output
  static constexpr int kR = kF16 ? 2 : 1, kC = 3;
  static __m256 wload(const uint8_t* row, int64_t i) {
    if constexpr (kF16)
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + i)));
    else
      return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static float w1(const uint8_t* row, int64_t i) {
    if constexpr (kF16)
      return fp16(reinterpret_cast<const uint16_t*>(row)[i]);
    else
      return reinterpret_cast<const float*>(row)[i];
  }
  template <int R, int C>
  static void tile(const TileArgs& a) {
    const float* y[C];
#pragma GCC unroll 16
    for (int j = 0; j < C; ++j) y[j] = reinterpret_cast<const float*>(a.y + size_t(j) * a.ys);
    __m256 acc[R][C][kA];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j)
#pragma GCC unroll 16
        for (int k = 0; k < kA; ++k) acc[r][j][k] = _mm256_setzero_ps();
    const int64_t n = a.n;
    int64_t i = 0;
    for (; i + 8 * kA <= n; i += 8 * kA) {
#pragma GCC unroll 16
      for (int k = 0; k < kA; ++k)
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
          const __m256 xv = wload(a.x + size_t(r) * a.xs, i + 8 * k);
#pragma GCC unroll 16
          for (int j = 0; j < C; ++j) acc[r][j][k] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(y[j] + i + 8 * k), acc[r][j][k]);
        }
    }
    for (; i + 8 <= n; i += 8)
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m256 xv = wload(a.x + size_t(r) * a.xs, i);
#pragma GCC unroll 16
        for (int j = 0; j < C; ++j) acc[r][j][0] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(y[j] + i), acc[r][j][0]);
      }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) {
        float sum;
        if constexpr (kF16)
          sum = hsum(_mm256_add_ps(acc[r][j][0], acc[r][j][1]));
        else
          sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[r][j][0], acc[r][j][1]), _mm256_add_ps(acc[r][j][2], acc[r][j][3])));
        for (int64_t t = i; t < n; ++t) sum += w1(a.x + size_t(r) * a.xs, t) * y[j][t];
        a.out[j * a.ldo + r] = sum;
      }
  }
};

// ---- 32-element block quants against Q8_0 / Q8_1 activations in dot_avx2.cpp's order: one 8-lane
// accumulator, acc = fma(float(lane sums), d_x*d_y, acc) per block, the _1 types' min term summed
// by fma in a float; result hsum(acc) (+ mins for the _1 types).
// Policy P: Block, Act, u(block) -> the weights as bytes; kOffset: u is unsigned and the value is
// u - kOffset; kSigned: u is already the signed value (Q8_0); kMin: the _1 types' min term.
template <typename P>
struct QuantTile {
  static constexpr int kR = 3, kC = 2;  // kC <= 4: the min terms use one 4-lane vector per row
  template <int R, int C>
  static void tile(const TileArgs& a) {
    using W = typename P::Block;
    using A = typename P::Act;
    const W* x[R];
    const A* y[C];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) x[r] = reinterpret_cast<const W*>(a.x + size_t(r) * a.xs);
#pragma GCC unroll 16
    for (int j = 0; j < C; ++j) y[j] = reinterpret_cast<const A*>(a.y + size_t(j) * a.ys);
    static_assert(!(P::kSigned && P::kOffset), "a signed type has no offset");
    __m256 acc[R][C];
    __m128 mins[R];  // lane j: the min-term sum of column j (a vector fma is fmaf lane by lane)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      mins[r] = _mm_setzero_ps();
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) acc[r][j] = _mm256_setzero_ps();
    }
    const int64_t nb = a.n / kQK;
    for (int64_t b = 0; b < nb; ++b) {
      __m256i qy[C], start[C] = {};
      __m256 dy[C];
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) {
        qy[j] = load32(y[j][b].qs);
        dy[j] = _mm256_set1_ps(fp16(y[j][b].d));
        if constexpr (P::kOffset != 0) start[j] = dot_u8_s8(_mm256_set1_epi8(char(P::kOffset)), qy[j]);
      }
      __m128 sy = _mm_setzero_ps();
      if constexpr (P::kMin) {
        float s[4] = {0, 0, 0, 0};
#pragma GCC unroll 16
        for (int j = 0; j < C; ++j) s[j] = fp16(y[j][b].s);
        sy = _mm_loadu_ps(s);
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        if (a.prefetch) _mm_prefetch(reinterpret_cast<const char*>(&x[r][b]) + a.prefetch, _MM_HINT_T1);
        const __m256i u = P::u(x[r][b]);
        const __m256 dx = _mm256_set1_ps(fp16(x[r][b].d));
#pragma GCC unroll 16
        for (int j = 0; j < C; ++j) {
          __m256i sum;
          if constexpr (P::kSigned)
            sum = dot_u8_s8(_mm256_sign_epi8(u, u), _mm256_sign_epi8(qy[j], u));
          else if constexpr (P::kOffset != 0)
            sum = _mm256_sub_epi32(dot_u8_s8(u, qy[j]), start[j]);
          else
            sum = dot_u8_s8(u, qy[j]);
          acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(dx, dy[j]), acc[r][j]);
        }
        if constexpr (P::kMin) mins[r] = _mm_fmadd_ps(_mm_set1_ps(fp16(x[r][b].m)), sy, mins[r]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      float m[4];
      _mm_storeu_ps(m, mins[r]);
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) {
        if constexpr (P::kMin)
          a.out[j * a.ldo + r] = hsum(acc[r][j]) + m[j];
        else
          a.out[j * a.ldo + r] = hsum(acc[r][j]);
      }
    }
  }
};

struct Q4_0P {
  static constexpr bool kSigned = false;
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  static __m256i u(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q4_1P {
  static constexpr bool kSigned = false;
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i u(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_0P {
  static constexpr bool kSigned = false;
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  static __m256i u(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), unpack_high_bits(b.qh)); }
};
struct Q5_1P {
  static constexpr bool kSigned = false;
  using Block = BlockQ5_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i u(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), unpack_high_bits(b.qh)); }
};
struct Q8_0P {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = true;
  static constexpr bool kMin = false;
  static __m256i u(const Block& b) { return load32(b.qs); }
};

// IQ4_NL: the signed codebook values (kValuesIq4nl, iquants_tables.cpp, from ggml-common.h's
// kvalues_iq4nl) with the sign trick, as the dot (iquants_simd.inc, dot_iq4_nl_q8_0); value + 128
// would overflow maddubs' int16 pairs. Accumulation as Q4_0's, scale d_y * d_x (the same product).
struct Iq4NlP {
  using Block = BlockIq4Nl;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = true;
  static constexpr bool kMin = false;
  static __m256i u(const Block& b) {
    const __m256i table = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                           -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm256_shuffle_epi8(table, unpack_nibbles(b.qs));
  }
};

// The one-activation-row product (TypeTraits::vec_dot4) of a type whose only SIMD dot is elsewhere:
// the 4 x 1 tile, so each activation block is loaded once for four weight rows.
template <typename K>
void dot4_by_tile(int64_t n, const void* x, size_t row_bytes, const void* y, float* out) {
  // Prefetch as dot_avx*.cpp's four-row dots: the same block two row groups ahead.
  const TileArgs a{n, static_cast<const uint8_t*>(x), row_bytes, static_cast<const uint8_t*>(y), 0, out, 1, 8 * row_bytes};
  K::template tile<4, 1>(a);
}

}  // namespace

GemmKernels gemm_kernels_avx2() {
  GemmKernels k{};
  k.f32 = gemm<FloatTile<false>>;
  k.f16_f32 = gemm<FloatTile<true>>;
  k.q4_0_q8_0 = gemm<QuantTile<Q4_0P>>;
  k.q4_1_q8_1 = gemm<QuantTile<Q4_1P>>;
  k.q5_0_q8_0 = gemm<QuantTile<Q5_0P>>;
  k.q5_1_q8_1 = gemm<QuantTile<Q5_1P>>;
  k.q8_0_q8_0 = gemm<QuantTile<Q8_0P>>;
  k.iq4_nl_q8_0 = gemm<QuantTile<Iq4NlP>>;
  k.iq4_nl_q8_0_x4 = dot4_by_tile<QuantTile<Iq4NlP>>;
  return k;
}

}  // namespace pj
