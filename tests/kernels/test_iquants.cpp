// IQ, ternary and MXFP4 types: dot products against the dequantized operands, every SIMD dot against
// the scalar reference on awkward sizes, quantizer round-trip error bands, exact round trips of
// representable data, importance weights, and error paths. (Dequantization and the TQ/MXFP4 quantizers
// are judged byte for byte by gguf-py in tests/python/test_iquants_vs_gguf.py.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/kernels/context.h"
#include "core/kernels/iquants_ref.h"
#include "core/kernels/iquants_tables.h"
#include "core/kernels/matmul.h"
#include "core/kernels/quants_ref.h"
#include "core/kernels/quant_blocks.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

using T = GgmlType;
const T kTypes[] = {T::IQ4_NL, T::IQ4_XS, T::IQ2_XXS, T::IQ2_XS, T::IQ2_S, T::IQ3_XXS,
                    T::IQ3_S,  T::IQ1_S,  T::IQ1_M,   T::TQ1_0,  T::TQ2_0, T::MXFP4};

// Random bytes in every field, with the scale fields set to `scale` (an fp16, or for MXFP4 an E8M0
// exponent byte) so that values are finite. `scale` may be a fixed value (1.0: exact integer data).
std::vector<uint8_t> random_row(T t, int64_t n, std::mt19937& rng, bool unit_scale) {
  const GgmlTypeInfo& info = ggml_type_info(t);
  std::vector<uint8_t> row(ggml_row_size(t, uint64_t(n)));
  std::uniform_int_distribution<int> byte(0, 255), exp(110, 135);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (auto& b : row) b = uint8_t(byte(rng));
  for (int64_t b = 0; b < n / info.block_size; ++b) {
    uint8_t* p = row.data() + size_t(b) * info.type_size;
    const uint16_t h = f32_to_fp16(unit_scale ? 1.0f : normal(rng));
    switch (t) {
      case T::MXFP4: p[0] = uint8_t(unit_scale ? 128 : exp(rng)); break;  // 128: d/2 = 1
      case T::TQ1_0: std::memcpy(p + offsetof(BlockTq1_0, d), &h, 2); break;
      case T::TQ2_0: std::memcpy(p + offsetof(BlockTq2_0, d), &h, 2); break;
      case T::IQ1_M: {
        uint16_t sc[4];
        std::memcpy(sc, p + offsetof(BlockIq1M, scales), 8);
        for (int k = 0; k < 4; ++k) sc[k] = uint16_t((sc[k] & 0x0fff) | (((h >> 4 * k) & 0xf) << 12));
        std::memcpy(p + offsetof(BlockIq1M, scales), sc, 8);
        break;
      }
      default: std::memcpy(p, &h, 2);  // every other type starts with its fp16 d
    }
  }
  return row;
}

// Activations of the paired type: int8 quants in [-qmax, qmax] (the quantizers write [-127, 127]),
// scale 1 (exact) or random; Q8_K's bsums are the sums of each 16 quants.
std::vector<uint8_t> activation_row(T t, int64_t n, std::mt19937& rng, bool unit_scale, int qmax = 127) {
  std::uniform_int_distribution<int> q(-qmax, qmax);
  std::uniform_real_distribution<float> d(0.001f, 0.05f);
  std::vector<uint8_t> row(ggml_row_size(t, uint64_t(n)));
  if (t == T::Q8_0) {
    auto* y = reinterpret_cast<BlockQ8_0*>(row.data());
    for (int64_t b = 0; b < n / 32; ++b) {
      y[b].d = f32_to_fp16(unit_scale ? 1.0f : d(rng));
      for (auto& v : y[b].qs) v = int8_t(q(rng));
    }
  } else {
    EXPECT_EQ(t, T::Q8_K);
    auto* y = reinterpret_cast<BlockQ8_K*>(row.data());
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      y[b].d = unit_scale ? 1.0f : d(rng);
      for (auto& v : y[b].qs) v = int8_t(q(rng));
      for (int g = 0; g < kQK_K / 16; ++g) {
        int s = 0;
        for (int j = 0; j < 16; ++j) s += y[b].qs[16 * g + j];
        y[b].bsums[g] = int16_t(s);
      }
    }
  }
  return row;
}

std::vector<float> activation_values(T t, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  if (t == T::Q8_0) {
    dequantize_row_q8_0(reinterpret_cast<const BlockQ8_0*>(row.data()), out.data(), n);
  } else {
    const auto* y = reinterpret_cast<const BlockQ8_K*>(row.data());
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = y[i / kQK_K].d * float(y[i / kQK_K].qs[i % kQK_K]);
  }
  return out;
}

// Block counts; the 32-element types get the same counts (so also sizes that are not multiples of 8).
const int64_t kSizes[] = {1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 65, 127};

TEST(Iquants, EveryTypeIsInTheTableWithItsActivationType) {
  const KernelTable& t = kernel_table(Isa::Scalar);
  for (T type : kTypes) {
    const TypeTraits& tr = t.types[size_t(type)];
    SCOPED_TRACE(ggml_type_info(type).name);
    EXPECT_TRUE(tr.supported);
    EXPECT_TRUE(tr.to_float && tr.vec_dot);
    EXPECT_EQ(tr.vec_dot_type, tr.block_size == 32 ? T::Q8_0 : T::Q8_K);
    EXPECT_EQ(tr.type_size, ggml_type_info(type).type_size);
  }
}

// The scalar dot equals the double-precision dot of the dequantized operands, within float rounding:
// each block's integer sum is exact and the float steps (scale products, block accumulation) cost at
// most ~(blocks + 4) roundings of 2^-24 relative to S = sum |x_i y_i| (Higham 3.1); 1e-5 S + 1e-6 is
// far below any real bug (a wrong sign or grid point changes the sum by ~|x_i y_i|).
TEST(Iquants, ScalarDotEqualsDequantizedProduct) {
  const KernelTable& ref = kernel_table(Isa::Scalar);
  std::mt19937 rng(5);
  for (T t : kTypes) {
    const TypeTraits& tr = ref.types[size_t(t)];
    for (int64_t blocks : {1, 3, 17}) {
      const int64_t n = blocks * tr.block_size;
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " n=" + std::to_string(n));
      const auto x = random_row(t, n, rng, false);
      const auto y = activation_row(tr.vec_dot_type, n, rng, false);
      std::vector<float> xd(static_cast<size_t>(n));
      tr.to_float(x.data(), xd.data(), n);
      const auto yd = activation_values(tr.vec_dot_type, y, n);
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += double(xd[size_t(i)]) * yd[size_t(i)];
        mag += std::fabs(double(xd[size_t(i)]) * yd[size_t(i)]);
      }
      ASSERT_GT(mag, 0.0);
      EXPECT_NEAR(tr.vec_dot(n, x.data(), y.data()), want, 1e-5 * mag + 1e-6);
    }
  }
}

class IquantsSimd : public ::testing::TestWithParam<Isa> {};

// With unit scales every value and partial sum is an integer (or a multiple of 1/8 for the shifted
// IQ1 grids), so every variant's float arithmetic is exact while the magnitude bound stays below 2^24:
// results must be bit-identical. This checks the integer part of each SIMD dot exactly. Activations
// stay in [-3, 3] to keep the bound small (weights reach 127 * 31 per element for IQ4_XS); the full
// int8 range, where maddubs could saturate, is covered by the next test.
TEST_P(IquantsSimd, UnitScaleDataBitExact) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  const KernelTable& ref = kernel_table(Isa::Scalar);
  const KernelTable& opt = kernel_table(isa);
  std::mt19937 rng(17);
  for (T t : kTypes) {
    const TypeTraits& tr = ref.types[size_t(t)];
    int tested = 0;
    for (int64_t blocks : kSizes) {
      const int64_t n = blocks * tr.block_size;
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " n=" + std::to_string(n));
      const auto x = random_row(t, n, rng, true);
      const auto y = activation_row(tr.vec_dot_type, n, rng, true, 3);
      std::vector<float> xd(static_cast<size_t>(n));
      tr.to_float(x.data(), xd.data(), n);
      const auto yd = activation_values(tr.vec_dot_type, y, n);
      double bound = 0;
      for (int64_t i = 0; i < n; ++i) bound += std::fabs(double(xd[size_t(i)]) * yd[size_t(i)]);
      if (bound * 8 >= 16777216.0) continue;
      ASSERT_EQ(opt.types[size_t(t)].vec_dot(n, x.data(), y.data()), tr.vec_dot(n, x.data(), y.data()));
      ++tested;
    }
    // IQ4_XS reaches the 2^24 bound after ~3 super-blocks (values up to 127 * 32); 3 still decode
    // every sub-block position and scale bit.
    EXPECT_GE(tested, t == T::IQ4_XS ? 3 : 6) << ggml_type_info(t).name;
  }
}

// Random scales: the block integer sums agree exactly (previous test); only the float accumulation
// order may differ, by at most 2 (k + 2) 2^-24 S over k roundings (Higham 3.1), S = sum |x_i y_i|.
TEST_P(IquantsSimd, RandomDataWithinRoundingBound) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  const KernelTable& ref = kernel_table(Isa::Scalar);
  const KernelTable& opt = kernel_table(isa);
  std::mt19937 rng(23);
  for (T t : kTypes) {
    const TypeTraits& tr = ref.types[size_t(t)];
    for (int64_t blocks : kSizes) {
      const int64_t n = blocks * tr.block_size;
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " n=" + std::to_string(n));
      const auto x = random_row(t, n, rng, false);
      const auto y = activation_row(tr.vec_dot_type, n, rng, false);
      std::vector<float> xd(static_cast<size_t>(n));
      tr.to_float(x.data(), xd.data(), n);
      const auto yd = activation_values(tr.vec_dot_type, y, n);
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += std::fabs(double(xd[size_t(i)]) * yd[size_t(i)]);
      const double tol = 2.0 * double(n + 2) * std::ldexp(1.0, -24) * s;
      ASSERT_NEAR(opt.types[size_t(t)].vec_dot(n, x.data(), y.data()), tr.vec_dot(n, x.data(), y.data()), tol);
    }
  }
}

// The 256-element types' SIMD dots compute ggml's eight int32 lanes per super-block exactly and then
// apply the scales with the scalar reference's float operations in its order (ggml-cpu's x86 order), so
// with random scales too they must equal the reference bit for bit (no tolerance).
TEST_P(IquantsSimd, SuperBlockTypesBitExactOnRandomData) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  const KernelTable& ref = kernel_table(Isa::Scalar);
  const KernelTable& opt = kernel_table(isa);
  std::mt19937 rng(29);
  for (T t : {T::IQ4_XS, T::IQ2_XXS, T::IQ2_XS, T::IQ2_S, T::IQ3_XXS, T::IQ3_S, T::IQ1_S, T::IQ1_M, T::TQ1_0,
              T::TQ2_0}) {
    const TypeTraits& tr = ref.types[size_t(t)];
    for (int64_t blocks : kSizes) {
      const int64_t n = blocks * tr.block_size;
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " n=" + std::to_string(n));
      const auto x = random_row(t, n, rng, false);
      const auto y = activation_row(tr.vec_dot_type, n, rng, false);
      ASSERT_EQ(opt.types[size_t(t)].vec_dot(n, x.data(), y.data()), tr.vec_dot(n, x.data(), y.data()));
    }
  }
}

// The SIMD variants named in the issue must really be installed (no silent scalar fallback).
TEST_P(IquantsSimd, OptimisedDotsInstalled) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  for (T t : {T::IQ4_NL, T::IQ4_XS, T::IQ2_XXS, T::IQ2_XS, T::IQ2_S, T::IQ3_XXS, T::IQ3_S, T::IQ1_S, T::IQ1_M,
              T::TQ1_0, T::TQ2_0, T::MXFP4}) {
    EXPECT_NE(kernel_table(isa).types[size_t(t)].vec_dot, kernel_table(Isa::Scalar).types[size_t(t)].vec_dot)
        << ggml_type_info(t).name;
  }
}

// The IQ tiles exist for the x86 ISAs only (no NEON IQ tiles yet), so these run on AVX2 and AVX-512;
// scripts/check_neon.sh requires every NEON instance to run, not skip.
class IquantsTiles : public ::testing::TestWithParam<Isa> {};

// The tile kernels (TypeTraits::gemm) of the 256-element IQ types: every output equals the one-row
// SIMD dot of the same table bit for bit (that dot equals ggml's order, tests above), on random bytes
// in every field (all grid points, sign patterns, scales), random scales, full int8 activations, for
// mr / nr that are not multiples of the micro-tiles (AVX2 3 x 3, AVX-512 4 x 4), super-block counts
// across the decode chunk (4), nr across the 128-row column block, written into ldo > mr with the
// other elements untouched.
TEST_P(IquantsTiles, TilesEqualOneRowDotBitForBit) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  const KernelTable& opt = kernel_table(isa);
  std::mt19937 rng(31);
  struct Shape {
    int64_t blocks, mr, nr;
  };
  const Shape shapes[] = {{1, 1, 2}, {1, 5, 7}, {3, 7, 3}, {4, 4, 4}, {5, 9, 5}, {9, 6, 70}, {2, 13, 131}};
  for (T t : {T::IQ4_XS, T::IQ2_XXS, T::IQ2_XS, T::IQ2_S, T::IQ3_XXS, T::IQ3_S}) {
    const TypeTraits& tr = opt.types[size_t(t)];
    ASSERT_NE(tr.gemm, nullptr) << ggml_type_info(t).name;
    for (const Shape& sh : shapes) {
      const int64_t n = sh.blocks * kQK_K;
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " n=" + std::to_string(n) + " mr=" + std::to_string(sh.mr) +
                   " nr=" + std::to_string(sh.nr));
      const size_t wb = ggml_row_size(t, uint64_t(n)), ab = ggml_row_size(T::Q8_K, uint64_t(n));
      std::vector<uint8_t> w, a;
      for (int64_t r = 0; r < sh.mr; ++r) {
        const auto row = random_row(t, n, rng, false);
        w.insert(w.end(), row.begin(), row.end());
      }
      for (int64_t j = 0; j < sh.nr; ++j) {
        const auto row = activation_row(T::Q8_K, n, rng, false);
        a.insert(a.end(), row.begin(), row.end());
      }
      const int64_t ldo = sh.mr + 2;
      std::vector<float> out(size_t(ldo * sh.nr), -7.0f), want(out);
      tr.gemm(n, w.data(), wb, sh.mr, a.data(), ab, sh.nr, out.data(), ldo);
      for (int64_t j = 0; j < sh.nr; ++j)
        for (int64_t r = 0; r < sh.mr; ++r)
          want[size_t(j * ldo + r)] = tr.vec_dot(n, w.data() + size_t(r) * wb, a.data() + size_t(j) * ab);
      ASSERT_EQ(std::memcmp(out.data(), want.data(), out.size() * sizeof(float)), 0);
    }
  }
}

// matmul (tiles for n >= 2, the L2 activation blocks, both thread splits) against matmul_by_dots on
// random IQ blocks: bit-identical.
TEST_P(IquantsTiles, MatmulTilesEqualRowByRowDots) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  std::mt19937 rng(37);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Case {
    int64_t rows, cols, n;
  };
  const Case cases[] = {{50, 4096, 26}, {7, 4096, 40}, {31, 1536, 2}, {5, 512, 29}};
  for (int threads : {1, 2}) {
    KernelContext ctx(KernelContext::Options{.threads = threads, .isa = isa});
    for (T t : {T::IQ4_XS, T::IQ2_XXS, T::IQ2_XS, T::IQ2_S, T::IQ3_XXS, T::IQ3_S}) {
      for (const Case& c : cases) {
        SCOPED_TRACE(std::string(ggml_type_info(t).name) + " threads " + std::to_string(threads) + " rows " +
                     std::to_string(c.rows) + " cols " + std::to_string(c.cols) + " n " + std::to_string(c.n));
        const auto w = random_row(t, c.rows * c.cols, rng, false);  // rows back to back
        std::vector<float> x(size_t(c.n * c.cols));
        for (auto& v : x) v = normal(rng);
        std::vector<float> got(size_t(c.rows * c.n), NAN), want(got);
        matmul(ctx, t, w.data(), c.rows, c.cols, x.data(), c.n, got.data());
        matmul_by_dots(ctx, t, w.data(), c.rows, c.cols, x.data(), c.n, want.data());
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, IquantsSimd, ::testing::Values(Isa::Avx2, Isa::Avx512, Isa::Neon),
                         [](const auto& info) { return std::string(isa_name(info.param)); });
INSTANTIATE_TEST_SUITE_P(Isas, IquantsTiles, ::testing::Values(Isa::Avx2, Isa::Avx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

// Relative RMSE (rmse / rms) of quantize -> dequantize on N(0, 1) data, 64k values, through the
// reference quantizer (from_float_ref). Expected values:
//   IQ4_NL / IQ4_XS: a 16-level codebook spread over +-amax (~2.4 sigma for 32 normals), spacing
//     ~0.1-0.18 amax, densest near 0 -> close to Q4_0's 0.076 and a little better: ~0.06.
//   MXFP4: E2M1 has levels 0, .5, 1, 1.5, 2, 3, 4, 6 times a power-of-two scale chosen from
//     floor(log2(amax)), so amax lands anywhere in [4, 8) x scale, step up to 2 scale: ~0.10-0.13.
//   TQ2_0 / TQ1_0: ternary with d = amax of 256 normals (~2.9 sigma): |x| < 1.45 sigma rounds to 0
//     (86% of values), the rest to +-2.9 sigma: rel. RMSE ~0.7.
// The bands are ~0.75x .. 1.3x of what these types measure here (printed on failure).
const std::map<T, std::pair<double, double>> kBands = {
    {T::IQ4_NL, {0.045, 0.08}}, {T::IQ4_XS, {0.045, 0.08}}, {T::MXFP4, {0.08, 0.16}},
    {T::TQ1_0, {0.55, 0.9}},    {T::TQ2_0, {0.55, 0.9}},
};

double rel_rmse(const std::vector<float>& a, const std::vector<float>& b, const float* w = nullptr, int64_t cols = 0) {
  double err = 0, sig = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double wi = w ? w[i % size_t(cols)] : 1.0;
    err += wi * double(a[i] - b[i]) * (a[i] - b[i]);
    sig += wi * double(a[i]) * a[i];
  }
  return std::sqrt(err / sig);
}

TEST(Iquants, RoundTripErrorWithinBand) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = Isa::Scalar});
  const int64_t n = 256 * 256;
  const auto x = test::normal_floats(size_t(n), 31);
  for (const auto& [t, band] : kBands) {
    SCOPED_TRACE(ggml_type_info(t).name);
    std::vector<uint8_t> q(ggml_row_size(t, uint64_t(n)));
    std::vector<float> back(static_cast<size_t>(n));
    ctx.quantize_row(t, x.data(), q.data(), n);
    ctx.dequantize_row(t, q.data(), back.data(), n);
    const double rel = rel_rmse(x, back);
    EXPECT_GE(rel, band.first);
    EXPECT_LE(rel, band.second);
    // quantize_rows (what the quantize tool runs) without weights: same error level
    const TypeTraits& tr = ctx.traits(t);
    ASSERT_TRUE(tr.quantize_rows);
    std::vector<uint8_t> q2(q.size());
    EXPECT_EQ(tr.quantize_rows(x.data(), q2.data(), 64, n / 64, nullptr), q2.size());
    ctx.dequantize_row(t, q2.data(), back.data(), n);
    EXPECT_LE(rel_rmse(x, back), band.second);
  }
}

// Values on the type's own grid come back exactly: IQ4_NL/IQ4_XS d * kvalues with a power-of-two d
// (IQ4_XS: every sub-block at the largest scale, 6-bit scale -32 -> d = -max_scale/32 exact), MXFP4
// codes times a power of two, ternary values times d.
TEST(Iquants, GridValuesRoundTripExactly) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = Isa::Scalar});
  const int64_t n = 512;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> code(0, 15), trit(-1, 1);
  for (T t : {T::IQ4_NL, T::IQ4_XS, T::MXFP4, T::TQ1_0, T::TQ2_0}) {
    SCOPED_TRACE(ggml_type_info(t).name);
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t blk = i / 32;
      switch (t) {
        case T::MXFP4: x[size_t(i)] = std::ldexp(float(kValuesMxfp4[code(rng)]), int(blk % 5) - 3); break;
        case T::TQ1_0:
        case T::TQ2_0: x[size_t(i)] = 0.375f * float(trit(rng)); break;
        default: x[size_t(i)] = std::ldexp(float(kValuesIq4nl[code(rng)]), -6);
      }
      if (i % 32 == 0 && t != T::TQ1_0 && t != T::TQ2_0)  // every block holds its extreme code
        x[size_t(i)] = t == T::MXFP4 ? std::ldexp(-12.0f, int(blk % 5) - 3) : std::ldexp(-127.0f, -6);
    }
    if (t == T::TQ1_0 || t == T::TQ2_0) x[0] = 0.375f;
    std::vector<uint8_t> q(ggml_row_size(t, uint64_t(n)));
    std::vector<float> back(static_cast<size_t>(n));
    ctx.quantize_row(t, x.data(), q.data(), n);
    ctx.dequantize_row(t, q.data(), back.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(back[size_t(i)], x[size_t(i)]) << "element " << i;
  }
}

// Importance weights steer the error: with columns 0..7 of every 32 weighted 100x, the weighted
// error of IQ4_NL / IQ4_XS falls below the unweighted quantizer's, and the error on those columns
// drops. (Exact bytes with an imatrix are judged by llama.cpp in the Python tests.)
TEST(Iquants, ImportanceWeightsLowerTheWeightedError) {
  const int64_t cols = 1024, rows = 32;
  const auto x = test::normal_floats(size_t(cols * rows), 41);
  std::vector<float> w(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) w[size_t(c)] = c % 32 < 8 ? 100.0f : 1.0f;
  const KernelTable& tab = kernel_table(Isa::Scalar);
  for (T t : {T::IQ4_NL, T::IQ4_XS}) {
    SCOPED_TRACE(ggml_type_info(t).name);
    const TypeTraits& tr = tab.types[size_t(t)];
    std::vector<uint8_t> a(ggml_row_size(t, uint64_t(cols * rows))), b(a.size());
    tr.quantize_rows(x.data(), a.data(), rows, cols, nullptr);
    tr.quantize_rows(x.data(), b.data(), rows, cols, w.data());
    std::vector<float> da(x.size()), db(x.size());
    tr.to_float(a.data(), da.data(), cols * rows);
    tr.to_float(b.data(), db.data(), cols * rows);
    const double ea = rel_rmse(x, da, w.data(), cols), eb = rel_rmse(x, db, w.data(), cols);
    EXPECT_LT(eb, 0.95 * ea) << "unweighted " << ea << " weighted " << eb;
  }
}

TEST(Iquants, ErrorsAreReportedNotCrashes) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = {}});
  std::vector<float> x(512, 1.0f);
  std::vector<uint8_t> q(4096);
  try {
    ctx.quantize_row(T::IQ4_XS, x.data(), q.data(), 300);
    ADD_FAILURE() << "accepted 300 elements";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a multiple of IQ4_XS's block size 256"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ctx.dequantize_row(T::IQ4_NL, q.data(), x.data(), 48), Error);
  EXPECT_THROW(ctx.vec_dot(T::IQ2_XXS, 128, q.data(), q.data()), Error);
  try {
    ctx.quantize_row(T::IQ2_XXS, x.data(), q.data(), 256);
    ADD_FAILURE() << "IQ2_XXS has no reference quantizer (it needs importance weights: quantize_rows)";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pj
