// Scalar reference dequantizers and dot products of the IQ, ternary and MXFP4 types (iquants_ref.h).
// Float expressions keep llama.cpp's order of operations, so that results are bit-identical to its
// reference and to gguf-py's numpy dequantization.
#include "core/kernels/iquants_ref.h"

#include <cstring>

#include "core/base/half.h"
#include "core/kernels/iquants_tables.h"
#include "core/kernels/quant_blocks.h"

namespace pj {
namespace {

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline const uint8_t* grid8(const uint64_t* g, uint32_t i) { return reinterpret_cast<const uint8_t*>(g + i); }
inline const uint8_t* grid4(const uint32_t* g, uint32_t i) { return reinterpret_cast<const uint8_t*>(g + i); }
inline const int8_t* grid1(uint32_t i) { return reinterpret_cast<const int8_t*>(kIq1sGrid + i); }
inline bool sign_bit(uint8_t signs, int j) { return (signs >> j) & 1; }

constexpr float kIq1Delta = 0.125f;  // IQ1S_DELTA / IQ1M_DELTA: the grid shift

// The 6-bit scale (0..63) of sub-block ib of an IQ4_XS block.
inline int iq4xs_scale(const BlockIq4Xs& b, int ib) {
  return ((b.scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b.scales_h >> 2 * ib) & 3) << 4);
}

// The fp16 super-block scale of IQ1_M, stored in the top nibble of each of the four scale words.
inline uint16_t iq1m_scale_bits(const uint16_t* sc) {
  return uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
}
inline void load_iq1m_scales(const BlockIq1M& b, uint16_t sc[4]) { std::memcpy(sc, b.scales, 8); }

// Grid index of point l (0..3) in group ib of IQ3_S; qh holds one high bit per point.
inline uint32_t iq3s_index(const uint8_t* qs, uint8_t qh, int k) { return qs[k] | ((uint32_t(qh) << (8 - k)) & 256); }

// Trit decoding of TQ1_0: byte q holds a base-3 fraction; multiplying by 3^n moves trit n to the top.
inline int tq1_trit(uint8_t q, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t shifted = uint8_t(q * kPow3[n]);
  return int((uint16_t(shifted) * 3) >> 8) - 1;
}

// Element order of TQ1_0: calls f(element, trit) for all 256 elements of a block.
template <class F>
void for_each_tq1_trit(const BlockTq1_0& b, F f) {
  int e = 0;
  for (int j = 0; j < 32; j += 32)
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) f(e++, tq1_trit(b.qs[j + m], n));
  for (int j = 32; j < 48; j += 16)
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 16; ++m) f(e++, tq1_trit(b.qs[j + m], n));
  for (int n = 0; n < 4; ++n)
    for (int m = 0; m < 4; ++m) f(e++, tq1_trit(b.qh[m], n));
}

}  // namespace

float e8m0_to_f32_half(uint8_t e) {
  // e < 2 gives a subnormal (2^-128, 2^-127); otherwise exponent field e - 1.
  const uint32_t bits = e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23;
  return f32_from_bits(bits);
}

// ---------------------------------------------------------------------------------- dequantization

void dequantize_row_iq4_nl(const BlockIq4Nl* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK4NL; ++b, y += kQK4NL) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * kValuesIq4nl[x[b].qs[j] & 0xf];
      y[j + 16] = d * kValuesIq4nl[x[b].qs[j] >> 4];
    }
  }
}

void dequantize_row_mxfp4(const BlockMxfp4* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK4NL; ++b, y += kQK4NL) {
    const float d = e8m0_to_f32_half(x[b].e);
    for (int j = 0; j < 16; ++j) {
      y[j] = kValuesMxfp4[x[b].qs[j] & 0xf] * d;
      y[j + 16] = kValuesMxfp4[x[b].qs[j] >> 4] * d;
    }
  }
}

void dequantize_row_iq4_xs(const BlockIq4Xs* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    const uint8_t* qs = x[b].qs;
    for (int ib = 0; ib < kQK_K / 32; ++ib, y += 32, qs += 16) {
      const float dl = d * float(iq4xs_scale(x[b], ib) - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kValuesIq4nl[qs[j] & 0xf];
        y[j + 16] = dl * kValuesIq4nl[qs[j] >> 4];
      }
    }
  }
}

void dequantize_row_iq2_xxs(const BlockIq2Xxs* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const auto* q = reinterpret_cast<const uint8_t*>(x[b].qs + 4 * ib);
      const uint32_t aux = load_u32(q + 4);
      const float db = d * (0.5f + float(aux >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t* g = grid8(kIq2xxsGrid, q[l]);
        const uint8_t signs = kKsignsIq2xs[(aux >> 7 * l) & 127];
        for (int j = 0; j < 8; ++j) y[j] = db * g[j] * (sign_bit(signs, j) ? -1.f : 1.f);
      }
    }
  }
}

void dequantize_row_iq2_xs(const BlockIq2Xs* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const float db[2] = {d * (0.5f + float(x[b].scales[ib] & 0xf)) * 0.25f,
                           d * (0.5f + float(x[b].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x[b].qs[4 * ib + l];
        const uint8_t* g = grid8(kIq2xsGrid, q & 511);
        const uint8_t signs = kKsignsIq2xs[q >> 9];
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * g[j] * (sign_bit(signs, j) ? -1.f : 1.f);
      }
    }
  }
}

void dequantize_row_iq2_s(const BlockIq2S* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    const uint8_t* qs = x[b].qs;
    const uint8_t* signs = x[b].qs + kQK_K / 8;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + float(x[b].scales[ib] & 0xf)) * 0.25f,
                           d * (0.5f + float(x[b].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t* g = grid8(kIq2sGrid, qs[l] | ((uint32_t(x[b].qh[ib]) << (8 - 2 * l)) & 0x300));
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * g[j] * (sign_bit(signs[l], j) ? -1.f : 1.f);
      }
    }
  }
}

void dequantize_row_iq3_xxs(const BlockIq3Xxs* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    const uint8_t* qs = x[b].qs;
    const uint8_t* scales_and_signs = x[b].qs + kQK_K / 4;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 8) {
      const uint32_t aux = load_u32(scales_and_signs + 4 * ib);
      const float db = d * (0.5f + float(aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t signs = kKsignsIq2xs[(aux >> 7 * l) & 127];
        const uint8_t* g1 = grid4(kIq3xxsGrid, qs[2 * l]);
        const uint8_t* g2 = grid4(kIq3xxsGrid, qs[2 * l + 1]);
        for (int j = 0; j < 4; ++j) {
          y[j] = db * g1[j] * (sign_bit(signs, j) ? -1.f : 1.f);
          y[j + 4] = db * g2[j] * (sign_bit(signs, j + 4) ? -1.f : 1.f);
        }
      }
    }
  }
}

void dequantize_row_iq3_s(const BlockIq3S* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    const uint8_t* qs = x[b].qs;
    const uint8_t* signs = x[b].signs;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 8, signs += 4) {
      const int s = ib % 2 == 0 ? (x[b].scales[ib / 2] & 0xf) : (x[b].scales[ib / 2] >> 4);
      const float db = d * float(1 + 2 * s);
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t* g1 = grid4(kIq3sGrid, iq3s_index(qs, x[b].qh[ib], 2 * l));
        const uint8_t* g2 = grid4(kIq3sGrid, iq3s_index(qs, x[b].qh[ib], 2 * l + 1));
        for (int j = 0; j < 4; ++j) {
          y[j] = db * g1[j] * (sign_bit(signs[l], j) ? -1.f : 1.f);
          y[j + 4] = db * g2[j] * (sign_bit(signs[l], j + 4) ? -1.f : 1.f);
        }
      }
    }
  }
}

void dequantize_row_iq1_s(const BlockIq1S* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    const uint8_t* qs = x[b].qs;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 4) {
      const uint16_t qh = x[b].qh[ib];
      const float dl = d * float(2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
      for (int l = 0; l < 4; ++l, y += 8) {
        const int8_t* g = grid1(qs[l] | (((qh >> 3 * l) & 7) << 8));
        for (int j = 0; j < 8; ++j) y[j] = dl * (g[j] + delta);
      }
    }
  }
}

void dequantize_row_iq1_m(const BlockIq1M* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint16_t sc[4];
    load_iq1m_scales(x[b], sc);
    const float d = fp16_to_f32(iq1m_scale_bits(sc));
    const uint8_t* qs = x[b].qs;
    const uint8_t* qh = x[b].qh;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 4, qh += 2) {
      const float dl[2] = {d * float(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 7) + 1),
                           d * float(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1)};
      for (int l = 0; l < 4; ++l, y += 8) {
        // point l: high index bits in the low (l even) or high (l odd) nibble of qh[l/2], bit 3 of
        // that nibble the shift sign
        const uint8_t h = uint8_t(l % 2 == 0 ? qh[l / 2] & 0xf : qh[l / 2] >> 4);
        const int8_t* g = grid1(qs[l] | (uint32_t(h & 7) << 8));
        const float delta = h & 8 ? -kIq1Delta : kIq1Delta;
        for (int j = 0; j < 8; ++j) y[j] = dl[l / 2] * (g[j] + delta);
      }
    }
  }
}

void dequantize_row_tq1_0(const BlockTq1_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, y += kQK_K) {
    const float d = fp16_to_f32(x[b].d);
    for_each_tq1_trit(x[b], [&](int e, int t) { y[e] = float(t) * d; });
  }
}

void dequantize_row_tq2_0(const BlockTq2_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < kQK_K / 4; j += 32)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m) *y++ = float(((x[b].qs[j + m] >> (2 * l)) & 3) - 1) * d;
  }
}

// ---------------------------------------------------------------------------------- dot products

namespace {

// IQ4_NL and MXFP4 share a layout (32 nibble codes into a 16-value codebook per block, nibbles
// ordered as Q4_0) and differ only in the codebook and how the block scale is stored.
template <class Block, class ScaleOf>
float dot_codebook4_q8_0(int64_t n, const Block* x, const BlockQ8_0* y, const int8_t* values, ScaleOf scale_of) {
  float sum = 0;
  for (int64_t b = 0; b < n / kQK4NL; ++b) {
    const float d = fp16_to_f32(y[b].d) * scale_of(x[b]);
    int s1 = 0, s2 = 0;
    for (int j = 0; j < 16; ++j) {
      s1 += y[b].qs[j] * values[x[b].qs[j] & 0xf];
      s2 += y[b].qs[j + 16] * values[x[b].qs[j] >> 4];
    }
    sum += d * float(s1 + s2);
  }
  return sum;
}

}  // namespace

float vec_dot_iq4_nl_q8_0_ref(int64_t n, const void* vx, const void* vy) {
  return dot_codebook4_q8_0(n, static_cast<const BlockIq4Nl*>(vx), static_cast<const BlockQ8_0*>(vy), kValuesIq4nl,
                            [](const BlockIq4Nl& b) { return fp16_to_f32(b.d); });
}

float vec_dot_mxfp4_q8_0_ref(int64_t n, const void* vx, const void* vy) {
  return dot_codebook4_q8_0(n, static_cast<const BlockMxfp4*>(vx), static_cast<const BlockQ8_0*>(vy), kValuesMxfp4,
                            [](const BlockMxfp4& b) { return e8m0_to_f32_half(b.e); });
}

float vec_dot_iq4_xs_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq4Xs*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d4d8 = fp16_to_f32(x[b].d) * y[b].d;
    const uint8_t* qs = x[b].qs;
    const int8_t* q8 = y[b].qs;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 16, q8 += 32) {
      const float dl = d4d8 * float(iq4xs_scale(x[b], ib) - 32);
      int s1 = 0, s2 = 0;
      for (int j = 0; j < 16; ++j) {
        s1 += q8[j] * kValuesIq4nl[qs[j] & 0xf];
        s2 += q8[j + 16] * kValuesIq4nl[qs[j] >> 4];
      }
      sum += dl * float(s1 + s2);
    }
  }
  return sum;
}

namespace {
// Signed dot of 8 grid bytes with 8 activations.
inline int dot8_signed(const uint8_t* g, uint8_t signs, const int8_t* q8) {
  int s = 0;
  for (int j = 0; j < 8; ++j) s += g[j] * q8[j] * (sign_bit(signs, j) ? -1 : 1);
  return s;
}
}  // namespace

float vec_dot_iq2_xxs_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq2Xxs*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d) * y[b].d;
    const int8_t* q8 = y[b].qs;
    int32_t bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const auto* q = reinterpret_cast<const uint8_t*>(x[b].qs + 4 * ib);
      const uint32_t aux = load_u32(q + 4);
      int32_t s = 0;
      for (int l = 0; l < 4; ++l, q8 += 8) s += dot8_signed(grid8(kIq2xxsGrid, q[l]), kKsignsIq2xs[(aux >> 7 * l) & 127], q8);
      bsum += s * int32_t(2 * (aux >> 28) + 1);
    }
    sum += d * float(bsum);
  }
  return 0.125f * sum;
}

float vec_dot_iq2_xs_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq2Xs*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d) * y[b].d;
    const int8_t* q8 = y[b].qs;
    int32_t bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const int ls[2] = {2 * (x[b].scales[ib] & 0xf) + 1, 2 * (x[b].scales[ib] >> 4) + 1};
      for (int half = 0; half < 2; ++half) {
        int32_t s = 0;
        for (int l = 2 * half; l < 2 * half + 2; ++l, q8 += 8) {
          const uint16_t q = x[b].qs[4 * ib + l];
          s += dot8_signed(grid8(kIq2xsGrid, q & 511), kKsignsIq2xs[q >> 9], q8);
        }
        bsum += s * ls[half];
      }
    }
    sum += d * float(bsum);
  }
  return 0.125f * sum;
}

float vec_dot_iq2_s_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq2S*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d) * y[b].d;
    const int8_t* q8 = y[b].qs;
    const uint8_t* qs = x[b].qs;
    const uint8_t* signs = x[b].qs + kQK_K / 8;
    int bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 4, signs += 4) {
      const int ls[2] = {1 + 2 * (x[b].scales[ib] & 0xf), 1 + 2 * (x[b].scales[ib] >> 4)};
      int s[2] = {0, 0};
      for (int l = 0; l < 4; ++l, q8 += 8)
        s[l / 2] += dot8_signed(grid8(kIq2sGrid, qs[l] | ((uint32_t(x[b].qh[ib]) << (8 - 2 * l)) & 0x300)), signs[l], q8);
      bsum += ls[0] * s[0] + ls[1] * s[1];
    }
    sum += d * float(bsum);
  }
  return 0.125f * sum;
}

float vec_dot_iq3_xxs_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq3Xxs*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d) * y[b].d;
    const uint8_t* q3 = x[b].qs;
    const uint8_t* gas = x[b].qs + kQK_K / 4;
    const int8_t* q8 = y[b].qs;
    int32_t bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib, q3 += 8) {
      const uint32_t aux = load_u32(gas + 4 * ib);
      int32_t s = 0;
      for (int l = 0; l < 4; ++l, q8 += 8) {
        uint8_t g[8];
        std::memcpy(g, grid4(kIq3xxsGrid, q3[2 * l]), 4);
        std::memcpy(g + 4, grid4(kIq3xxsGrid, q3[2 * l + 1]), 4);
        s += dot8_signed(g, kKsignsIq2xs[(aux >> 7 * l) & 127], q8);
      }
      bsum += s * int32_t(2 * (aux >> 28) + 1);
    }
    sum += d * float(bsum);
  }
  return 0.25f * sum;
}

float vec_dot_iq3_s_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq3S*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = fp16_to_f32(x[b].d) * y[b].d;
    const uint8_t* qs = x[b].qs;
    const uint8_t* signs = x[b].signs;
    const int8_t* q8 = y[b].qs;
    int32_t bsum = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 8, signs += 4) {
      const int ls = 2 * (ib % 2 == 0 ? (x[b].scales[ib / 2] & 0xf) : (x[b].scales[ib / 2] >> 4)) + 1;
      int32_t s = 0;
      for (int l = 0; l < 4; ++l, q8 += 8) {
        uint8_t g[8];
        std::memcpy(g, grid4(kIq3sGrid, iq3s_index(qs, x[b].qh[ib], 2 * l)), 4);
        std::memcpy(g + 4, grid4(kIq3sGrid, iq3s_index(qs, x[b].qh[ib], 2 * l + 1)), 4);
        s += dot8_signed(g, signs[l], q8);
      }
      bsum += s * ls;
    }
    sum += d * float(bsum);
  }
  return sum;
}

float vec_dot_iq1_s_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq1S*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const int8_t* q8 = y[b].qs;
    const uint8_t* qs = x[b].qs;
    int sumi = 0, sumi1 = 0;  // grid part; shift part (uses the activations' 16-element sums)
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 4) {
      const uint16_t qh = x[b].qh[ib];
      const int ls = 2 * ((qh >> 12) & 7) + 1;
      const int delta = qh & 0x8000 ? -1 : 1;
      int lsum = 0;
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const int8_t* g = grid1(qs[l] | (((qh >> 3 * l) & 7) << 8));
        for (int j = 0; j < 8; ++j) lsum += q8[j] * g[j];
      }
      sumi += ls * lsum;
      sumi1 += ls * delta * (y[b].bsums[2 * ib] + y[b].bsums[2 * ib + 1]);
    }
    sum += fp16_to_f32(x[b].d) * y[b].d * (float(sumi) + kIq1Delta * float(sumi1));
  }
  return sum;
}

float vec_dot_iq1_m_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq1M*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint16_t sc[4];
    load_iq1m_scales(x[b], sc);
    const int8_t* q8 = y[b].qs;
    const uint8_t* qs = x[b].qs;
    const uint8_t* qh = x[b].qh;
    int sumi1 = 0, sumi2 = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib, qs += 4, qh += 2) {
      int s1[2] = {0, 0}, s2[2] = {0, 0};
      for (int l = 0; l < 4; ++l, q8 += 8) {
        const uint8_t h = uint8_t(l % 2 == 0 ? qh[l / 2] & 0xf : qh[l / 2] >> 4);
        const int8_t* g = grid1(qs[l] | (uint32_t(h & 7) << 8));
        int lsum1 = 0, lsum2 = 0;
        for (int j = 0; j < 8; ++j) {
          lsum1 += q8[j] * g[j];
          lsum2 += q8[j];
        }
        s1[l / 2] += lsum1;
        s2[l / 2] += lsum2 * (h & 8 ? -1 : 1);
      }
      const int ls1 = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 7) + 1;
      const int ls2 = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1;
      sumi1 += s1[0] * ls1 + s1[1] * ls2;
      sumi2 += s2[0] * ls1 + s2[1] * ls2;
    }
    sum += fp16_to_f32(iq1m_scale_bits(sc)) * y[b].d * (float(sumi1) + kIq1Delta * float(sumi2));
  }
  return sum;
}

float vec_dot_tq1_0_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockTq1_0*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int s = 0;
    for_each_tq1_trit(x[b], [&](int e, int t) { s += t * y[b].qs[e]; });
    sum += float(s) * (fp16_to_f32(x[b].d) * y[b].d);
  }
  return sum;
}

float vec_dot_tq2_0_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockTq2_0*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int32_t s = 0;
    for (int j = 0; j < kQK_K / 4; j += 32)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m) s += y[b].qs[4 * j + 32 * l + m] * (((x[b].qs[j + m] >> (2 * l)) & 3) - 1);
    sum += float(s) * (y[b].d * fp16_to_f32(x[b].d));
  }
  return sum;
}

}  // namespace pj
