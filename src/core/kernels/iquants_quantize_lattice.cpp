// Quantizers of the 2- and 3-bit lattice types IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S, byte-exact
// with llama.cpp's quantize_iq2_xxs ... quantize_iq3_s (algorithms learned from
// ggml/src/ggml-quants.c, quantize_row_iq2_xxs_impl etc.; this is our own code).
//
// Every type works the same way per group of 16 or 32 values (one scale each): take absolute values
// (the signs are stored apart; IQ2_XXS, IQ2_XS and IQ3_XXS keep 7 sign bits per 8 values and an even
// count of negatives, flipping the least important value if needed), then try a range of candidate
// scales: round each value to a level, snap each run of `dim` levels to the grid (or, off the grid,
// to the best of its neighbours, iquants_lattice.h), and keep the scale with the best weighted
// least-squares fit. A last pass re-snaps with the fitted scale. The group scales are then quantized
// to 4 bits against a per-block fp16 scale.
// Bit-exactness needs llama.cpp's float operations in its order: built with -ffp-contract=off.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/kernels/iquants_lattice.h"
#include "core/kernels/iquants_ref.h"
#include "core/kernels/kquants_ref.h"

namespace pj {
namespace {

constexpr float kGroupMaxEps = 1e-15f;       // ggml-quants.c GROUP_MAX_EPS
constexpr float kGroupMaxEpsIq3xxs = 1e-8f;  // GROUP_MAX_EPS_IQ3_XXS
constexpr float kGroupMaxEpsIq2s = 1e-8f;    // GROUP_MAX_EPS_IQ2_S

// How one type searches the scale of a group.
struct Search {
  Lattice lattice;
  int n;                  // values per group: 16 or 32
  int kmax;               // levels 0 .. kmax-1 (value 2 l + 1)
  int is_lo, is_hi;       // candidate scales: (2 kmax - 1 + is * step) / max for is in [is_lo, is_hi]
  float step;
  bool init_on_grid;      // whether the groups count as on the grid when no candidate is taken
  bool always_refit;      // refit with the best scale even when every point was on the grid
  bool refit_all;         // the refit re-snaps every point, not only the ones that were off the grid
};

uint32_t key_of(const int8_t* L, int dim, int bits) {
  uint32_t key = 0;
  for (int i = 0; i < dim; ++i) key |= uint32_t(L[i]) << (bits * i);
  return key;
}

// Levels of one point for the inverse scale id: nearest level of each value, clamped.
uint32_t round_point(const float* xval, float id, int dim, int bits, int kmax, int8_t* L) {
  for (int i = 0; i < dim; ++i) {
    const int l = lattice_nearest_int(0.5f * (id * xval[i] - 1));
    L[i] = int8_t(std::max(0, std::min(kmax - 1, l)));
  }
  return key_of(L, dim, bits);
}

// Weighted least squares of xval against the odd integers 2 L + 1.
void fit(int n, const float* weight, const float* xval, const int8_t* L, float& sumqx, float& sumq2) {
  sumqx = 0;
  sumq2 = 0;
  for (int i = 0; i < n; ++i) {
    const float w = weight[i];
    const float q = float(2 * L[i] + 1);
    sumqx += w * xval[i] * q;
    sumq2 += w * q * q;
  }
}

// The search of one group: xval (non-negative), weight and waux = sqrt(weight) of s.n values; `ref`
// is the largest value (IQ2_XXS: its effective maximum), `scale` the scale to keep if no candidate
// fits. Leaves the levels in L (on the grid) and returns the scale.
float search_group(const Search& s, const float* xval, const float* weight, const float* waux, float ref, float scale,
                   int8_t* L) {
  const LatticeTables& lat = lattice_tables(s.lattice);
  const int dim = lat.dim, bits = lat.bits, ng = s.n / dim;
  int8_t Laux[32];
  bool on_grid[8], on_grid_aux[8];
  for (int k = 0; k < ng; ++k) on_grid[k] = s.init_on_grid;
  float best = 0;
  for (int is = s.is_lo; is <= s.is_hi; ++is) {
    const float id = (float(2 * s.kmax - 1) + float(is) * s.step) / ref;
    const float this_scale = 1 / id;
    for (int k = 0; k < ng; ++k) {
      const uint32_t key = round_point(xval + dim * k, id, dim, bits, s.kmax, Laux + dim * k);
      on_grid_aux[k] = lat.map[key] >= 0;
      if (!on_grid_aux[k]) lattice_best_neighbour(lat, key, xval + dim * k, waux + dim * k, this_scale, Laux + dim * k);
    }
    float sumqx, sumq2;
    fit(s.n, weight, xval, Laux, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(L, Laux, size_t(s.n));
      std::copy(on_grid_aux, on_grid_aux + ng, on_grid);
    }
  }
  const bool any_off = std::find(on_grid, on_grid + ng, false) != on_grid + ng;
  if ((s.always_refit || any_off) && scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < ng; ++k) {
      if (!s.refit_all && on_grid[k]) continue;
      const uint32_t key = round_point(xval + dim * k, id, dim, bits, s.kmax, L + dim * k);
      if (lat.map[key] < 0) lattice_best_neighbour(lat, key, xval + dim * k, waux + dim * k, scale, L + dim * k);
    }
    float sumqx, sumq2;
    fit(s.n, weight, xval, L, sumqx, sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  return scale;
}

// Grid index of each run of dim levels in L (all on the grid by construction).
int grid_index(Lattice lattice, const int8_t* L) {
  const LatticeTables& lat = lattice_tables(lattice);
  const int32_t g = lat.map[key_of(L, lat.dim, lat.bits)];
  assert(g >= 0 && "lattice search left a point off the grid");
  return g;
}

float sum_squares(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// weight = qw * sqrt(sigma2 + x^2) with importance weights, else the type's default; waux = sqrt(weight).
enum class NoImatrix { X2, QuarterSigma2PlusX2 };
void group_weights(const float* xb, const float* qw, float sigma2, int n, NoImatrix mode, float* weight, float* waux) {
  if (qw) {
    for (int i = 0; i < n; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
  } else if (mode == NoImatrix::X2) {
    for (int i = 0; i < n; ++i) weight[i] = xb[i] * xb[i];
  } else {
    for (int i = 0; i < n; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
  }
  for (int i = 0; i < n; ++i) waux[i] = std::sqrt(weight[i]);
}

// |x| of 8 values and their sign bits. With even_parity, an odd count of negatives is made even by
// flipping the value of least weight x^2 (the decoder infers the 8th sign bit); returns 7 bits then.
uint8_t split_signs(const float* xb, const float* weight, bool even_parity, float* xval) {
  int nflip = 0;
  uint8_t s = 0;
  for (int i = 0; i < 8; ++i) {
    if (xb[i] >= 0) {
      xval[i] = xb[i];
    } else {
      xval[i] = -xb[i];
      ++nflip;
      s = uint8_t(s | (1 << i));
    }
  }
  if (!even_parity) return s;
  if (nflip % 2) {
    int imin = 0;
    float min = weight[0] * xb[0] * xb[0];
    for (int i = 1; i < 8; ++i) {
      const float ax = weight[i] * xb[i] * xb[i];
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    xval[imin] = -xval[imin];
    s = uint8_t(s ^ (1 << imin));
  }
  return uint8_t(s & 127);
}

float max_of(const float* x, int n) {
  float m = x[0];
  for (int i = 1; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// 4-bit group scale l with d * (2 l + 1) ~ scale.
int scale_code(float id, float scale) {
  const int l = lattice_nearest_int(0.5f * (id * scale - 1));
  return std::max(0, std::min(15, l));
}

void need_imatrix(const float* imatrix, const char* type) {
  if (!imatrix)
    fail("quantize: {} needs an importance matrix (make one with llama.cpp's llama-imatrix and pass --imatrix)", type);
}

// ------------------------------------------------------------------------------------ IQ2_XXS

void quantize_block_iq2_xxs(const float* xbl, const float* qwbl, BlockIq2Xxs& y) {
  const Search s{Lattice::Iq2xxs, 32, 3, -6, 6, 0.1f, true, true, true};
  float scales[kQK_K / 32], weight[32], waux[32], xval[32];
  int8_t L[32];
  uint8_t block_signs[4];
  uint32_t q2[2 * (kQK_K / 32)] = {};
  y.d = f32_to_fp16(0.f);
  float max_scale = 0;
  const float sigma2 = sum_squares(xbl, kQK_K) / kQK_K;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const float* xb = xbl + 32 * ib;
    group_weights(xb, qwbl + 32 * ib, sigma2, 32, NoImatrix::X2, weight, waux);
    for (int k = 0; k < 4; ++k) block_signs[k] = split_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k);
    if (max_of(xval, 32) < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    uint8_t Lqp[32];
    const float qp_scale = make_qp_quants_weighted(32, s.kmax + 1, xval, Lqp, weight);
    const float eff_max = qp_scale * float(s.kmax);
    if (eff_max <= 0) {
      scales[ib] = 0;
      continue;
    }
    float scale = search_group(s, xval, weight, waux, eff_max, qp_scale, L);
    if (scale < 0) {  // cannot happen (values and levels are non-negative); kept as llama.cpp has it
      scale = -scale;
      for (int k = 0; k < 4; ++k) block_signs[k] = uint8_t(~block_signs[k] & 127);
    }
    for (int k = 0; k < 4; ++k) {
      q2[2 * ib + 0] |= uint32_t(grid_index(s.lattice, L + 8 * k)) << 8 * k;
      q2[2 * ib + 1] |= uint32_t(block_signs[k]) << 7 * k;
    }
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  if (!max_scale) {
    std::memset(y.qs, 0, sizeof y.qs);
    return;
  }
  const float d = max_scale / 31;
  y.d = f32_to_fp16(d);
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / 32; ++ib) q2[2 * ib + 1] |= uint32_t(scale_code(id, scales[ib])) << 28;
  std::memcpy(y.qs, q2, sizeof y.qs);
}

// ------------------------------------------------------------------------------ IQ2_XS, IQ2_S

// Both: groups of 16 (two points), 4-bit scales in nibbles. IQ2_XS keeps 7 sign bits with even
// parity and 9-bit indices; IQ2_S explicit signs, 10-bit indices, default weights without imatrix.
// Returns the largest group scale (0: the block is all zero).
template <bool kIsS>
float quantize_block_iq2_16(const float* xbl, const float* qwbl, uint16_t& dh, uint8_t* scales_out, uint16_t* q2xs,
                           BlockIq2S* y2s) {
  const Search s{kIsS ? Lattice::Iq2s : Lattice::Iq2xs, 16, 3, -9, 9, 0.1f, true, false, false};
  float scales[kQK_K / 16], weight[16], waux[16], xval[16];
  int8_t L[16];
  uint8_t block_signs[2];
  float max_scale = 0;
  const float sumx2 = sum_squares(xbl, kQK_K);
  const float sigma2 = kIsS ? 2 * sumx2 / kQK_K : sumx2 / kQK_K;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float* xb = xbl + 16 * ib;
    group_weights(xb, qwbl ? qwbl + 16 * ib : nullptr, sigma2, 16, NoImatrix::QuarterSigma2PlusX2, weight, waux);
    for (int k = 0; k < 2; ++k) block_signs[k] = split_signs(xb + 8 * k, weight + 8 * k, !kIsS, xval + 8 * k);
    std::memset(L, 0, sizeof L);
    const float max = max_of(xval, 16);
    if (max < (kIsS ? kGroupMaxEpsIq2s : kGroupMaxEps)) {
      scales[ib] = 0;
      continue;
    }
    float scale = search_group(s, xval, weight, waux, max, max / float(2 * s.kmax - 1), L);
    if (scale < 0) {
      scale = -scale;
      for (int k = 0; k < 2; ++k) block_signs[k] = uint8_t(kIsS ? ~block_signs[k] : ~block_signs[k] & 127);
    }
    for (int k = 0; k < 2; ++k) {
      const int g = grid_index(s.lattice, L + 8 * k);
      const int i8 = 2 * ib + k;
      if constexpr (kIsS) {
        y2s->qs[i8] = uint8_t(g & 255);
        y2s->qh[i8 / 4] = uint8_t(y2s->qh[i8 / 4] | ((g >> 8) << 2 * (i8 % 4)));
        y2s->qs[kQK_K / 8 + i8] = block_signs[k];
      } else {
        q2xs[i8] = uint16_t(g | (block_signs[k] << 9));
      }
    }
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  if (!max_scale) return 0;
  const float d = max_scale / 31;
  dh = f32_to_fp16(kIsS ? d * 0.9875f : d);
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const int l = scale_code(id, scales[ib]);
    if (ib % 2 == 0) scales_out[ib / 2] = uint8_t(l);
    else scales_out[ib / 2] = uint8_t(scales_out[ib / 2] | (l << 4));
  }
  return max_scale;
}

void quantize_block_iq2_xs(const float* xbl, const float* qwbl, BlockIq2Xs& y) {
  uint16_t q2[2 * (kQK_K / 16)] = {};
  y.d = f32_to_fp16(0.f);
  std::memset(y.scales, 0, sizeof y.scales);
  if (!quantize_block_iq2_16<false>(xbl, qwbl, y.d, y.scales, q2, nullptr)) std::memset(q2, 0, sizeof q2);
  std::memcpy(y.qs, q2, sizeof y.qs);
}

void quantize_block_iq2_s(const float* xbl, const float* qwbl, BlockIq2S& y) {
  std::memset(&y, 0, sizeof y);
  y.d = f32_to_fp16(0.f);
  quantize_block_iq2_16<true>(xbl, qwbl, y.d, y.scales, nullptr, &y);
}

// ---------------------------------------------------------------------------- IQ3_XXS, IQ3_S

void quantize_block_iq3_xxs(const float* xbl, const float* qwbl, BlockIq3Xxs& y) {
  const Search s{Lattice::Iq3xxs, 32, 8, -15, 15, 0.2f, true, false, false};
  float scales[kQK_K / 32], weight[32], waux[32], xval[32];
  int8_t L[32];
  uint8_t block_signs[4];
  uint8_t q3[3 * (kQK_K / 8)] = {};  // 64 grid indices, then a uint32 of signs and scale per group
  uint32_t scales_and_signs[kQK_K / 32] = {};
  y.d = f32_to_fp16(0.f);
  float max_scale = 0;
  const float sigma2 = 2 * sum_squares(xbl, kQK_K) / kQK_K;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const float* xb = xbl + 32 * ib;
    group_weights(xb, qwbl ? qwbl + 32 * ib : nullptr, sigma2, 32, NoImatrix::X2, weight, waux);
    for (int k = 0; k < 4; ++k) block_signs[k] = split_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k);
    std::memset(L, 0, sizeof L);
    const float max = max_of(xval, 32);
    if (max < kGroupMaxEpsIq3xxs) {
      scales[ib] = 0;
      continue;
    }
    float scale = search_group(s, xval, weight, waux, max, max / float(2 * s.kmax - 1), L);
    if (scale < 0) {
      scale = -scale;
      for (int k = 0; k < 4; ++k) block_signs[k] = uint8_t(~block_signs[k] & 127);
    }
    for (int k = 0; k < 8; ++k) q3[8 * ib + k] = uint8_t(grid_index(s.lattice, L + 4 * k));
    scales_and_signs[ib] = uint32_t(block_signs[0]) | uint32_t(block_signs[1]) << 7 | uint32_t(block_signs[2]) << 14 |
                           uint32_t(block_signs[3]) << 21;
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  if (!max_scale) {
    std::memset(y.qs, 0, sizeof y.qs);
    return;
  }
  const float d = max_scale / 31;
  y.d = f32_to_fp16(d * 1.0125f);
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / 32; ++ib) scales_and_signs[ib] |= uint32_t(scale_code(id, scales[ib])) << 28;
  std::memcpy(y.qs, q3, kQK_K / 4);
  std::memcpy(y.qs + kQK_K / 4, scales_and_signs, sizeof scales_and_signs);
}

void quantize_block_iq3_s(const float* xbl, const float* qwbl, BlockIq3S& y) {
  const Search s{Lattice::Iq3s, 32, 8, -9, 9, 0.2f, false, false, true};
  float scales[kQK_K / 32], weight[32], waux[32], xval[32];
  int8_t L[32];
  uint8_t block_signs[4];
  std::memset(&y, 0, sizeof y);
  y.d = f32_to_fp16(0.f);
  float max_scale = 0;
  int n_written = 0;
  const float sigma2 = 2 * sum_squares(xbl, kQK_K) / kQK_K;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const float* xb = xbl + 32 * ib;
    group_weights(xb, qwbl ? qwbl + 32 * ib : nullptr, sigma2, 32, NoImatrix::X2, weight, waux);
    for (int k = 0; k < 4; ++k) block_signs[k] = split_signs(xb + 8 * k, weight + 8 * k, false, xval + 8 * k);
    std::memset(L, 0, sizeof L);
    const float max = max_of(xval, 32);
    if (!max) {
      scales[ib] = 0;
      continue;
    }
    float scale = search_group(s, xval, weight, waux, max, max / float(2 * s.kmax - 1), L);
    if (scale < 0) {
      scale = -scale;
      for (int k = 0; k < 4; ++k) block_signs[k] = uint8_t(~block_signs[k]);
    }
    // llama.cpp advances its qs and signs write positions only past groups that were not all zero
    // (an all-zero group shifts the later groups' indices and signs; qh goes by group): reproduced.
    for (int k = 0; k < 8; ++k) {
      const int g = grid_index(s.lattice, L + 4 * k);
      const int j = 8 * ib + k;
      y.qs[8 * n_written + k] = uint8_t(g & 255);
      y.qh[j / 8] = uint8_t(y.qh[j / 8] | ((g >> 8) << (j % 8)));
    }
    for (int k = 0; k < 4; ++k) y.signs[4 * n_written + k] = block_signs[k];
    ++n_written;
    scales[ib] = scale;
    max_scale = std::max(max_scale, scale);
  }
  if (!max_scale) return;
  const float d = max_scale / 31;
  y.d = f32_to_fp16(d * 1.033f);
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / 32; ib += 2)
    y.scales[ib / 2] = uint8_t(scale_code(id, scales[ib]) | scale_code(id, scales[ib + 1]) << 4);
}

}  // namespace

size_t quantize_rows_iq2_xxs(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  need_imatrix(imatrix, "IQ2_XXS");
  return quantize_super_blocks<BlockIq2Xxs, quantize_block_iq2_xxs>(src, dst, nrow, n_per_row, imatrix);
}
size_t quantize_rows_iq2_xs(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  need_imatrix(imatrix, "IQ2_XS");
  return quantize_super_blocks<BlockIq2Xs, quantize_block_iq2_xs>(src, dst, nrow, n_per_row, imatrix);
}
size_t quantize_rows_iq2_s(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  return quantize_super_blocks<BlockIq2S, quantize_block_iq2_s>(src, dst, nrow, n_per_row, imatrix);
}
size_t quantize_rows_iq3_xxs(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  return quantize_super_blocks<BlockIq3Xxs, quantize_block_iq3_xxs>(src, dst, nrow, n_per_row, imatrix);
}
size_t quantize_rows_iq3_s(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  return quantize_super_blocks<BlockIq3S, quantize_block_iq3_s>(src, dst, nrow, n_per_row, imatrix);
}

void quantize_row_iq2_s_ref(const float* x, BlockIq2S* y, int64_t n) { quantize_rows_iq2_s(x, y, 1, n, nullptr); }
void quantize_row_iq3_xxs_ref(const float* x, BlockIq3Xxs* y, int64_t n) { quantize_rows_iq3_xxs(x, y, 1, n, nullptr); }
void quantize_row_iq3_s_ref(const float* x, BlockIq3S* y, int64_t n) { quantize_rows_iq3_s(x, y, 1, n, nullptr); }

}  // namespace pj
