// Scalar reference dequantizers and dot products of the IQ, ternary and MXFP4 types (iquants_ref.h).
// Float expressions keep llama.cpp's order of operations, so that results are bit-identical to its
// reference and to gguf-py's numpy dequantization.
#include "core/kernels/iquants_ref.h"

#include <cmath>
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

// ggml's hsum_float_8 of eight float lanes: (high half + low half), then pairs, then the two.
float hsum8_ggml(const float* a) {
  const float r0 = a[4] + a[0], r1 = a[5] + a[1], r2 = a[6] + a[2], r3 = a[7] + a[3];
  return (r0 + r2) + (r1 + r3);
}

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

// MXFP4 in ggml-cpu's x86 order (ggml_vec_dot_mxfp4_q8_0, AVX2 path; llama.cpp has no other path for
// it): per block eight int32 lanes (lane k: elements 4k..4k+3, low nibbles first) fma'd with
// d_y e_x into one of two float accumulators, even blocks into the first and odd into the second;
// hsum_float_8 of their sum; an odd last block added as fma(d, its integer sum, sum).
float vec_dot_mxfp4_q8_0_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockMxfp4*>(vx);
  const auto* y = static_cast<const BlockQ8_0*>(vy);
  const int64_t nb = n / kQK4NL;
  auto value = [&](int64_t b, int e) { return kValuesMxfp4[e < 16 ? x[b].qs[e] & 0xf : x[b].qs[e - 16] >> 4]; };
  auto scale = [&](int64_t b) { return fp16_to_f32(y[b].d) * e8m0_to_f32_half(x[b].e); };
  float acc[2][8] = {};
  int64_t b = 0;
  for (; b + 1 < nb; b += 2)
    for (int half = 0; half < 2; ++half)
      for (int k = 0; k < 8; ++k) {
        int32_t s = 0;
        for (int e = 4 * k; e < 4 * k + 4; ++e) s += y[b + half].qs[e] * value(b + half, e);
        acc[half][k] = std::fma(scale(b + half), float(s), acc[half][k]);
      }
  float sum8[8];
  for (int k = 0; k < 8; ++k) sum8[k] = acc[0][k] + acc[1][k];
  float sum = hsum8_ggml(sum8);
  for (; b < nb; ++b) {
    int32_t s = 0;
    for (int e = 0; e < 32; ++e) s += y[b].qs[e] * value(b, e);
    sum = std::fma(scale(b), float(s), sum);
  }
  return sum;
}

// The 256-element types follow ggml-cpu's x86 order (the AVX2 paths of ggml_vec_dot_<type>_q8_K in
// ggml-cpu/arch/x86/quants.c, which llama.cpp runs on every AVX2 machine): per super-block eight int32
// lanes, lane k holding, for each 32-element group g, the sum over elements 4k..4k+3 of g of weight x
// activation x the scale of the element's 16-element half (lanes 0-3: first half, 4-7: second);
// eight float accumulators acc[k] = fma(d_x d_y, lane[k], acc[k]) across super-blocks, reduced as
// ggml's hsum_float_8 and then multiplied by the type's constant factor. The SIMD dots
// (iquants_simd.inc) compute the same lanes. With this order our logits equal llama.cpp's bit for bit
// where the rest of the graph does (an ulp here can flip an 8-bit activation rounding later on).
namespace {

// One super-block unpacked: signed integer weights in element order and a scale per 16 elements.
struct Unpacked {
  int8_t w[kQK_K];
  int sc[16];
};

void lanes_of(const Unpacked& u, const int8_t* y, int32_t lanes[8]) {
  for (int k = 0; k < 8; ++k) lanes[k] = 0;
  for (int g = 0; g < 8; ++g)
    for (int k = 0; k < 8; ++k) {
      int32_t s = 0;
      for (int e = 32 * g + 4 * k; e < 32 * g + 4 * k + 4; ++e) s += int32_t(u.w[e]) * y[e];
      lanes[k] += u.sc[2 * g + k / 4] * s;
    }
}

void fma_lanes(float acc[8], float d, const int32_t lanes[8]) {
  for (int k = 0; k < 8; ++k) acc[k] = std::fma(d, float(lanes[k]), acc[k]);
}

// Eight grid bytes with their signs (bit j of `signs`) into w.
void signed8(int8_t* w, const uint8_t* grid, uint8_t signs) {
  for (int j = 0; j < 8; ++j) w[j] = int8_t(sign_bit(signs, j) ? -grid[j] : grid[j]);
}
void signed4x2(int8_t* w, const uint8_t* g0, const uint8_t* g1, uint8_t signs) {
  uint8_t g[8];
  std::memcpy(g, g0, 4);
  std::memcpy(g + 4, g1, 4);
  signed8(w, g, signs);
}

void unpack_iq4_xs(const BlockIq4Xs& b, Unpacked& u) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    for (int j = 0; j < 16; ++j) {
      u.w[32 * ib + j] = kValuesIq4nl[b.qs[16 * ib + j] & 0xf];
      u.w[32 * ib + 16 + j] = kValuesIq4nl[b.qs[16 * ib + j] >> 4];
    }
    u.sc[2 * ib] = u.sc[2 * ib + 1] = iq4xs_scale(b, ib) - 32;
  }
}

void unpack_iq2_xxs(const BlockIq2Xxs& b, Unpacked& u) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const auto* q = reinterpret_cast<const uint8_t*>(b.qs + 4 * ib);
    const uint32_t aux = load_u32(q + 4);
    for (int l = 0; l < 4; ++l) signed8(u.w + 32 * ib + 8 * l, grid8(kIq2xxsGrid, q[l]), kKsignsIq2xs[(aux >> 7 * l) & 127]);
    u.sc[2 * ib] = u.sc[2 * ib + 1] = int(2 * (aux >> 28) + 1);
  }
}

void unpack_iq2_xs(const BlockIq2Xs& b, Unpacked& u) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    for (int l = 0; l < 4; ++l) {
      const uint16_t q = b.qs[4 * ib + l];
      signed8(u.w + 32 * ib + 8 * l, grid8(kIq2xsGrid, q & 511), kKsignsIq2xs[q >> 9]);
    }
    u.sc[2 * ib] = 2 * (b.scales[ib] & 0xf) + 1;
    u.sc[2 * ib + 1] = 2 * (b.scales[ib] >> 4) + 1;
  }
}

void unpack_iq2_s(const BlockIq2S& b, Unpacked& u) {
  const uint8_t* signs = b.qs + kQK_K / 8;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    for (int l = 0; l < 4; ++l) {
      const uint32_t index = b.qs[4 * ib + l] | ((uint32_t(b.qh[ib]) << (8 - 2 * l)) & 0x300);
      signed8(u.w + 32 * ib + 8 * l, grid8(kIq2sGrid, index), signs[4 * ib + l]);
    }
    u.sc[2 * ib] = 2 * (b.scales[ib] & 0xf) + 1;
    u.sc[2 * ib + 1] = 2 * (b.scales[ib] >> 4) + 1;
  }
}

void unpack_iq3_xxs(const BlockIq3Xxs& b, Unpacked& u) {
  const uint8_t* gas = b.qs + kQK_K / 4;
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const uint8_t* q3 = b.qs + 8 * ib;
    const uint32_t aux = load_u32(gas + 4 * ib);
    for (int l = 0; l < 4; ++l)
      signed4x2(u.w + 32 * ib + 8 * l, grid4(kIq3xxsGrid, q3[2 * l]), grid4(kIq3xxsGrid, q3[2 * l + 1]),
                kKsignsIq2xs[(aux >> 7 * l) & 127]);
    u.sc[2 * ib] = u.sc[2 * ib + 1] = int(2 * (aux >> 28) + 1);
  }
}

void unpack_iq3_s(const BlockIq3S& b, Unpacked& u) {
  for (int ib = 0; ib < kQK_K / 32; ++ib) {
    const uint8_t* qs = b.qs + 8 * ib;
    for (int l = 0; l < 4; ++l)
      signed4x2(u.w + 32 * ib + 8 * l, grid4(kIq3sGrid, iq3s_index(qs, b.qh[ib], 2 * l)),
                grid4(kIq3sGrid, iq3s_index(qs, b.qh[ib], 2 * l + 1)), b.signs[4 * ib + l]);
    u.sc[2 * ib] = u.sc[2 * ib + 1] = 2 * (ib % 2 == 0 ? (b.scales[ib / 2] & 0xf) : (b.scales[ib / 2] >> 4)) + 1;
  }
}

// The plain lattice types: lanes fma'd with d_x d_y, hsum_float_8, times `factor`.
template <class Block, void (*Unpack)(const Block&, Unpacked&)>
float dot_lattice(int64_t n, const void* vx, const void* vy, float factor) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float acc[8] = {};
  Unpacked u;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    Unpack(x[b], u);
    int32_t lanes[8];
    lanes_of(u, y[b].qs, lanes);
    fma_lanes(acc, fp16_to_f32(x[b].d) * y[b].d, lanes);
  }
  return factor * hsum8_ggml(acc);
}

}  // namespace

float vec_dot_iq4_xs_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq4Xs, unpack_iq4_xs>(n, vx, vy, 1.0f);
}
float vec_dot_iq2_xxs_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq2Xxs, unpack_iq2_xxs>(n, vx, vy, 0.125f);
}
float vec_dot_iq2_xs_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq2Xs, unpack_iq2_xs>(n, vx, vy, 0.125f);
}
float vec_dot_iq2_s_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq2S, unpack_iq2_s>(n, vx, vy, 0.125f);
}
float vec_dot_iq3_xxs_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq3Xxs, unpack_iq3_xxs>(n, vx, vy, 0.25f);
}
float vec_dot_iq3_s_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  return dot_lattice<BlockIq3S, unpack_iq3_s>(n, vx, vy, 1.0f);
}

// IQ1_S: the grid lanes as above (scale per 32 elements); the shift term is one integer per
// super-block, sum of ls * (+-1) * (bsums[2 ib] + bsums[2 ib + 1]), fma'd into a scalar accumulator;
// result hsum_float_8(acc) + IQ1S_DELTA * acc1.
float vec_dot_iq1_s_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq1S*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float acc[8] = {}, acc1 = 0;
  Unpacked u;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int sumi1 = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint16_t qh = x[b].qh[ib];
      const int ls = 2 * ((qh >> 12) & 7) + 1;
      for (int l = 0; l < 4; ++l) std::memcpy(u.w + 32 * ib + 8 * l, grid1(x[b].qs[4 * ib + l] | (((qh >> 3 * l) & 7) << 8)), 8);
      u.sc[2 * ib] = u.sc[2 * ib + 1] = ls;
      sumi1 += ls * (qh & 0x8000 ? -1 : 1) * (y[b].bsums[2 * ib] + y[b].bsums[2 * ib + 1]);
    }
    int32_t lanes[8];
    lanes_of(u, y[b].qs, lanes);
    const float d = y[b].d * fp16_to_f32(x[b].d);
    fma_lanes(acc, d, lanes);
    acc1 = std::fma(d, float(sumi1), acc1);
  }
  return hsum8_ggml(acc) + kIq1Delta * acc1;
}

// IQ1_M: two sets of lanes with the same 16-element scales, the grid's and the shift's (the
// activations times the +-1 of their 8-element point); result hsum(acc1) + IQ1M_DELTA * hsum(acc2).
float vec_dot_iq1_m_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  const auto* x = static_cast<const BlockIq1M*>(vx);
  const auto* y = static_cast<const BlockQ8_K*>(vy);
  float acc1[8] = {}, acc2[8] = {};
  Unpacked u, shift;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint16_t sc[4];
    load_iq1m_scales(x[b], sc);
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      const uint8_t* qs = x[b].qs + 4 * ib;
      const uint8_t* qh = x[b].qh + 2 * ib;
      for (int l = 0; l < 4; ++l) {
        const uint8_t h = uint8_t(l % 2 == 0 ? qh[l / 2] & 0xf : qh[l / 2] >> 4);
        std::memcpy(u.w + 32 * ib + 8 * l, grid1(qs[l] | (uint32_t(h & 7) << 8)), 8);
        std::memset(shift.w + 32 * ib + 8 * l, h & 8 ? -1 : 1, 8);
      }
      u.sc[2 * ib] = shift.sc[2 * ib] = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 7) + 1;
      u.sc[2 * ib + 1] = shift.sc[2 * ib + 1] = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1;
    }
    int32_t lanes1[8], lanes2[8];
    lanes_of(u, y[b].qs, lanes1);
    lanes_of(shift, y[b].qs, lanes2);
    const float d = y[b].d * fp16_to_f32(iq1m_scale_bits(sc));
    fma_lanes(acc1, d, lanes1);
    fma_lanes(acc2, d, lanes2);
  }
  return hsum8_ggml(acc1) + kIq1Delta * hsum8_ggml(acc2);
}

// TQ1_0 and TQ2_0: lanes of the unsigned trits t = value + 1 (0..2), each minus the sum of the 32
// activations bsums[2k] + bsums[2k+1] (not those of its own elements: ggml's int16 correction),
// fma'd with d_x d_y.
namespace {
template <class Block, class Trits>
float dot_ternary(int64_t n, const Block* x, const BlockQ8_K* y, Trits trits) {
  float acc[8] = {};
  Unpacked u;
  for (int k = 0; k < 16; ++k) u.sc[k] = 1;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    trits(x[b], u.w);
    int32_t lanes[8];
    lanes_of(u, y[b].qs, lanes);
    for (int k = 0; k < 8; ++k) lanes[k] -= y[b].bsums[2 * k] + y[b].bsums[2 * k + 1];
    fma_lanes(acc, y[b].d * fp16_to_f32(x[b].d), lanes);
  }
  return hsum8_ggml(acc);
}
}  // namespace

float vec_dot_tq1_0_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  return dot_ternary(n, static_cast<const BlockTq1_0*>(vx), static_cast<const BlockQ8_K*>(vy),
                     [](const BlockTq1_0& b, int8_t* w) { for_each_tq1_trit(b, [&](int e, int t) { w[e] = int8_t(t + 1); }); });
}

float vec_dot_tq2_0_q8_K_ref(int64_t n, const void* vx, const void* vy) {
  return dot_ternary(n, static_cast<const BlockTq2_0*>(vx), static_cast<const BlockQ8_K*>(vy),
                     [](const BlockTq2_0& b, int8_t* w) {
                       for (int j = 0; j < kQK_K / 4; j += 32)
                         for (int l = 0; l < 4; ++l)
                           for (int m = 0; m < 32; ++m) w[4 * j + 32 * l + m] = int8_t((b.qs[j + m] >> (2 * l)) & 3);
                     });
}

}  // namespace pj
