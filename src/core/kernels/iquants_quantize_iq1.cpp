// Quantizers of the 1.5-bit ternary-lattice types IQ1_S and IQ1_M, byte-exact with llama.cpp's
// quantize_iq1_s / quantize_iq1_m (algorithms learned from ggml/src/ggml-quants.c; our own code).
//
// A group (32 values for IQ1_S, 16 for IQ1_M) is coded as points of the 2048-point grid in
// {-1, 0, 1}^8, shifted by +-1/8 ("delta"), times a group scale. With three values per element the
// best split of the sorted values into the groups {-1, 0, 1} can be found exhaustively from prefix
// sums (O(n^2) splits); the split's points are then snapped to the grid (or its nearest neighbours,
// iquants_lattice.h) and the scale refitted. IQ1_M picks the delta sign per 8 values.
// Bit-exactness needs llama.cpp's float operations in its order: built with -ffp-contract=off. The
// sort must be stable (glibc's qsort, which llama.cpp calls, is a merge sort for these sizes).
#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/kernels/iquants_lattice.h"
#include "core/kernels/iquants_ref.h"

namespace pj {
namespace {

constexpr float kDelta = 0.125f;             // IQ1S_DELTA, IQ1M_DELTA (ggml-common.h)
constexpr float kGroupMaxEpsIq1s = 1e-12f;   // GROUP_MAX_EPS_IQ1_S
constexpr float kGroupMaxEpsIq1m = 1e-7f;    // GROUP_MAX_EPS_IQ1_M
constexpr float kXp[3] = {-1 + kDelta, kDelta, 1 + kDelta};
constexpr float kXm[3] = {-1 - kDelta, -kDelta, 1 - kDelta};

// The neighbour of an off-grid key minimising sum w (scale xx[l] - x)^2 (llama.cpp's
// iq1_find_best_neighbour2); writes its levels to L and returns its index.
int best_neighbour_iq1(const LatticeTables& lat, uint32_t key, const float* x, const float* weight, float scale,
                       const float* xx, int8_t* L) {
  const uint16_t* nb = lat.neighbours_of(key);
  float best_score = FLT_MAX;
  int best = nb[1];  // llama.cpp would scan the whole grid if no d2 < FLT_MAX (inf/NaN input only)
  for (int j = 1; j <= nb[0]; ++j) {
    const uint8_t* pg = lat.point(nb[j]);
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      const float q = xx[pg[i]];
      const float w = weight[i];
      const float diff = scale * q - x[i];
      d2 += w * diff * diff;
    }
    if (d2 < best_score) {
      best_score = d2;
      best = nb[j];
    }
  }
  const uint8_t* pg = lat.point(best);
  for (int i = 0; i < 8; ++i) L[i] = int8_t(pg[i]);
  return best;
}

// Indices 0..n-1 ordered by x (stable: equal values keep their order).
void sorted_order(const float* x, int n, int* idx) {
  std::iota(idx, idx + n, 0);
  std::stable_sort(idx, idx + n, [x](int a, int b) { return x[a] < x[b]; });
}

// Grid index of each point of L (n/8 of them); snapped to the best neighbour where off the grid, with
// the delta table of each point from xx_of(k). Returns whether all were on the grid.
template <class XxOf>
bool snap_to_grid(const LatticeTables& lat, int n, const float* xb, const float* weight, float scale, XxOf xx_of,
                  int8_t* L, uint16_t* index) {
  bool all_on_grid = true;
  for (int k = 0; k < n / 8; ++k) {
    uint32_t key = 0;
    for (int j = 0; j < 8; ++j) key |= uint32_t(L[8 * k + j]) << 2 * j;
    int g = lat.map[key];
    if (g < 0) {
      all_on_grid = false;
      g = best_neighbour_iq1(lat, key, xb + 8 * k, weight + 8 * k, scale, xx_of(k), L + 8 * k);
    }
    index[k] = uint16_t(g);
  }
  return all_on_grid;
}

void group_weights(const float* xb, const float* qw, float sigma2, int n, float* weight) {
  if (qw) {
    for (int i = 0; i < n; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
  } else {
    for (int i = 0; i < n; ++i) weight[i] = xb[i] * xb[i];
  }
}

float abs_max(const float* x, int n) {
  float m = std::fabs(x[0]);
  for (int i = 1; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

float block_sigma2(const float* x) {
  float s = 0;
  for (int i = 0; i < kQK_K; ++i) s += x[i] * x[i];
  return 2 * s / kQK_K;
}

// ---------------------------------------------------------------------------------------- IQ1_S

void quantize_block_iq1_s(const float* xbl, const float* qwbl, BlockIq1S& y) {
  constexpr int kBs = 32;
  const LatticeTables& lat = lattice_tables(Lattice::Iq1s);
  float scales[kQK_K / kBs], weight[kBs], sumx[kBs + 1], sumw[kBs + 1];
  int idx[kBs];
  int8_t L[kBs];
  int8_t shifts[kQK_K / kBs];
  uint16_t index[kBs / 8];

  y.d = f32_to_fp16(0.f);
  std::memset(y.qs, 0, sizeof y.qs);
  std::memset(y.qh, 0, sizeof y.qh);
  float max_scale = 0;
  const float sigma2 = block_sigma2(xbl);
  for (int ib = 0; ib < kQK_K / kBs; ++ib) {
    const float* xb = xbl + kBs * ib;
    group_weights(xb, qwbl + kBs * ib, sigma2, kBs, weight);
    if (abs_max(xb, kBs) < kGroupMaxEpsIq1s) {
      scales[ib] = 0;
      shifts[ib] = 1;
      continue;
    }
    sorted_order(xb, kBs, idx);
    sumx[0] = sumw[0] = 0;
    for (int j = 0; j < kBs; ++j) {
      const int i = idx[j];
      sumx[j + 1] = sumx[j] + weight[i] * xb[i];
      sumw[j + 1] = sumw[j] + weight[i];
    }
    // Values idx[0 .. i1) -> -1, [i1, i2) -> 0, [i2, n) -> 1; the delta shifts them up or down.
    float best_score = -FLT_MAX, scale = abs_max(xb, kBs);
    int besti1 = -1, besti2 = -1, best_shift = 0;
    for (int i1 = 0; i1 <= kBs; ++i1) {
      for (int i2 = i1; i2 <= kBs; ++i2) {
        for (int shift : {1, -1}) {
          const float* xs = shift == 1 ? kXp : kXm;
          const float sumqx = (sumx[i1] - sumx[0]) * xs[0] + (sumx[i2] - sumx[i1]) * xs[1] + (sumx[kBs] - sumx[i2]) * xs[2];
          const float sumq2 = (sumw[i1] - sumw[0]) * xs[0] * xs[0] + (sumw[i2] - sumw[i1]) * xs[1] * xs[1] +
                              (sumw[kBs] - sumw[i2]) * xs[2] * xs[2];
          if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
            scale = sumqx / sumq2;
            best_score = scale * sumqx;
            besti1 = i1;
            besti2 = i2;
            best_shift = shift;
          }
        }
      }
    }
    if (besti1 < 0 || besti2 < 0 || best_shift == 0) {
      scales[ib] = 0;
      shifts[ib] = 1;
      continue;
    }
    for (int j = 0; j < besti1; ++j) L[idx[j]] = 0;
    for (int j = besti1; j < besti2; ++j) L[idx[j]] = 1;
    for (int j = besti2; j < kBs; ++j) L[idx[j]] = 2;
    if (scale < 0) {
      for (int j = 0; j < kBs; ++j) L[j] = int8_t(2 - L[j]);
      scale = -scale;
      best_shift = -best_shift;
    }
    const float* xx = best_shift == 1 ? kXp : kXm;
    const bool all_on_grid = snap_to_grid(lat, kBs, xb, weight, scale, [xx](int) { return xx; }, L, index);
    if (!all_on_grid) {
      float sumqx = 0, sumq2 = 0;
      for (int k = 0; k < kBs / 8; ++k) {
        const uint8_t* pg = lat.point(index[k]);
        for (int j = 0; j < 8; ++j) {
          const float w = weight[8 * k + j];
          const float q = xx[pg[j]];
          sumqx += w * q * xb[8 * k + j];
          sumq2 += w * q * q;
        }
      }
      if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    uint16_t h = 0;
    for (int k = 0; k < kBs / 8; ++k) {
      y.qs[(kBs / 8) * ib + k] = uint8_t(index[k] & 255);
      h = uint16_t(h | ((index[k] >> 8) << 3 * k));
    }
    y.qh[ib] = h;
    scales[ib] = scale;
    shifts[ib] = int8_t(best_shift);
    max_scale = std::max(max_scale, scale);
  }
  if (!max_scale) return;
  const float d = max_scale / 15;
  y.d = f32_to_fp16(d * 1.125f);
  const float id = 1 / d;
  for (int ib = 0; ib < kQK_K / kBs; ++ib) {
    int l = lattice_nearest_int(0.5f * (id * scales[ib] - 1));
    l = std::max(0, std::min(7, l));
    if (shifts[ib] == -1) l |= 8;
    y.qh[ib] = uint16_t(y.qh[ib] | (l << 12));
  }
}

// ---------------------------------------------------------------------------------------- IQ1_M

// shift code k of a group of 16: bit 1 = the first 8 values use -delta, bit 0 = the second 8 do.
const float* delta_table(int k, int half) { return (half == 0 ? k < 2 : k % 2 == 0) ? kXp : kXm; }

void quantize_block_iq1_m(const float* xbl, const float* qwbl, BlockIq1M& y) {
  constexpr int kBs = 16;
  constexpr uint8_t kMasks[4] = {0x00, 0x80, 0x08, 0x88};
  const LatticeTables& lat = lattice_tables(Lattice::Iq1s);
  float scales[kQK_K / kBs], weight[kBs];
  int idx[kBs];
  int8_t L[kBs];
  int8_t shifts[kQK_K / kBs];
  uint16_t index[kBs / 8];

  std::memset(y.qs, 0, sizeof y.qs);
  std::memset(y.qh, 0, sizeof y.qh);
  std::memset(y.scales, 0, sizeof y.scales);
  float max_scale = 0;
  const float sigma2 = block_sigma2(xbl);
  for (int ib = 0; ib < kQK_K / kBs; ++ib) {
    const float* xb = xbl + kBs * ib;
    group_weights(xb, qwbl ? qwbl + kBs * ib : nullptr, sigma2, kBs, weight);
    const float max = abs_max(xb, kBs);
    if (max < kGroupMaxEpsIq1m) {
      scales[ib] = 0;
      shifts[ib] = 0;
      continue;
    }
    sorted_order(xb, kBs, idx);
    float best_score = -FLT_MAX, scale = max;
    int besti1 = -1, besti2 = -1, best_k = -1;
    {
      // Prefix sums per half (each half has its own delta sign). Since v0 - v1 = v1 - v2 = -1 for both
      // delta tables, the 3-group sum of a split is T v2 - px[i1] - px[i2].
      float px[2][kBs + 1], pw[2][kBs + 1];
      px[0][0] = px[1][0] = 0;
      pw[0][0] = pw[1][0] = 0;
      for (int j = 0; j < kBs; ++j) {
        const int i = idx[j];
        const int h = i < kBs / 2 ? 0 : 1;
        px[h][j + 1] = px[h][j] + weight[i] * xb[i];
        px[1 - h][j + 1] = px[1 - h][j];
        pw[h][j + 1] = pw[h][j] + weight[i];
        pw[1 - h][j + 1] = pw[1 - h][j];
      }
      const float txs[2] = {px[0][kBs], px[1][kBs]};
      const float tws[2] = {pw[0][kBs], pw[1][kBs]};
      const float p2 = kXp[2], m2 = kXm[2];
      const float cp1 = kXp[0] * kXp[0] - kXp[1] * kXp[1];
      const float cp2 = kXp[1] * kXp[1] - kXp[2] * kXp[2];
      const float cm1 = kXm[0] * kXm[0] - kXm[1] * kXm[1];
      const float cm2 = kXm[1] * kXm[1] - kXm[2] * kXm[2];
      float sumqx[4], sumq2[4];
      for (int i1 = 0; i1 <= kBs; ++i1) {
        for (int i2 = i1; i2 <= kBs; ++i2) {
          float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
          for (int h = 0; h < 2; ++h) {
            const float sx = px[h][i1] + px[h][i2];
            qx_p[h] = txs[h] * p2 - sx;
            qx_m[h] = txs[h] * m2 - sx;
            q2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1 + pw[h][i2] * cp2;
            q2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1 + pw[h][i2] * cm2;
          }
          sumqx[0] = qx_p[0] + qx_p[1];
          sumqx[1] = qx_p[0] + qx_m[1];
          sumqx[2] = qx_m[0] + qx_p[1];
          sumqx[3] = qx_m[0] + qx_m[1];
          sumq2[0] = q2_p[0] + q2_p[1];
          sumq2[1] = q2_p[0] + q2_m[1];
          sumq2[2] = q2_m[0] + q2_p[1];
          sumq2[3] = q2_m[0] + q2_m[1];
          for (int k = 0; k < 4; ++k) {
            if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
              scale = sumqx[k] / sumq2[k];
              best_score = scale * sumqx[k];
              besti1 = i1;
              besti2 = i2;
              best_k = k;
            }
          }
        }
      }
    }
    if (besti1 < 0 || besti2 < 0 || best_k < 0) {
      scales[ib] = 0;
      shifts[ib] = 0;
      continue;
    }
    for (int j = 0; j < besti1; ++j) L[idx[j]] = 0;
    for (int j = besti1; j < besti2; ++j) L[idx[j]] = 1;
    for (int j = besti2; j < kBs; ++j) L[idx[j]] = 2;
    if (scale < 0) {
      for (int j = 0; j < kBs; ++j) L[j] = int8_t(2 - L[j]);
      scale = -scale;
      best_k = 3 - best_k;
    }
    const auto xx_of = [best_k](int k) { return delta_table(best_k, k); };
    const bool all_on_grid = snap_to_grid(lat, kBs, xb, weight, scale, xx_of, L, index);
    if (!all_on_grid) {
      float sumqx_f = 0, sumq2_f = 0;
      for (int k = 0; k < kBs / 8; ++k) {
        const float* xx = xx_of(k);
        const uint8_t* pg = lat.point(index[k]);
        for (int j = 0; j < 8; ++j) {
          const float w = weight[8 * k + j];
          const float q = xx[pg[j]];
          sumqx_f += w * q * xb[8 * k + j];
          sumq2_f += w * q * q;
        }
      }
      if (sumqx_f > 0 && sumq2_f > 0) scale = sumqx_f / sumq2_f;
    }
    y.qs[2 * ib + 0] = uint8_t(index[0] & 255);
    y.qs[2 * ib + 1] = uint8_t(index[1] & 255);
    y.qh[ib] = uint8_t((index[0] >> 8) | ((index[1] >> 8) << 4));
    scales[ib] = scale;
    shifts[ib] = int8_t(best_k);
    max_scale = std::max(max_scale, scale);
  }
  if (!max_scale) return;

  // 3-bit group scales, then the super-block scale refitted over the whole block with them.
  uint16_t sc[4] = {};
  float d = max_scale / 15;
  const float id = 1 / d;
  float sumqx_f = 0, sumq2_f = 0;
  for (int ib = 0; ib < kQK_K / kBs; ++ib) {
    int l = lattice_nearest_int(0.5f * (id * scales[ib] - 1));
    l = std::max(0, std::min(7, l));
    sc[ib / 4] = uint16_t(sc[ib / 4] | (l << 3 * (ib % 4)));
    y.qh[ib] = uint8_t(y.qh[ib] | kMasks[shifts[ib]]);
    const float* xb = xbl + kBs * ib;
    group_weights(xb, qwbl ? qwbl + kBs * ib : nullptr, sigma2, kBs, weight);
    for (int k = 0; k < kBs / 8; ++k) {
      const float* xx = delta_table(shifts[ib], k);
      const int g = y.qs[2 * ib + k] + ((y.qh[ib] << (8 - 4 * k)) & 0x700);
      const uint8_t* pg = lat.point(g);
      for (int j = 0; j < 8; ++j) {
        const float w = weight[8 * k + j];
        const float q = xx[pg[j]] * float(2 * l + 1);
        sumqx_f += w * q * xb[8 * k + j];
        sumq2_f += w * q * q;
      }
    }
  }
  if (sumq2_f > 0) d = sumqx_f / sumq2_f;
  const uint16_t s = f32_to_fp16(d * 1.1125f);
  sc[0] = uint16_t(sc[0] | ((s & 0x000f) << 12));
  sc[1] = uint16_t(sc[1] | ((s & 0x00f0) << 8));
  sc[2] = uint16_t(sc[2] | ((s & 0x0f00) << 4));
  sc[3] = uint16_t(sc[3] | ((s & 0xf000) << 0));
  std::memcpy(y.scales, sc, sizeof sc);
}

}  // namespace

size_t quantize_rows_iq1_s(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  if (!imatrix)
    fail("quantize: IQ1_S needs an importance matrix (make one with llama.cpp's llama-imatrix and pass --imatrix)");
  return quantize_super_blocks<BlockIq1S, quantize_block_iq1_s>(src, dst, nrow, n_per_row, imatrix);
}

size_t quantize_rows_iq1_m(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  return quantize_super_blocks<BlockIq1M, quantize_block_iq1_m>(src, dst, nrow, n_per_row, imatrix);
}

}  // namespace pj
