// Reference quantizers of IQ4_NL, IQ4_XS, TQ1_0, TQ2_0 and MXFP4 (iquants_ref.h; the lattice types are in
// iquants_quantize_lattice.cpp and iquants_quantize_iq1.cpp), byte-exact with
// llama.cpp's (algorithms learned from ggml/src/ggml-quants.c), and the registration of every type of
// iquants_ref.h in the kernel table.
#include <cmath>
#include <cstring>

#include "core/base/half.h"
#include "core/kernels/iquants_ref.h"
#include "core/kernels/iquants_simd.h"
#include "core/kernels/iquants_tables.h"
#include "core/kernels/kernel_table.h"

namespace pj {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // llama.cpp's GROUP_MAX_EPS: below this a group is all zero

// Round to nearest, ties to even (llama.cpp's nearest_int adds 1.5 * 2^23 and reads the mantissa).
inline int nearest_int(float x) { return int(std::nearbyint(x)); }

// Index of the value in the ascending table `val` nearest to x (the upper one on exact ties
// only when it is strictly nearer: ties go down).
int best_index_int8(int n, const int8_t* val, float x) {
  if (x <= val[0]) return 0;
  if (x >= val[n - 1]) return n - 1;
  int lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < val[mid]) hi = mid;
    else lo = mid;
  }
  return x - val[hi - 1] < val[hi] - x ? hi - 1 : hi;
}

// One super-block of IQ4_NL (block_size == super_block_size == 32) or IQ4_XS (256 in blocks of 32).
// Per block: weighted least-squares scale, optionally refined over 2 ntry + 1 candidate scales; for
// IQ4_XS the block scales are then quantized to 6 bits against a super-block scale and the values
// re-assigned. Writes dh, q4 and (IQ4_XS) scales_h / scales_l.
// L: the caller's index buffer (super_block_size entries), kept across the blocks of a row: a block
// whose values are all below kGroupMaxEps leaves it untouched in the no-search IQ4_NL reference and
// then packs the previous block's indices, as llama.cpp does (its scale is 0, but the bytes count).
void quantize_iq4_block(int super_block_size, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* scales_h,
                        uint8_t* scales_l, const float* quant_weights, int ntry, uint8_t* L) {
  constexpr int kBlock = 32;
  const int8_t* values = kValuesIq4nl;
  float scales[kQK_K / kBlock];
  float weight[kBlock];

  float sigma2 = 0;
  for (int j = 0; j < super_block_size; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / float(super_block_size);

  std::memset(q4, 0, size_t(super_block_size / 2));
  dh[0] = f32_to_fp16(0.f);

  const int nb = super_block_size / kBlock;
  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < nb; ++ib) {
    const float* xb = x + ib * kBlock;
    uint8_t* Lb = L + ib * kBlock;
    if (quant_weights) {
      const float* qw = quant_weights + ib * kBlock;
      for (int j = 0; j < kBlock; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    } else {
      for (int j = 0; j < kBlock; ++j) weight[j] = xb[j] * xb[j];
    }
    float amax = 0, max = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = ntry > 0 ? -max / values[0] : max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const int l = best_index_int8(16, values, id * xb[j]);
      Lb[j] = uint8_t(l);
      const float q = values[l], w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = float(itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < kBlock; ++j) {
        const int l = best_index_int8(16, values, id * xb[j]);
        const float q = values[l], w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }

  if (nb > 1) {
    *scales_h = 0;
    const float d = -max_scale / 32;
    dh[0] = f32_to_fp16(d);
    const float id = d != 0 ? 1 / d : 0.f;
    for (int ib = 0; ib < nb; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const float dl = d * float(l);
      const float idl = dl != 0 ? 1 / dl : 0.f;
      uint8_t* Lb = L + ib * kBlock;
      const float* xb = x + ib * kBlock;
      for (int j = 0; j < kBlock; ++j) Lb[j] = uint8_t(best_index_int8(16, values, idl * xb[j]));
      l += 32;
      const uint8_t l_l = uint8_t(l & 0xf), l_h = uint8_t(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] |= uint8_t(l_l << 4);
      *scales_h = uint16_t(*scales_h | (l_h << 2 * (ib % 8)));
    }
  } else {
    dh[0] = f32_to_fp16(scales[0]);
    if (ntry > 0) {
      const float id = scales[0] != 0 ? 1 / scales[0] : 0;
      for (int j = 0; j < super_block_size; ++j) L[j] = uint8_t(best_index_int8(16, values, id * x[j]));
    }
  }
  for (int i = 0; i < super_block_size / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

int best_index_mxfp4(float x, float e) {
  int best = 0;
  float best_err = std::fabs(kValuesMxfp4[0] * e - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(kValuesMxfp4[i] * e - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

// max |x| over one block of 256
float absmax256(const float* x) {
  float amax = 0;
  for (int j = 0; j < kQK_K; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

// -1, 0, 1 (rounded half away from zero, as lroundf) -> 0, 1, 2
inline int ternary(float v) { return int(std::lround(v)) + 1; }

}  // namespace

void quantize_row_iq4_nl_ref(const float* x, BlockIq4Nl* y, int64_t n) {
  uint8_t L[kQK4NL] = {};  // llama.cpp leaves it uninitialised: only an all-zero first block reads it
  for (int64_t b = 0; b < n / kQK4NL; ++b)
    quantize_iq4_block(kQK4NL, x + kQK4NL * b, &y[b].d, y[b].qs, nullptr, nullptr, nullptr, -1, L);
}

size_t quantize_rows_iq4_nl(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  auto* y = static_cast<BlockIq4Nl*>(dst);
  const int64_t nb = n_per_row / kQK4NL;
  uint8_t L[kQK4NL] = {};
  for (int64_t r = 0; r < nrow; ++r, src += n_per_row, y += nb)
    for (int64_t b = 0; b < nb; ++b)
      quantize_iq4_block(kQK4NL, src + kQK4NL * b, &y[b].d, y[b].qs, nullptr, nullptr,
                         imatrix ? imatrix + kQK4NL * b : nullptr, 7, L);
  return size_t(nrow * nb) * sizeof(BlockIq4Nl);
}

size_t quantize_rows_iq4_xs(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  auto* y = static_cast<BlockIq4Xs*>(dst);
  const int64_t nb = n_per_row / kQK_K;
  uint8_t L[kQK_K] = {};
  for (int64_t r = 0; r < nrow; ++r, src += n_per_row, y += nb)
    for (int64_t b = 0; b < nb; ++b)
      quantize_iq4_block(kQK_K, src + kQK_K * b, &y[b].d, y[b].qs, &y[b].scales_h, y[b].scales_l,
                         imatrix ? imatrix + kQK_K * b : nullptr, 7, L);
  return size_t(nrow * nb) * sizeof(BlockIq4Xs);
}

void quantize_row_iq4_xs_ref(const float* x, BlockIq4Xs* y, int64_t n) { quantize_rows_iq4_xs(x, y, 1, n, nullptr); }

void quantize_row_mxfp4_ref(const float* x, BlockMxfp4* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK4NL; ++b, x += kQK4NL) {
    float amax = 0;
    for (int j = 0; j < kQK4NL; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    // the largest E2M1 value is 6 = 1.5 * 2^2: exponent floor(log2(amax)) - 2 (biased by 127)
    const uint8_t e = amax > 0 ? uint8_t(std::floor(std::log2(amax)) - 2 + 127) : 0;
    const float d = e8m0_to_f32_half(e);
    y[b].e = e;
    for (int j = 0; j < 16; ++j)
      y[b].qs[j] = uint8_t(best_index_mxfp4(x[j], d) | best_index_mxfp4(x[j + 16], d) << 4);
  }
}

void quantize_row_tq1_0_ref(const float* x, BlockTq1_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    const float d = absmax256(x);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[b].d = f32_to_fp16(d);
    // a base-3 number of 5 trits (first element most significant), stored as ceil(v * 256 / 243)
    auto pack = [](int v) { return uint8_t((v * 256 + 242) / 243); };
    for (int m = 0; m < 32; ++m) {
      int v = 0;
      for (int t = 0; t < 5; ++t) v = v * 3 + ternary(x[m + 32 * t] * id);
      y[b].qs[m] = pack(v);
    }
    for (int m = 0; m < 16; ++m) {
      int v = 0;
      for (int t = 0; t < 5; ++t) v = v * 3 + ternary(x[160 + m + 16 * t] * id);
      y[b].qs[32 + m] = pack(v);
    }
    for (int m = 0; m < 4; ++m) {
      int v = 0;
      for (int t = 0; t < 4; ++t) v = v * 3 + ternary(x[240 + m + 4 * t] * id);
      y[b].qh[m] = pack(v * 3);  // 4 trits in the top positions, the 5th is 0
    }
  }
}

void quantize_row_tq2_0_ref(const float* x, BlockTq2_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    const float d = absmax256(x);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[b].d = f32_to_fp16(d);
    for (int j = 0; j < kQK_K / 4; j += 32)
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int l = 0; l < 4; ++l) q |= (ternary(x[4 * j + m + 32 * l] * id) & 3) << (2 * l);
        y[b].qs[j + m] = uint8_t(q);
      }
  }
}

// ---------------------------------------------------------------------------------- registration

namespace {

// llama.cpp's quantize_tq1_0 / quantize_tq2_0 / quantize_mxfp4 ignore the importance weights.
template <class Block, void (*F)(const float*, Block*, int64_t)>
size_t quantize_rows_unweighted(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float*) {
  F(src, static_cast<Block*>(dst), nrow * n_per_row);
  return size_t(nrow * n_per_row) / kBlockElems<Block> * sizeof(Block);
}

template <class Block, void (*F)(const Block*, float*, int64_t)>
void to_float_erased(const void* x, float* y, int64_t n) {
  F(static_cast<const Block*>(x), y, n);
}
template <class Block, void (*F)(const float*, Block*, int64_t)>
void from_float_erased(const float* x, void* y, int64_t n) {
  F(x, static_cast<Block*>(y), n);
}

void set(KernelTable& t, GgmlType type, ToFloatFn to, FromFloatFn from, VecDotFn dot, GgmlType dot_type,
         QuantizeRowsFn rows = nullptr) {
  TypeTraits& tr = t.types[size_t(type)];
  const GgmlTypeInfo& info = ggml_type_info(type);
  tr.type = type;
  tr.supported = true;
  tr.block_size = info.block_size;
  tr.type_size = info.type_size;
  tr.to_float = to;
  tr.from_float_ref = from;
  tr.vec_dot = dot;
  tr.vec_dot_type = dot_type;
  tr.quantize_rows = rows;
}

}  // namespace

void install_iquants_scalar(KernelTable& t) {
  using T = GgmlType;
  set(t, T::IQ4_NL, to_float_erased<BlockIq4Nl, dequantize_row_iq4_nl>,
      from_float_erased<BlockIq4Nl, quantize_row_iq4_nl_ref>, vec_dot_iq4_nl_q8_0_ref, T::Q8_0,
      quantize_rows_iq4_nl);
  set(t, T::MXFP4, to_float_erased<BlockMxfp4, dequantize_row_mxfp4>,
      from_float_erased<BlockMxfp4, quantize_row_mxfp4_ref>, vec_dot_mxfp4_q8_0_ref, T::Q8_0,
      quantize_rows_unweighted<BlockMxfp4, quantize_row_mxfp4_ref>);
  set(t, T::IQ4_XS, to_float_erased<BlockIq4Xs, dequantize_row_iq4_xs>,
      from_float_erased<BlockIq4Xs, quantize_row_iq4_xs_ref>, vec_dot_iq4_xs_q8_K_ref, T::Q8_K,
      quantize_rows_iq4_xs);
  set(t, T::TQ1_0, to_float_erased<BlockTq1_0, dequantize_row_tq1_0>,
      from_float_erased<BlockTq1_0, quantize_row_tq1_0_ref>, vec_dot_tq1_0_q8_K_ref, T::Q8_K,
      quantize_rows_unweighted<BlockTq1_0, quantize_row_tq1_0_ref>);
  set(t, T::TQ2_0, to_float_erased<BlockTq2_0, dequantize_row_tq2_0>,
      from_float_erased<BlockTq2_0, quantize_row_tq2_0_ref>, vec_dot_tq2_0_q8_K_ref, T::Q8_K,
      quantize_rows_unweighted<BlockTq2_0, quantize_row_tq2_0_ref>);
  // Lattice types (iquants_quantize_lattice.cpp, iquants_quantize_iq1.cpp). Like llama.cpp, only IQ2_S,
  // IQ3_XXS and IQ3_S have a reference from_float; the others need importance weights.
  set(t, T::IQ2_XXS, to_float_erased<BlockIq2Xxs, dequantize_row_iq2_xxs>, nullptr, vec_dot_iq2_xxs_q8_K_ref, T::Q8_K,
      quantize_rows_iq2_xxs);
  set(t, T::IQ2_XS, to_float_erased<BlockIq2Xs, dequantize_row_iq2_xs>, nullptr, vec_dot_iq2_xs_q8_K_ref, T::Q8_K,
      quantize_rows_iq2_xs);
  set(t, T::IQ2_S, to_float_erased<BlockIq2S, dequantize_row_iq2_s>,
      from_float_erased<BlockIq2S, quantize_row_iq2_s_ref>, vec_dot_iq2_s_q8_K_ref, T::Q8_K, quantize_rows_iq2_s);
  set(t, T::IQ3_XXS, to_float_erased<BlockIq3Xxs, dequantize_row_iq3_xxs>,
      from_float_erased<BlockIq3Xxs, quantize_row_iq3_xxs_ref>, vec_dot_iq3_xxs_q8_K_ref, T::Q8_K,
      quantize_rows_iq3_xxs);
  set(t, T::IQ3_S, to_float_erased<BlockIq3S, dequantize_row_iq3_s>,
      from_float_erased<BlockIq3S, quantize_row_iq3_s_ref>, vec_dot_iq3_s_q8_K_ref, T::Q8_K, quantize_rows_iq3_s);
  set(t, T::IQ1_S, to_float_erased<BlockIq1S, dequantize_row_iq1_s>, nullptr, vec_dot_iq1_s_q8_K_ref, T::Q8_K,
      quantize_rows_iq1_s);
  set(t, T::IQ1_M, to_float_erased<BlockIq1M, dequantize_row_iq1_m>, nullptr, vec_dot_iq1_m_q8_K_ref, T::Q8_K,
      quantize_rows_iq1_m);
}

void install_iquants_simd(KernelTable& t, Isa isa) {
  auto overlay = [&](const IquantDots& k) {
    auto put = [&](GgmlType type, IquantDots::Dot dot) {
      if (dot) t.types[size_t(type)].vec_dot = dot;
    };
    put(GgmlType::IQ4_NL, k.iq4_nl);
    put(GgmlType::MXFP4, k.mxfp4);
    put(GgmlType::IQ4_XS, k.iq4_xs);
    put(GgmlType::TQ2_0, k.tq2_0);
    put(GgmlType::IQ2_XXS, k.iq2_xxs);
    put(GgmlType::IQ3_S, k.iq3_s);
    put(GgmlType::IQ2_XS, k.iq2_xs);
    put(GgmlType::IQ2_S, k.iq2_s);
    put(GgmlType::IQ3_XXS, k.iq3_xxs);
    put(GgmlType::IQ1_S, k.iq1_s);
    put(GgmlType::IQ1_M, k.iq1_m);
    put(GgmlType::TQ1_0, k.tq1_0);
    auto put_gemm = [&](GgmlType type, IquantDots::Gemm gemm) {
      if (gemm) t.types[size_t(type)].gemm = gemm;
    };
    put_gemm(GgmlType::IQ4_XS, k.iq4_xs_gemm);
    put_gemm(GgmlType::IQ2_XXS, k.iq2_xxs_gemm);
    put_gemm(GgmlType::IQ2_XS, k.iq2_xs_gemm);
    put_gemm(GgmlType::IQ2_S, k.iq2_s_gemm);
    put_gemm(GgmlType::IQ3_XXS, k.iq3_xxs_gemm);
    put_gemm(GgmlType::IQ3_S, k.iq3_s_gemm);
  };
#if defined(__x86_64__)
  if (isa == Isa::Avx2 || isa == Isa::Avx512) overlay(iquant_dots_avx2());
  if (isa == Isa::Avx512) overlay(iquant_dots_avx512());
#elif defined(__aarch64__)
  if (isa == Isa::Neon) overlay(iquant_dots_neon());  // the others stay on the scalar reference
#else
  (void)overlay;
  (void)isa;
#endif
}

}  // namespace pj
