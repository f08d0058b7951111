// K-quants (Q2_K ... Q6_K with Q8_K activations): round-trip error bands, importance weights,
// SIMD dots against the scalar reference, the dot against the dequantized operands, matmul, and the
// block layouts. Bit-exactness with llama.cpp and gguf-py is checked in tests/python
// (test_kquants_vs_gguf.py, test_quantize_vs_llamacpp.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/kernels/context.h"
#include "core/kernels/kquants_ref.h"
#include "core/kernels/matmul.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

const GgmlType kKTypes[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// Relative RMSE of quantize -> dequantize on N(0, 1) data. Estimates: a uniform quantizer with step s
// has error s / sqrt(12). Over 16-32 normal values the range is ~3.5-4.2 sigma, so
//   Q2_K (2 bits + min, 16 values): s ~ 3.5/3 -> 0.34 (the search trims outliers: ~0.3 measured in
//   llama.cpp's own tests, ggml test-quantize-fns allows 0.0075 *MSE* on uniform data)
//   Q3_K (3 bits symmetric, 16): s ~ 2*1.8/7.5 -> 0.14     Q4_K (4 bits + min, 32): s ~ 4.2/15 -> 0.08
//   Q5_K (5 bits + min, 32): s ~ 4.2/31 -> 0.04            Q6_K (6 bits symmetric, 16): s ~ 3.6/63 -> 0.017
// The least-squares scale search beats the plain estimate by 10-30%; the band [low, high] brackets
// the result: above means broken, below means the round trip is not really quantizing.
// Q8_K (activation type): s = amax/127 over 256 values (amax ~ 2.9) -> 0.0066.
struct Band {
  double low, high;
};
const std::map<GgmlType, Band> kBands = {
    {GgmlType::Q2_K, {0.20, 0.40}}, {GgmlType::Q3_K, {0.08, 0.20}}, {GgmlType::Q4_K, {0.045, 0.10}},
    {GgmlType::Q5_K, {0.022, 0.050}}, {GgmlType::Q6_K, {0.009, 0.022}}, {GgmlType::Q8_K, {0.004, 0.009}},
};

double rel_rmse(const std::vector<float>& a, const std::vector<float>& b, const float* w = nullptr) {
  double err = 0, sig = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double wi = w ? w[i % 256] : 1.0;
    err += wi * double(a[i] - b[i]) * (a[i] - b[i]);
    sig += wi * double(a[i]) * a[i];
  }
  return std::sqrt(err / sig);
}

TEST(KQuants, RoundTripErrorWithinBand) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = Isa::Scalar});
  const int64_t n = 256 * 128;
  const auto x = test::normal_floats(size_t(n), 7);
  for (const auto& [type, band] : kBands) {
    SCOPED_TRACE(ggml_type_info(type).name);
    std::vector<uint8_t> q(ggml_row_size(type, uint64_t(n)));
    std::vector<float> back(static_cast<size_t>(n));
    ctx.quantize_row(type, x.data(), q.data(), n);
    ctx.dequantize_row(type, q.data(), back.data(), n);
    const double rel = rel_rmse(x, back);
    EXPECT_GE(rel, band.low);
    EXPECT_LE(rel, band.high);
  }
}

// With importance weights the quantizers minimise the weighted error: on data whose columns have
// very different importance, the weighted error must be lower than without weights (llama.cpp's
// claim for imatrix quantization), for the K types and the legacy types that use the weights.
TEST(KQuants, ImportanceWeightsLowerTheWeightedError) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = Isa::Scalar});
  const int64_t n_per_row = 512, nrows = 32;
  const auto x = test::normal_floats(size_t(n_per_row * nrows), 11);
  std::vector<float> imatrix(static_cast<size_t>(n_per_row));
  std::mt19937 rng(3);
  std::lognormal_distribution<float> ln(0.0f, 1.5f);
  for (auto& w : imatrix) w = ln(rng);
  std::vector<float> w256(256);  // rel_rmse indexes weights modulo 256; use a 256-periodic imatrix
  for (int i = 0; i < 256; ++i) w256[size_t(i)] = imatrix[size_t(i)];
  for (int64_t i = 256; i < n_per_row; ++i) imatrix[size_t(i)] = imatrix[size_t(i - 256)];
  for (GgmlType type : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                        GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1}) {
    SCOPED_TRACE(ggml_type_info(type).name);
    const TypeTraits& t = ctx.traits(type);
    ASSERT_NE(t.quantize_rows, nullptr);
    const size_t bytes = ggml_row_size(type, uint64_t(n_per_row)) * size_t(nrows);
    std::vector<uint8_t> plain(bytes), weighted(bytes);
    EXPECT_EQ(t.quantize_rows(x.data(), plain.data(), nrows, n_per_row, nullptr), bytes);
    EXPECT_EQ(t.quantize_rows(x.data(), weighted.data(), nrows, n_per_row, imatrix.data()), bytes);
    // Without weights quantize_rows is the reference quantizer.
    std::vector<uint8_t> ref(bytes);
    ctx.quantize_row(type, x.data(), ref.data(), n_per_row * nrows);
    EXPECT_EQ(plain, ref);
    std::vector<float> back_plain(x.size()), back_weighted(x.size());
    ctx.dequantize_row(type, plain.data(), back_plain.data(), n_per_row * nrows);
    ctx.dequantize_row(type, weighted.data(), back_weighted.data(), n_per_row * nrows);
    const double e_plain = rel_rmse(x, back_plain, w256.data());
    const double e_weighted = rel_rmse(x, back_weighted, w256.data());
    EXPECT_LT(e_weighted, 0.97 * e_plain) << "plain " << e_plain << " weighted " << e_weighted;
  }
}

// A row of random bytes with finite scales: fp16 fields get small finite values, Q8_K's d a float.
std::vector<uint8_t> random_row(GgmlType t, int64_t blocks, std::mt19937& rng) {
  std::vector<uint8_t> row(ggml_row_size(t, uint64_t(blocks * kQK_K)));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
  for (auto& b : row) b = uint8_t(byte(rng));
  const size_t size = ggml_type_info(t).type_size;
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* p = row.data() + size_t(b) * size;
    auto put16 = [&](size_t off) {
      const uint16_t h = f32_to_fp16(scale(rng));
      std::memcpy(p + off, &h, 2);
    };
    switch (t) {
      case GgmlType::Q2_K: put16(offsetof(BlockQ2_K, d)); put16(offsetof(BlockQ2_K, dmin)); break;
      case GgmlType::Q3_K: put16(offsetof(BlockQ3_K, d)); break;
      case GgmlType::Q4_K: put16(offsetof(BlockQ4_K, d)); put16(offsetof(BlockQ4_K, dmin)); break;
      case GgmlType::Q5_K: put16(offsetof(BlockQ5_K, d)); put16(offsetof(BlockQ5_K, dmin)); break;
      case GgmlType::Q6_K: put16(offsetof(BlockQ6_K, d)); break;
      default: ADD_FAILURE();
    }
  }
  return row;
}

// Q8_K activations as the quantizer writes them: qs in [-127, 127] and bsums consistent with qs.
std::vector<uint8_t> random_q8k(int64_t blocks, std::mt19937& rng) {
  std::vector<BlockQ8_K> y(static_cast<size_t>(blocks));
  std::uniform_int_distribution<int> act(-127, 127);
  std::uniform_real_distribution<float> d(0.001f, 0.05f);
  for (auto& b : y) {
    b.d = d(rng);
    for (auto& q : b.qs) q = int8_t(act(rng));
    for (int s = 0; s < 16; ++s) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += b.qs[16 * s + i];
      b.bsums[s] = int16_t(sum);
    }
  }
  std::vector<uint8_t> out(y.size() * sizeof(BlockQ8_K));
  std::memcpy(out.data(), y.data(), out.size());
  return out;
}

// The SIMD variants sum the same integers exactly and use the reference's float expression per
// super-block, so they must be bit-identical (CMake builds these files with -ffp-contract=off).
class KDotVsScalar : public ::testing::TestWithParam<Isa> {};

TEST_P(KDotVsScalar, BitIdenticalOnRandomBlocksAndQuantizedData) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  const KernelTable& ref = kernel_table(Isa::Scalar);
  const KernelTable& opt = kernel_table(isa);
  std::mt19937 rng(5);
  for (GgmlType t : kKTypes) {
    ASSERT_NE(opt.types[size_t(t)].vec_dot, ref.types[size_t(t)].vec_dot) << "no SIMD kernel installed";
    for (int64_t blocks : {1, 2, 3, 7, 16, 17}) {
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " blocks " + std::to_string(blocks));
      const auto x = random_row(t, blocks, rng);
      const auto y = random_q8k(blocks, rng);
      const int64_t n = blocks * kQK_K;
      EXPECT_EQ(opt.types[size_t(t)].vec_dot(n, x.data(), y.data()), ref.types[size_t(t)].vec_dot(n, x.data(), y.data()));
      // Quantized Gaussian data as well.
      const auto xf = test::normal_floats(size_t(n), uint32_t(blocks) * 7);
      const auto yf = test::normal_floats(size_t(n), uint32_t(blocks) * 7 + 1, 3.0f);
      std::vector<uint8_t> xq(ggml_row_size(t, uint64_t(n))), yq(ggml_row_size(GgmlType::Q8_K, uint64_t(n)));
      ref.types[size_t(t)].from_float_ref(xf.data(), xq.data(), n);
      ref.types[size_t(GgmlType::Q8_K)].from_float_ref(yf.data(), yq.data(), n);
      EXPECT_EQ(opt.types[size_t(t)].vec_dot(n, xq.data(), yq.data()), ref.types[size_t(t)].vec_dot(n, xq.data(), yq.data()));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, KDotVsScalar, ::testing::Values(Isa::Avx2, Isa::Avx512, Isa::Neon),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

// The scalar dot equals the double-precision dot of the dequantized operands (checks that the dot's
// unpacking agrees with the dequantizer's, which gguf-py judges) within float rounding: the integer
// sums are exact, the only roundings are the per-block float products and the accumulation.
TEST(KQuants, DotEqualsDequantizedDot) {
  const KernelTable& ref = kernel_table(Isa::Scalar);
  const TypeTraits& q8k = ref.types[size_t(GgmlType::Q8_K)];
  std::mt19937 rng(9);
  for (GgmlType t : kKTypes) {
    SCOPED_TRACE(ggml_type_info(t).name);
    const int64_t blocks = 9, n = blocks * kQK_K;
    const auto x = random_row(t, blocks, rng);
    const auto y = random_q8k(blocks, rng);
    std::vector<float> xd(static_cast<size_t>(n)), yd(static_cast<size_t>(n));
    ref.types[size_t(t)].to_float(x.data(), xd.data(), n);
    q8k.to_float(y.data(), yd.data(), n);
    double want = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      want += double(xd[size_t(i)]) * yd[size_t(i)];
      mag += std::fabs(double(xd[size_t(i)]) * yd[size_t(i)]);
    }
    // The min term (Q2_K/Q4_K/Q5_K) is factored as dmin * sum(m * bsum): its float rounding is
    // relative to |dmin * m * bsum| <= mag of the min part, bounded by 1e-5 * mag + tiny.
    EXPECT_NEAR(ref.types[size_t(t)].vec_dot(n, x.data(), y.data()), want, 1e-5 * mag + 1e-6);
  }
}

TEST(KQuants, MatmulUsesTheTable) {
  const int64_t rows = 19, cols = 512, nvec = 3;
  for (Isa isa : test::available_isas()) {
    KernelContext ctx(KernelContext::Options{.threads = 2, .isa = isa});
    for (GgmlType t : kKTypes) {
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " " + std::string(isa_name(isa)));
      const auto wf = test::normal_floats(size_t(rows * cols), 21);
      const auto x = test::normal_floats(size_t(nvec * cols), 22);
      const size_t rb = ggml_row_size(t, cols);
      std::vector<uint8_t> w(rb * rows);
      ctx.traits(t).quantize_rows(wf.data(), w.data(), rows, cols, nullptr);
      std::vector<float> y(size_t(rows * nvec));
      matmul(ctx, t, w.data(), rows, cols, x.data(), nvec, y.data());
      std::vector<float> wd(static_cast<size_t>(cols)), xq(static_cast<size_t>(cols));
      std::vector<uint8_t> xb(ggml_row_size(GgmlType::Q8_K, cols));
      for (int64_t j = 0; j < nvec; ++j) {
        quantize_row_q8_k_ref(x.data() + j * cols, reinterpret_cast<BlockQ8_K*>(xb.data()), cols);
        dequantize_row_q8_k(reinterpret_cast<const BlockQ8_K*>(xb.data()), xq.data(), cols);
        for (int64_t r = 0; r < rows; ++r) {
          ctx.dequantize_row(t, w.data() + r * rb, wd.data(), cols);
          double want = 0, mag = 0;
          for (int64_t i = 0; i < cols; ++i) {
            want += double(wd[size_t(i)]) * xq[size_t(i)];
            mag += std::fabs(double(wd[size_t(i)]) * xq[size_t(i)]);
          }
          ASSERT_NEAR(y[size_t(j * rows + r)], want, 1e-5 * mag + 1e-6);
        }
      }
    }
  }
}

TEST(KQuants, ZeroAndConstantBlocks) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = Isa::Scalar});
  std::vector<float> x(512, 0.0f);
  for (int i = 256; i < 512; ++i) x[size_t(i)] = 0.75f;
  for (const auto& [type, band] : kBands) {
    SCOPED_TRACE(ggml_type_info(type).name);
    std::vector<uint8_t> q(ggml_row_size(type, 512));
    std::vector<float> back(512, NAN);
    ctx.quantize_row(type, x.data(), q.data(), 512);
    ctx.dequantize_row(type, q.data(), back.data(), 512);
    for (int i = 0; i < 256; ++i) ASSERT_EQ(back[size_t(i)], 0.0f) << i;
    for (int i = 256; i < 512; ++i) ASSERT_NEAR(back[size_t(i)], 0.75f, 0.75f * band.high) << i;
  }
}

TEST(KQuants, RejectsPartialSuperBlocks) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = {}});
  std::vector<float> x(512);
  std::vector<uint8_t> q(2048);
  for (GgmlType t : kKTypes) {
    EXPECT_THROW(ctx.quantize_row(t, x.data(), q.data(), 288), Error);
    EXPECT_THROW(ctx.dequantize_row(t, q.data(), x.data(), 32), Error);
    EXPECT_THROW(ctx.vec_dot(t, 128, q.data(), q.data()), Error);
  }
  EXPECT_THROW(ctx.vec_dot(GgmlType::Q8_K, 256, q.data(), q.data()), Error);  // activation type only
}

// Q4_K's 6-bit scale packing: write known scales/mins with the quantizer's layout, read them back.
TEST(KQuants, ScaleMinPackingRoundTrips) {
  const auto x = test::normal_floats(256, 4);
  BlockQ4_K b;
  quantize_row_q4_k_ref(x.data(), &b, 256);
  int seen_high = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    kq_scale_min(j, b.scales, sc, m);
    EXPECT_LT(sc, 64);
    EXPECT_LT(m, 64);
    seen_high += sc >= 16;
  }
  EXPECT_GT(seen_high, 0);  // the largest scale is quantized to 63: high bits are exercised
}

}  // namespace
}  // namespace pj
