// Every optimised dot product in the kernel table equals the scalar reference, for every weight
// type in the table, on awkward sizes.
#include <algorithm>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/base/half.h"
#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/kernels/quant_blocks.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

// Element counts: for block types these are the block counts (x32 elements).
const int64_t kSizes[] = {1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 255, 511, 1023};

int64_t elements(GgmlType t, int64_t size) { return size * ggml_type_info(t).block_size; }

// A row whose every value and partial sum is a small integer: d = 1, m and s small integers. Then
// every variant's float arithmetic is exact and results must be bit-identical, which checks the
// integer part of the dots (nibble/high-bit unpacking, signs, min terms) exactly. Weights use the
// full byte range (Q8_0 includes -128); activations stay in [-127, 127] as the quantizer writes them.
std::vector<uint8_t> integer_row(GgmlType t, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> row(ggml_row_size(t, uint64_t(n)));
  std::uniform_int_distribution<int> byte(0, 255), act(-127, 127), small(-8, 8), s(-64, 64);
  for (auto& b : row) b = uint8_t(byte(rng));
  const uint16_t one = f32_to_fp16(1.0f);
  auto blocks = [&](auto* p, auto fix) {
    for (int64_t b = 0; b < n / kQK; ++b) fix(p[b]);
  };
  switch (t) {
    case GgmlType::F32: {
      auto* f = reinterpret_cast<float*>(row.data());
      for (int64_t i = 0; i < n; ++i) f[i] = float(small(rng));
      break;
    }
    case GgmlType::F16:
    case GgmlType::BF16: {
      auto* h = reinterpret_cast<uint16_t*>(row.data());
      for (int64_t i = 0; i < n; ++i) h[i] = t == GgmlType::F16 ? f32_to_fp16(float(small(rng))) : f32_to_bf16(float(small(rng)));
      break;
    }
    case GgmlType::Q4_0: blocks(reinterpret_cast<BlockQ4_0*>(row.data()), [&](BlockQ4_0& b) { b.d = one; }); break;
    case GgmlType::Q5_0: blocks(reinterpret_cast<BlockQ5_0*>(row.data()), [&](BlockQ5_0& b) { b.d = one; }); break;
    case GgmlType::Q4_1:
      blocks(reinterpret_cast<BlockQ4_1*>(row.data()), [&](BlockQ4_1& b) { b.d = one; b.m = f32_to_fp16(float(small(rng))); });
      break;
    case GgmlType::Q5_1:
      blocks(reinterpret_cast<BlockQ5_1*>(row.data()), [&](BlockQ5_1& b) { b.d = one; b.m = f32_to_fp16(float(small(rng))); });
      break;
    case GgmlType::Q8_0:
      blocks(reinterpret_cast<BlockQ8_0*>(row.data()), [&](BlockQ8_0& b) { b.d = one; });
      break;
    default: ADD_FAILURE() << "no integer row generator for " << ggml_type_info(t).name;
  }
  return row;
}

std::vector<uint8_t> integer_activation_row(GgmlType t, int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> act(-127, 127), s(-64, 64);
  if (t == GgmlType::Q8_0 || t == GgmlType::Q8_1) {
    std::vector<uint8_t> row(ggml_row_size(t, uint64_t(n)));
    const size_t size = ggml_type_info(t).type_size;
    for (int64_t b = 0; b < n / kQK; ++b) {
      uint8_t* p = row.data() + size_t(b) * size;
      const uint16_t one = f32_to_fp16(1.0f), sum = f32_to_fp16(float(s(rng)));
      std::memcpy(p, &one, 2);
      if (t == GgmlType::Q8_1) std::memcpy(p + 2, &sum, 2);
      int8_t* qs = reinterpret_cast<int8_t*>(p + (t == GgmlType::Q8_1 ? 4 : 2));
      for (int j = 0; j < kQK; ++j) qs[j] = int8_t(act(rng));
    }
    return row;
  }
  return integer_row(t, n, rng);
}

float block_min(GgmlType t, const uint8_t* row, int64_t b) {
  if (t != GgmlType::Q4_1 && t != GgmlType::Q5_1) return 0.0f;
  uint16_t m;
  std::memcpy(&m, row + size_t(b) * ggml_type_info(t).type_size + 2, 2);
  return fp16_to_f32(m);
}

class DotVsScalar : public ::testing::TestWithParam<Isa> {};

TEST_P(DotVsScalar, IntegerDataBitExact) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  const KernelTable& ref = kernel_table(Isa::Scalar);
  const KernelTable& opt = kernel_table(isa);
  std::mt19937 rng(11);
  for (GgmlType t : test::weight_types()) {
    // The 256-element types have their own generators and tests (test_kquants.cpp, test_iquants*.cpp).
    if (ggml_type_info(t).block_size != uint32_t(kQK)) continue;
    // IQ4_NL and MXFP4 (non-linear codebooks) have their exactness tests in test_iquants.cpp.
    if (t == GgmlType::IQ4_NL || t == GgmlType::MXFP4) continue;
    const TypeTraits& r = ref.types[size_t(t)];
    int tested = 0;
    for (int64_t size : kSizes) {
      const int64_t n = elements(t, size);
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " n=" + std::to_string(n));
      const auto x = integer_row(t, n, rng);
      const auto y = integer_activation_row(r.vec_dot_type, n, rng);
      // Exactness needs every partial sum below 2^24; skip the (few) rows whose bound exceeds it.
      std::vector<float> xd(static_cast<size_t>(n)), yd(static_cast<size_t>(n));
      r.to_float(x.data(), xd.data(), n);
      ref.types[size_t(r.vec_dot_type)].to_float(y.data(), yd.data(), n);
      double bound = double(n / r.block_size) * 8 * 64;  // |m * s| per block
      for (int64_t i = 0; i < n; ++i)
        bound += (std::fabs(xd[i]) + std::fabs(block_min(t, x.data(), i / r.block_size))) * std::fabs(yd[i]);
      if (bound >= 16777216.0) continue;
      const float want = r.vec_dot(n, x.data(), y.data());
      const float got = opt.types[size_t(t)].vec_dot(n, x.data(), y.data());
      ASSERT_EQ(got, want);
      ++tested;
    }
    EXPECT_GE(tested, 12) << ggml_type_info(t).name;
  }
}

// Real-valued data: the integer block sums agree exactly (previous test) but float accumulation order
// differs. Each result is within gamma_k * S of the exact sum (Higham, Accuracy and Stability of
// Numerical Algorithms, 3.1), where k <= n + 2 roundings and S bounds the sum of |terms|:
// S = sum |x_i * y_i| + sum over blocks |m_b| * sum |y_i| (the min term of Q4_1/Q5_1). So two
// variants differ by at most 2 * gamma_k * S ~ 2 (n + 2) 2^-24 S; any real bug (a lost block, a
// swapped nibble) is orders of magnitude larger.

TEST_P(DotVsScalar, RealDataWithinRoundingBound) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  const KernelTable& ref = kernel_table(Isa::Scalar);
  const KernelTable& opt = kernel_table(isa);
  uint32_t seed = 100;
  for (GgmlType t : test::weight_types()) {
    // The 256-element types have their own generators and tests (test_kquants.cpp, test_iquants*.cpp).
    if (ggml_type_info(t).block_size != uint32_t(kQK)) continue;
    const TypeTraits& r = ref.types[size_t(t)];
    const TypeTraits& a = ref.types[size_t(r.vec_dot_type)];
    for (int64_t size : kSizes) {
      const int64_t n = elements(t, size);
      SCOPED_TRACE(std::string(ggml_type_info(t).name) + " n=" + std::to_string(n));
      const auto xf = test::normal_floats(size_t(n), ++seed);
      const auto yf = test::normal_floats(size_t(n), ++seed, 3.0f);
      std::vector<uint8_t> x(ggml_row_size(t, uint64_t(n))), y(ggml_row_size(r.vec_dot_type, uint64_t(n)));
      r.from_float_ref(xf.data(), x.data(), n);
      a.from_float_ref(yf.data(), y.data(), n);
      std::vector<float> xd(static_cast<size_t>(n)), yd(static_cast<size_t>(n));
      r.to_float(x.data(), xd.data(), n);
      a.to_float(y.data(), yd.data(), n);
      double bound_s = 0;
      for (int64_t i = 0; i < n; ++i)
        bound_s += (std::fabs(double(xd[i])) + std::fabs(block_min(t, x.data(), i / r.block_size))) * std::fabs(yd[i]);
      const double tol = 2.0 * double(n + 2) * std::ldexp(1.0, -24) * bound_s;
      const float want = r.vec_dot(n, x.data(), y.data());
      const float got = opt.types[size_t(t)].vec_dot(n, x.data(), y.data());
      ASSERT_NEAR(got, want, tol);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, DotVsScalar, ::testing::Values(Isa::Avx2, Isa::Avx512, Isa::Neon),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

TEST(DotApi, RejectsPartialBlocksAndActivationOnlyTypes) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = {}});
  std::vector<uint8_t> buf(1024);
  EXPECT_THROW(ctx.vec_dot(GgmlType::Q4_0, 48, buf.data(), buf.data()), Error);
  EXPECT_THROW(ctx.vec_dot(GgmlType::Q8_1, 32, buf.data(), buf.data()), Error);
  EXPECT_NO_THROW(ctx.vec_dot(GgmlType::F32, 3, buf.data(), buf.data()));
}

TEST(DotApi, IsaSelection) {
  EXPECT_EQ(KernelContext(KernelContext::Options{.threads = 1, .isa = Isa::Scalar}).isa(), Isa::Scalar);
  EXPECT_EQ(parse_isa("avx2"), Isa::Avx2);
  EXPECT_FALSE(parse_isa("sse9"));
  const char* old = std::getenv("PJ_ISA");
  const std::string saved = old ? old : "";
  setenv("PJ_ISA", "scalar", 1);
  EXPECT_EQ(KernelContext(KernelContext::Options{.threads = 1, .isa = {}}).isa(), Isa::Scalar);
  setenv("PJ_ISA", "sse9", 1);
  EXPECT_THROW(KernelContext(KernelContext::Options{.threads = 1, .isa = {}}), Error);
  EXPECT_EQ(parse_isa("neon"), Isa::Neon);
  // x86 and ARM instruction sets exclude each other
  EXPECT_FALSE(isa_available(Isa::Neon) && isa_available(Isa::Avx2));
  for (Isa i : {Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (!isa_available(i)) {
      EXPECT_THROW(KernelContext(KernelContext::Options{.threads = 1, .isa = i}), Error);
    }
  }
  if (old) {
    setenv("PJ_ISA", saved.c_str(), 1);
  } else {
    unsetenv("PJ_ISA");
  }
}

// The tables really differ: on a CPU with AVX2 the dispatch must not silently fall back to scalar.
TEST(DotApi, OptimisedTablesInstallOptimisedKernels) {
  const KernelTable& ref = kernel_table(Isa::Scalar);
  for (Isa isa : test::available_isas()) {
    if (isa == Isa::Scalar) continue;
    if (isa == Isa::Neon) {  // dot_neon.cpp covers the 32-element types, F32/F16 and the K-quants so far
      for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                         GgmlType::F32, GgmlType::F16, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                         GgmlType::Q5_K, GgmlType::Q6_K})
        EXPECT_NE(kernel_table(isa).types[size_t(t)].vec_dot, ref.types[size_t(t)].vec_dot) << ggml_type_info(t).name;
      continue;
    }
    for (GgmlType t : test::weight_types()) {
      // These IQ/ternary types have only the scalar dot so far (iquants_ref.cpp); all others must
      // have an optimised one.
      static const GgmlType scalar_only[] = {GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS,
                                             GgmlType::IQ1_S, GgmlType::IQ1_M, GgmlType::TQ1_0};
      if (std::find(std::begin(scalar_only), std::end(scalar_only), t) != std::end(scalar_only)) continue;
      EXPECT_NE(kernel_table(isa).types[size_t(t)].vec_dot, ref.types[size_t(t)].vec_dot)
          << ggml_type_info(t).name << " " << isa_name(isa);
    }
    EXPECT_NE(kernel_table(isa).ops.softmax, ref.ops.softmax);
  }
}

}  // namespace
}  // namespace pj
