// K-quant reference quantizers and the importance-weighted quantizers (see kquants_ref.h).
// Bit-exactness with llama.cpp depends on doing the same float operations in the same order, so the
// expressions below keep ggml-quants.c's association order, and CMakeLists.txt builds this file with
// -ffp-contract=off (no fused multiply-add, which would change the roundings).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/half.h"
#include "core/kernels/kquants_ref.h"
#include "core/kernels/quants_ref.h"

namespace pj {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml-quants.c GROUP_MAX_EPS: below this a group is all zero

// Round to nearest, ties to even, for |v| <= 2^22: adding 1.5 * 2^23 leaves the integer in the low
// mantissa bits (the trick ggml's nearest_int uses; plain lrintf gives the same result).
inline int nearest_int(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

inline float h2f(uint16_t h) { return fp16_to_f32(h); }

// Symmetric quantization of n values to [-nmax, nmax-1] (stored + nmax in L); returns the scale.
// rmse_type 0: scale from the largest magnitude only; 1: weighted least squares refinement over
// 19 candidate scales with weights qw (or x^2 when qw is null).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = float(-nmax) / max;
  if (rmse_type == 0) {
    for (int i = 0; i < n; ++i) {
      const int l = nearest_int(iscale * x[i]);
      L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, l)));
    }
    return 1 / iscale;
  }
  // Only rmse_type 1 is used by the quantizers we reproduce; the weight is qw[i] or x[i]^2.
  auto weight = [&](int i) { return qw ? qw[i] : x[i] * x[i]; };
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    const float w = weight(i);
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(float(nmax) + 0.1f * float(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = weight(i);
      sumlx += w * x[i] * float(l);
      suml2 += w * float(l) * float(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Symmetric 3-bit quantization with coordinate-descent refinement (weights x^2).
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float iscale = float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * float(L[i]) * float(L[i]);
        int new_l = nearest_int(x[i] * sl2 / slx);
        new_l = std::max(-nmax, std::min(nmax - 1, new_l));
        if (new_l != L[i]) {
          slx += w * x[i] * float(new_l);
          sl2 += w * float(new_l) * float(new_l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Asymmetric quantization x ~ scale * L - the_min, L in [0, nmax]: weighted least squares over
// nstep+1 candidate scales (rmin + rdelta * is + nmax) / (max - min). weights == nullptr: x^2
// (ggml's make_qkx3_quants; make_qkx2_quants is the same with weights always given).
float make_qkx_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                      uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad, bool memset_on_flat) {
  auto wt = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
  float min = x[0], max = x[0];
  float sum_w = wt(0);
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = wt(i);
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (memset_on_flat ? max <= min : max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = float(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * float(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += wt(i) * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = uint8_t(l);
      const float w = wt(i);
      sum_l += w * float(l);
      sum_l2 += w * float(l) * float(l);
      sum_xl += w * float(l) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * float(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += wt(i) * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  return make_qkx_quants(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad, false);
}
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  return make_qkx_quants(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad, true);
}

// Quantizes non-negative values (sub-block scales or mins) to [0, nmax] with weights.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* qw) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = float(nmax) / max;
  for (int i = 0; i < n; ++i) L[i] = uint8_t(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * float(L[i]);
    best_mse += qw[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * float(is) + float(nmax)) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * float(l);
      mse += qw[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = uint8_t(l);
    sumlx += qw[i] * x[i] * float(l);
    suml2 += qw[i] * float(l) * float(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = qw[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      float sl2 = suml2 - w * float(L[i]) * float(L[i]);
      if (slx > 0 && sl2 > 0) {
        const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          slx += w * x[i] * float(new_l);
          sl2 += w * float(new_l) * float(new_l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = uint8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// 2-bit values L (256 of them) into Q2_K/Q3_K's qs: byte 32*(j/128) + j%32 holds elements
// j, j+32, j+64, j+96 of each 128-group at bit offsets 0, 2, 4, 6.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// 6-bit scale/min pairs of 8 sub-blocks into Q4_K/Q5_K's 12 scale bytes.
void pack_scale_min(const uint8_t* ls, const uint8_t* lm, uint8_t* scales) {
  for (int j = 0; j < kQK_K / 32; ++j) {
    if (j < 4) {
      scales[j] = ls[j];
      scales[j + 4] = lm[j];
    } else {
      scales[j + 4] = uint8_t((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      scales[j - 4] |= uint8_t((ls[j] >> 4) << 6);
      scales[j - 0] |= uint8_t((lm[j] >> 4) << 6);
    }
  }
}

// Final 4/5-bit values of a Q4_K/Q5_K super-block from its stored scales: l = round((x + dm) / d).
void requantize_scale_min(const float* x, const uint8_t* scales, uint16_t d16, uint16_t dmin16, int nmax, uint8_t* L) {
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    kq_scale_min(j, scales, sc, m);
    const float d = h2f(d16) * float(sc);
    if (!d) continue;
    const float dm = h2f(dmin16) * float(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

// Packs Q3_K's 16 6-bit scales (already offset to 0..63) into 12 bytes.
void pack_q3_scales(const int* l6, uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < 16; ++j) {
    int l = l6[j];
    if (j < 8) {
      scales[j] = uint8_t(l & 0xF);
    } else {
      scales[j - 8] |= uint8_t((l & 0xF) << 4);
    }
    l >>= 4;
    scales[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
  }
}

// Final 3-bit values of a Q3_K super-block from its stored scales, then hmask and qs.
void finish_q3_k(const float* x, BlockQ3_K& y, int8_t* L) {
  int8_t sc[16];
  q3_k_scales(y.scales, sc);
  for (int j = 0; j < 16; ++j) {
    const float d = h2f(y.d) * float(sc[j]);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-4, std::min(3, l)) + 4);
    }
  }
  // The high bit of element j goes to bit j/32 of hmask[j % 32].
  std::memset(y.hmask, 0, sizeof y.hmask);
  uint8_t low[kQK_K];
  for (int j = 0; j < kQK_K; ++j) {
    int l = L[j];
    if (l > 3) {
      y.hmask[j % 32] |= uint8_t(1 << (j / 32));
      l -= 4;
    }
    low[j] = uint8_t(l);
  }
  pack_2bit(low, y.qs);
}

// Q6_K super-block from its 16 sub-block scales (L holds the first-pass values).
void finish_q6_k(const float* x, const float* scales, int8_t* L, BlockQ6_K& y) {
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const float abs_scale = std::fabs(scales[ib]);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(&y, 0, sizeof y);
    y.d = f32_to_fp16(0.f);
    return;
  }
  const float iscale = -128.f / max_scale;
  y.d = f32_to_fp16(1 / iscale);
  for (int ib = 0; ib < 16; ++ib) y.scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < 16; ++j) {
    const float d = h2f(y.d) * float(y.scales[j]);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
    }
  }
  uint8_t* ql = y.ql;
  uint8_t* qh = y.qh;
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
      const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = uint8_t(q1 | (q3 << 4));
      ql[l + 32] = uint8_t(q2 | (q4 << 4));
      qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                      ((L[j + l + 96] >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

// Q5_K's low nibbles and high bits: element n+j / n+j+32 of each 64-group share ql[j], their 5th
// bits go to bits 2*(n/64) and 2*(n/64)+1 of qh[j].
void pack_q5_k(const uint8_t* L, BlockQ5_K& y) {
  std::memset(y.qh, 0, sizeof y.qh);
  uint8_t* ql = y.qs;
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kQK_K; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j], l2 = L[n + j + 32];
      if (l1 > 15) {
        l1 -= 16;
        y.qh[j] |= m1;
      }
      if (l2 > 15) {
        l2 -= 16;
        y.qh[j] |= m2;
      }
      ql[j] = uint8_t(l1 | (l2 << 4));
    }
    m1 = uint8_t(m1 << 2);
    m2 = uint8_t(m2 << 2);
    ql += 32;
  }
}

// Q4_K / Q5_K super-block without importance weights (ggml quantize_row_q4_K_ref / q5_K_ref).
// Returns the final values in L.
template <typename Block>
void quantize_scale_min_ref(const float* x, Block& y, int nmax, float rmin, int nstep, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    // uint8_t truncation before the clamp, as in ggml
    ls[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
  }
  pack_scale_min(ls, lm, y.scales);
  y.d = f32_to_fp16(max_scale / 63.f);
  y.dmin = f32_to_fp16(max_min / 63.f);
  requantize_scale_min(x, y.scales, y.d, y.dmin, nmax, L);
}

// Q4_K / Q5_K super-block with importance weights qw (ggml quantize_row_q4_K_impl / q5_K_impl).
template <typename Block>
void quantize_scale_min_weighted(const float* x, Block& y, int nmax, const float* qw, uint8_t* L) {
  uint8_t Laux[32], Ls[8], Lm[8];
  float weights[32], sw[8], mins[8], scales[8];
  float sum_x2 = 0;
  for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / kQK_K;
  for (int j = 0; j < 8; ++j) {
    for (int l = 0; l < 32; ++l) weights[l] = qw[32 * j + l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(8, 63, scales, Ls, sw);
  const float m_block = make_qp_quants(8, 63, mins, Lm, sw);
  for (int j = 0; j < 8; ++j) {
    Ls[j] = std::min<uint8_t>(63, Ls[j]);
    Lm[j] = std::min<uint8_t>(63, Lm[j]);
  }
  pack_scale_min(Ls, Lm, y.scales);
  y.d = f32_to_fp16(d_block);
  y.dmin = f32_to_fp16(m_block);
  requantize_scale_min(x, y.scales, y.d, y.dmin, nmax, L);
}

void quantize_q2_k_weighted(const float* x, BlockQ2_K& y, const float* qw) {
  uint8_t L[kQK_K], Laux[16], Ls[16], Lm[16];
  float mins[16], scales[16], sw[16] = {}, weight[16];
  float sumx2 = 0;
  for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = sumx2 / kQK_K;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weight[l] = qw[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    for (int l = 0; l < 16; ++l) sw[j] += weight[l];
    scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  float dm = make_qp_quants(16, 15, scales, Ls, sw);
  float mm = make_qp_quants(16, 15, mins, Lm, sw);
  y.d = f32_to_fp16(dm);
  y.dmin = f32_to_fp16(mm);
  dm = h2f(y.d);
  mm = h2f(y.dmin);
  for (int j = 0; j < 16; ++j) y.scales[j] = uint8_t(Ls[j] | (Lm[j] << 4));
  for (int j = 0; j < 16; ++j) {
    const float d = dm * float(y.scales[j] & 0xF);
    if (!d) continue;
    const float m = mm * float(y.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int((x[16 * j + ii] + m) / d);
      L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
    }
  }
  pack_2bit(L, y.qs);
}

void quantize_q3_k_weighted(const float* x, BlockQ3_K& y, const float* qw) {
  int8_t L[kQK_K], Ls[16];
  float scales[16], weight[16], sw[16];
  float sumx2 = 0;
  for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = 2 * sumx2 / kQK_K;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weight[l] = qw[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
  }
  const float d_block = make_qx_quants(16, 32, scales, Ls, 1, sw);
  int l6[16];
  for (int j = 0; j < 16; ++j) l6[j] = Ls[j];
  pack_q3_scales(l6, y.scales);
  y.d = f32_to_fp16(d_block);
  finish_q3_k(x, y, L);
}

template <typename Block, void (*Ref)(const float*, Block*, int64_t), void (*Weighted)(const float*, Block&, const float*)>
size_t quantize_rows_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  auto* y = static_cast<Block*>(dst);
  const int64_t nb = n_per_row / kQK_K;
  if (!imatrix) {
    Ref(src, y, nrows * n_per_row);
  } else {
    for (int64_t r = 0; r < nrows; ++r)
      for (int64_t b = 0; b < nb; ++b)
        Weighted(src + r * n_per_row + b * kQK_K, y[r * nb + b], imatrix + b * kQK_K);
  }
  return size_t(nrows * nb) * sizeof(Block);
}

void q4_k_weighted(const float* x, BlockQ4_K& y, const float* qw) {
  uint8_t L[kQK_K];
  quantize_scale_min_weighted(x, y, 15, qw, L);
  for (int j = 0, o = 0; j < kQK_K; j += 64, o += 32)
    for (int l = 0; l < 32; ++l) y.qs[o + l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
}

void q5_k_weighted(const float* x, BlockQ5_K& y, const float* qw) {
  uint8_t L[kQK_K];
  quantize_scale_min_weighted(x, y, 31, qw, L);
  pack_q5_k(L, y);
}

void q6_k_weighted(const float* x, BlockQ6_K& y, const float* qw) {
  int8_t L[kQK_K];
  float scales[16];
  for (int ib = 0; ib < 16; ++ib) scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw + 16 * ib);
  finish_q6_k(x, scales, L, y);
}

// Legacy 32-element types with importance weights (ggml quantize_row_q4_0_impl ... q5_1_impl). Each
// row's weights are qw[j] * sqrt(sigma2 + x[j]^2) with sigma2 the row's mean square.
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / float(n);
}

void block_weights(const float* xb, const float* qw, float sigma2, float* weight) {
  for (int j = 0; j < kQK; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

uint32_t pack_q5_low(const uint8_t* L, uint8_t* qs) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = uint8_t((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
    qh |= uint32_t((L[j] & 0x10u) >> 4) << j;
    qh |= uint32_t((L[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  return qh;
}

}  // namespace

void quantize_row_q2_k_ref(const float* x, BlockQ2_K* y, int64_t n) {
  uint8_t L[kQK_K], Laux[16];
  float weights[16], mins[16], scales[16];
  const float q4scale = 15.f;
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      y[i].d = f32_to_fp16(max_scale / q4scale);
    } else {
      for (int j = 0; j < 16; ++j) y[i].scales[j] = 0;
      y[i].d = f32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < 16; ++j) y[i].scales[j] |= uint8_t(nearest_int(iscale * mins[j]) << 4);
      y[i].dmin = f32_to_fp16(max_min / q4scale);
    } else {
      y[i].dmin = f32_to_fp16(0.f);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = h2f(y[i].d) * float(y[i].scales[j] & 0xF);
      if (!d) continue;
      const float dm = h2f(y[i].dmin) * float(y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int((x[16 * j + ii] + dm) / d);
        L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

void quantize_row_q3_k_ref(const float* x, BlockQ3_K* y, int64_t n) {
  int8_t L[kQK_K];
  float scales[16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      int l6[16];
      for (int j = 0; j < 16; ++j) {
        // int8_t truncation before the clamp, as in ggml
        const int8_t l = int8_t(nearest_int(iscale * scales[j]));
        l6[j] = std::max<int>(-32, std::min<int>(31, l)) + 32;
      }
      pack_q3_scales(l6, y[i].scales);
      y[i].d = f32_to_fp16(1 / iscale);
    } else {
      std::memset(y[i].scales, 0, 12);
      y[i].d = f32_to_fp16(0.f);
    }
    finish_q3_k(x, y[i], L);
  }
}

void quantize_row_q4_k_ref(const float* x, BlockQ4_K* y, int64_t n) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_scale_min_ref(x, y[i], 15, -1.f, 20, L);
    for (int j = 0, o = 0; j < kQK_K; j += 64, o += 32)
      for (int l = 0; l < 32; ++l) y[i].qs[o + l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
  }
}

void quantize_row_q5_k_ref(const float* x, BlockQ5_K* y, int64_t n) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_scale_min_ref(x, y[i], 31, -0.5f, 15, L);
    pack_q5_k(L, y[i]);
  }
}

void quantize_row_q6_k_ref(const float* x, BlockQ6_K* y, int64_t n) {
  int8_t L[kQK_K];
  float scales[16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    for (int ib = 0; ib < 16; ++ib) scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, nullptr);
    finish_q6_k(x, scales, L, y[i]);
  }
}

void quantize_row_q8_k_ref(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (!amax) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      std::memset(y[i].bsums, 0, sizeof y[i].bsums);  // ggml leaves them unset; zero is their true value
      continue;
    }
    // -127 rather than -128: ggml's choice so that the IQ dot products never see -128
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) y[i].qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = int16_t(sum);
    }
    y[i].d = 1 / iscale;
  }
}

size_t quantize_rows_q2_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quantize_rows_k<BlockQ2_K, quantize_row_q2_k_ref, quantize_q2_k_weighted>(src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_rows_q3_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quantize_rows_k<BlockQ3_K, quantize_row_q3_k_ref, quantize_q3_k_weighted>(src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_rows_q4_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quantize_rows_k<BlockQ4_K, quantize_row_q4_k_ref, q4_k_weighted>(src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_rows_q5_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quantize_rows_k<BlockQ5_K, quantize_row_q5_k_ref, q5_k_weighted>(src, dst, nrows, n_per_row, imatrix);
}
size_t quantize_rows_q6_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  return quantize_rows_k<BlockQ6_K, quantize_row_q6_k_ref, q6_k_weighted>(src, dst, nrows, n_per_row, imatrix);
}

size_t quantize_rows_q4_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  auto* y = static_cast<BlockQ4_0*>(dst);
  const int64_t nb = n_per_row / kQK;
  const size_t bytes = size_t(nrows * nb) * sizeof(BlockQ4_0);
  if (!imatrix) {
    quantize_row_q4_0_ref(src, y, nrows * n_per_row);
    return bytes;
  }
  float weight[kQK];
  int8_t L[kQK];
  for (int64_t r = 0; r < nrows; ++r) {
    const float* x = src + r * n_per_row;
    const float sigma2 = row_sigma2(x, n_per_row);
    for (int64_t ib = 0; ib < nb; ++ib) {
      block_weights(x + kQK * ib, imatrix + kQK * ib, sigma2, weight);
      BlockQ4_0& b = y[r * nb + ib];
      b.d = f32_to_fp16(make_qx_quants(kQK, 8, x + kQK * ib, L, 1, weight));
      for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
    }
  }
  return bytes;
}

size_t quantize_rows_q4_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  auto* y = static_cast<BlockQ4_1*>(dst);
  const int64_t nb = n_per_row / kQK;
  const size_t bytes = size_t(nrows * nb) * sizeof(BlockQ4_1);
  if (!imatrix) {
    quantize_row_q4_1_ref(src, y, nrows * n_per_row);
    return bytes;
  }
  float weight[kQK];
  uint8_t L[kQK], Laux[kQK];
  for (int64_t r = 0; r < nrows; ++r) {
    const float* x = src + r * n_per_row;
    const float sigma2 = row_sigma2(x, n_per_row);
    for (int64_t ib = 0; ib < nb; ++ib) {
      block_weights(x + kQK * ib, imatrix + kQK * ib, sigma2, weight);
      float min;
      const float d = make_qkx3_quants(kQK, 15, x + kQK * ib, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
      BlockQ4_1& b = y[r * nb + ib];
      b.d = f32_to_fp16(d);
      b.m = f32_to_fp16(-min);
      for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
    }
  }
  return bytes;
}

size_t quantize_rows_q5_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  auto* y = static_cast<BlockQ5_0*>(dst);
  const int64_t nb = n_per_row / kQK;
  const size_t bytes = size_t(nrows * nb) * sizeof(BlockQ5_0);
  if (!imatrix) {
    quantize_row_q5_0_ref(src, y, nrows * n_per_row);
    return bytes;
  }
  float weight[kQK];
  int8_t L[kQK];
  for (int64_t r = 0; r < nrows; ++r) {
    const float* x = src + r * n_per_row;
    const float sigma2 = row_sigma2(x, n_per_row);
    for (int64_t ib = 0; ib < nb; ++ib) {
      block_weights(x + kQK * ib, imatrix + kQK * ib, sigma2, weight);
      BlockQ5_0& b = y[r * nb + ib];
      b.d = f32_to_fp16(make_qx_quants(kQK, 16, x + kQK * ib, L, 1, weight));
      uint8_t Lu[kQK];
      for (int j = 0; j < kQK; ++j) Lu[j] = uint8_t(L[j]);
      const uint32_t qh = pack_q5_low(Lu, b.qs);
      std::memcpy(b.qh, &qh, 4);
    }
  }
  return bytes;
}

size_t quantize_rows_q5_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix) {
  auto* y = static_cast<BlockQ5_1*>(dst);
  const int64_t nb = n_per_row / kQK;
  const size_t bytes = size_t(nrows * nb) * sizeof(BlockQ5_1);
  if (!imatrix) {
    quantize_row_q5_1_ref(src, y, nrows * n_per_row);
    return bytes;
  }
  float weight[kQK];
  uint8_t L[kQK], Laux[kQK];
  for (int64_t r = 0; r < nrows; ++r) {
    const float* x = src + r * n_per_row;
    const float sigma2 = row_sigma2(x, n_per_row);
    for (int64_t ib = 0; ib < nb; ++ib) {
      block_weights(x + kQK * ib, imatrix + kQK * ib, sigma2, weight);
      float min;
      const float d = make_qkx3_quants(kQK, 31, x + kQK * ib, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
      BlockQ5_1& b = y[r * nb + ib];
      b.d = f32_to_fp16(d);
      b.m = f32_to_fp16(-min);
      const uint32_t qh = pack_q5_low(L, b.qs);
      std::memcpy(b.qh, &qh, 4);
    }
  }
  return bytes;
}

float make_qp_quants_weighted(int n, int nmax, const float* x, uint8_t* L, const float* qw) {
  return make_qp_quants(n, nmax, x, L, qw);
}

}  // namespace pj
