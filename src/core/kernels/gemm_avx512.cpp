// AVX-512 (F, BW, VL, DQ, VNNI) register-blocked tile kernels for matmul (TypeTraits::gemm,
// kernel_table.h). Compiled with -mavx512*; see simd_kernels.h for why this file includes no std
// headers.
//
// Every output element is bit-identical to the vec_dot of dot_avx512.cpp: it has the same
// accumulators, updated in the same order with the same operations. What changes is that a micro-tile
// of R weight rows x C activation rows is computed at once, so each loaded (and unpacked) weight block
// serves C columns and each activation block R rows: the one-row dots are load-bound, these are not.
//
// Quant tiles: the int32 lane sums (4 consecutive byte products per lane) are exact integers, so any
// way of computing them gives vec_dot's values. Here one vpdpbusd per (row, column, block): weights
// as unsigned bytes (Q4_0/Q5_0 nibbles without the -8/-16 offset, Q8_0 + 128), and the offset folded
// into the accumulator's start value, -offset * (sum of 4 activation bytes) per lane, computed once
// per activation block and shared by the R rows. The scale d_x * d_y is the same float product.
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
  return _mm256_maskz_mov_epi8(__mmask32(qh), _mm256_set1_epi8(0x10));
}
inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __mmask16 tail_mask(int64_t left) { return __mmask16(left >= 16 ? 0xffff : (1u << left) - 1); }

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

// ---- F32 x F32 and F16 x F32: dot_f32 / dot_f16_f32's two 16-lane accumulators per output (a0 takes
// the even 16-element chunks of each 32, a1 the odd ones, a masked tail goes to a0), then
// reduce_add(a0 + a1). 4 x 3 outputs = 24 zmm accumulators.
template <bool kF16>
struct FloatTile {
  static constexpr int kR = 4, kC = 3;
  static __m512 wload(const uint8_t* row, int64_t i) {
    if constexpr (kF16)
      return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + i)));
    else
      return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static __m512 wload_masked(const uint8_t* row, int64_t i, __mmask16 m) {
    if constexpr (kF16)
      return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + i));
    else
      return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i);
  }
  template <int R, int C>
  static void tile(const TileArgs& a) {
    const float* y[C];
#pragma GCC unroll 16
    for (int j = 0; j < C; ++j) y[j] = reinterpret_cast<const float*>(a.y + size_t(j) * a.ys);
    __m512 a0[R][C], a1[R][C];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) a0[r][j] = a1[r][j] = _mm512_setzero_ps();
    const int64_t n = a.n;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      __m512 yv[C];
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) yv[j] = _mm512_loadu_ps(y[j] + i);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 xv = wload(a.x + size_t(r) * a.xs, i);
#pragma GCC unroll 16
        for (int j = 0; j < C; ++j) a0[r][j] = _mm512_fmadd_ps(xv, yv[j], a0[r][j]);
      }
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) yv[j] = _mm512_loadu_ps(y[j] + i + 16);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 xv = wload(a.x + size_t(r) * a.xs, i + 16);
#pragma GCC unroll 16
        for (int j = 0; j < C; ++j) a1[r][j] = _mm512_fmadd_ps(xv, yv[j], a1[r][j]);
      }
    }
    for (; i < n; i += 16) {
      const __mmask16 m = tail_mask(n - i);
      __m512 yv[C];
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) yv[j] = _mm512_maskz_loadu_ps(m, y[j] + i);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 xv = wload_masked(a.x + size_t(r) * a.xs, i, m);
#pragma GCC unroll 16
        for (int j = 0; j < C; ++j) a0[r][j] = _mm512_fmadd_ps(xv, yv[j], a0[r][j]);
      }
    }
#pragma GCC unroll 16
    for (int j = 0; j < C; ++j)
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) a.out[j * a.ldo + r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r][j], a1[r][j]));
  }
};

// ---- 32-element block quants against Q8_0 / Q8_1 activations: dot_blocks' order (one 8-lane
// accumulator, acc = fma(float(lane sums), d_x*d_y, acc) per block, the _1 types' min term summed
// by fma in a float, result hsum(acc) + mins).
// Policy P: Block, Act, kOffset (weights are stored as unsigned value + kOffset... i.e. the signed
// value is u - kOffset; 0: unsigned weights as in Q4_1/Q5_1), kMin, and u(block) -> unsigned bytes.
// Four fp16 scales (missing ones 0) -> four floats in one conversion; the integer packing runs on
// the scalar ports, which the vector work leaves idle.
inline __m128 fp16x4(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  return _mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(a | (b << 16) | (c << 32) | (d << 48))));
}
// Lane i of each 128-bit half, in all four lanes of that half (i < 4; a constant once unrolled).
inline __m256 lane4(__m256 v, int i) {
  switch (i) {
    case 0: return _mm256_permute_ps(v, 0x00);
    case 1: return _mm256_permute_ps(v, 0x55);
    case 2: return _mm256_permute_ps(v, 0xAA);
    default: return _mm256_permute_ps(v, 0xFF);
  }
}
template <int N, typename B>
inline __m256 scales4(const B* const* p, int64_t b) {
  uint64_t h[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) h[i] = p[i][b].d;
  const __m128 v = fp16x4(h[0], h[1], h[2], h[3]);
  return _mm256_set_m128(v, v);
}

template <typename P>
struct QuantTile {
  static constexpr int kR = 4, kC = 4;  // kC <= 4: the min terms use one 4-lane vector per row
  template <int R, int C>
  static void tile(const TileArgs& a) {
    if (a.prefetch) tile_impl<R, C, true>(a);
    else tile_impl<R, C, false>(a);
  }
  template <int R, int C, bool kPrefetch>
  static void tile_impl(const TileArgs& a) {
    using W = typename P::Block;
    using A = typename P::Act;
    const W* x[R];
    const A* y[C];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) x[r] = reinterpret_cast<const W*>(a.x + size_t(r) * a.xs);
#pragma GCC unroll 16
    for (int j = 0; j < C; ++j) y[j] = reinterpret_cast<const A*>(a.y + size_t(j) * a.ys);
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
      __m256i qy[C], start[C];
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) {
        qy[j] = load32(y[j][b].qs);
        if constexpr (P::kOffset != 0)
          start[j] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                      _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(char(P::kOffset)), qy[j]));
        else
          start[j] = _mm256_setzero_si256();
      }
      // d_y of the C columns and d_x of the R rows, in lanes 0..3 of both halves
      const __m256 dy = scales4<C>(y, b), dx = scales4<R>(x, b);
      __m128 sy = _mm_setzero_ps();
      if constexpr (P::kMin) {
        float s[4] = {0, 0, 0, 0};
#pragma GCC unroll 16
        for (int j = 0; j < C; ++j) s[j] = fp16(y[j][b].s);
        sy = _mm_loadu_ps(s);
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        if constexpr (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(&x[r][b]) + a.prefetch, _MM_HINT_T1);
        const __m256i u = P::u(x[r][b]);
        // lane j: d_x * d_y[j], the same float product as the dot's
        const __m256 d = _mm256_mul_ps(lane4(dx, r), dy);
#pragma GCC unroll 16
        for (int j = 0; j < C; ++j) {
          const __m256i sum = _mm256_dpbusd_epi32(start[j], u, qy[j]);
          acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), lane4(d, j), acc[r][j]);
        }
        if constexpr (P::kMin) mins[r] = _mm_fmadd_ps(_mm_set1_ps(fp16(x[r][b].m)), sy, mins[r]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      float m[4];
      _mm_storeu_ps(m, mins[r]);
#pragma GCC unroll 16
      for (int j = 0; j < C; ++j) a.out[j * a.ldo + r] = hsum(acc[r][j]) + m[j];
    }
  }
};

struct Q4_0P {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  static __m256i u(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q4_1P {
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i u(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_0P {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  static __m256i u(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), unpack_high_bits(b.qh)); }
};
struct Q5_1P {
  using Block = BlockQ5_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i u(const Block& b) { return _mm256_or_si256(unpack_nibbles(b.qs), unpack_high_bits(b.qh)); }
};
struct Q8_0P {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 128;  // x + 128 as an unsigned byte: flip the sign bit
  static constexpr bool kMin = false;
  static __m256i u(const Block& b) { return _mm256_xor_si256(load32(b.qs), _mm256_set1_epi8(char(0x80))); }
};

// IQ4_NL: the codebook value of each nibble (kValuesIq4nl, iquants_tables.cpp, from ggml-common.h's
// kvalues_iq4nl) plus 128, so that the unsigned byte minus kOffset is the signed value; the dot
// (iquants_simd.inc, dot_iq4_nl_q8_0) has Q4_0's accumulation, with the scale d_y * d_x (the same
// float product).
struct Iq4NlP {
  using Block = BlockIq4Nl;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 128;
  static constexpr bool kMin = false;
  static __m256i u(const Block& b) {
    const __m256i table = _mm256_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, char(129), char(141), char(153),
                                           char(166), char(181), char(197), char(217), char(241), 1, 24, 45, 63,
                                           79, 93, 106, 118, char(129), char(141), char(153), char(166), char(181),
                                           char(197), char(217), char(241));
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

GemmKernels gemm_kernels_avx512() {
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
