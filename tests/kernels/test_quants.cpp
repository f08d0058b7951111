// Quantize -> dequantize round trips per type, with error thresholds, and the block layouts.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/base/half.h"
#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/kernels/quants_ref.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

// Relative RMSE (rmse / rms of the data) of quantize -> dequantize on N(0, 1) data, 32k values.
// Expected values: a uniform quantizer with step s has error rms s / sqrt(12). Over a block of 32
// normal values the largest magnitude is ~2.1 sigma (range max-min ~4.2 sigma), so:
//   Q8_0, Q8_1: s = amax/127 = 0.017 -> 0.0048      Q5_1: s = range/31 = 0.135 -> 0.039
//   Q5_0:       s = amax/16  = 0.13  -> 0.038       Q4_1: s = range/15 = 0.28  -> 0.081
//   Q4_0:       s = amax/8   = 0.26  -> 0.076       F16: 2^-11 relative -> ~3e-4, BF16: 2^-8 -> ~2e-3
// The band [low, high] brackets those estimates (high ~1.3x, low ~0.6x): above means a broken
// quantizer, below means the round trip is not really quantizing (e.g. returning its input).
struct ErrorBand {
  double low, high;
};
const std::map<GgmlType, ErrorBand> kErrorBands = {
    {GgmlType::F32, {0.0, 0.0}},         {GgmlType::F16, {1e-4, 4e-4}},     {GgmlType::BF16, {1e-3, 3e-3}},
    {GgmlType::Q8_0, {0.003, 0.0065}},   {GgmlType::Q8_1, {0.003, 0.0065}}, {GgmlType::Q5_1, {0.024, 0.052}},
    {GgmlType::Q5_0, {0.023, 0.050}},    {GgmlType::Q4_1, {0.050, 0.105}},  {GgmlType::Q4_0, {0.046, 0.100}},
    // non-uniform 4-bit codebooks; bands measured and argued in test_iquants.cpp
    {GgmlType::IQ4_NL, {0.045, 0.08}},   {GgmlType::MXFP4, {0.08, 0.16}},
};

TEST(Quants, RoundTripErrorWithinBandForEveryTypeInTable) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = Isa::Scalar});
  const int64_t n = 32 * 1024;
  const auto x = test::normal_floats(size_t(n), 7);
  int tested = 0;
  for (const TypeTraits& t : ctx.table().types) {
    if (!t.supported) continue;
    if (t.block_size == 256) continue;  // bands of the 256-element types: test_kquants.cpp, test_iquants.cpp
    SCOPED_TRACE(ggml_type_info(t.type).name);
    ASSERT_TRUE(kErrorBands.count(t.type)) << "add an error band for this type";
    std::vector<uint8_t> q(ggml_row_size(t.type, uint64_t(n)));
    std::vector<float> back(static_cast<size_t>(n));
    ctx.quantize_row(t.type, x.data(), q.data(), n);
    ctx.dequantize_row(t.type, q.data(), back.data(), n);
    double err = 0, sig = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += double(back[i] - x[i]) * (back[i] - x[i]);
      sig += double(x[i]) * x[i];
    }
    const double rel = std::sqrt(err / sig);
    const ErrorBand band = kErrorBands.at(t.type);
    EXPECT_GE(rel, band.low);
    EXPECT_LE(rel, band.high);
    ++tested;
  }
  EXPECT_EQ(tested, 11);  // F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 IQ4_NL MXFP4
}

TEST(Quants, RejectsRowsThatAreNotWholeBlocks) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = {}});
  std::vector<float> x(64, 1.0f);
  std::vector<uint8_t> q(256);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1}) {
    for (int64_t n : {1, 31, 33, 63}) {
      try {
        ctx.quantize_row(t, x.data(), q.data(), n);
        ADD_FAILURE() << "accepted n=" << n;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a multiple of " + std::string(ggml_type_info(t).name) +
                                             "'s block size 32"),
                  std::string::npos)
            << e.what();
      }
      EXPECT_THROW(ctx.dequantize_row(t, q.data(), x.data(), n), Error);
    }
  }
  EXPECT_NO_THROW(ctx.quantize_row(GgmlType::F16, x.data(), q.data(), 33));  // no blocks for F16
}

TEST(Quants, TypesWithoutKernelsAreNamedInTheError) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = {}});
  try {
    ctx.traits(GgmlType::NVFP4);  // a known ggml type id with no kernels yet
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NVFP4"), std::string::npos) << e.what();
  }
}

// Hand-computed blocks pin the layout (nibble order, qh bit order, scale placement).
TEST(Quants, Q4_0KnownBlock) {
  // -8 .. 7 scaled by 0.5, then the same again: max magnitude -4 (first), d = -4 / -8 = 0.5
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = float((j % 16) - 8) * 0.5f;
  BlockQ4_0 b;
  quantize_row_q4_0_ref(x, &b, 32);
  EXPECT_EQ(b.d, f32_to_fp16(0.5f));
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], uint8_t(j | j << 4)) << j;
  float y[32];
  dequantize_row_q4_0(&b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]);
}

TEST(Quants, Q5_0HighBitsAreElementOrdered) {
  // Only element 5 and element 20 are large positive: with d = max/-16 negative, they map to q=0
  // and all the zeros map to q=16 (high bit set).
  float x[32] = {};
  x[5] = -16.0f;  // the max magnitude, so d = 1
  BlockQ5_0 b;
  quantize_row_q5_0_ref(x, &b, 32);
  EXPECT_EQ(fp16_to_f32(b.d), 1.0f);
  const uint32_t qh = uint32_t(b.qh[0]) | uint32_t(b.qh[1]) << 8 | uint32_t(b.qh[2]) << 16 | uint32_t(b.qh[3]) << 24;
  EXPECT_EQ(qh, ~(1u << 5));  // every element but 5 is q = 16 (0b10000)
  EXPECT_EQ(b.qs[5], 0x00);   // element 5 low nibble 0, element 21 low nibble 0
  EXPECT_EQ(b.qs[4], 0x00);
}

TEST(Quants, Q8_1StoresScaledSum) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = float(j) - 10.0f;  // amax 21
  BlockQ8_1 b;
  quantize_row_q8_1_ref(x.data(), &b, 32);
  int sum = 0;
  for (int8_t q : b.qs) sum += q;
  EXPECT_EQ(b.qs[31], 127);
  EXPECT_EQ(b.s, f32_to_fp16(float(sum) * (21.0f / 127)));
}

}  // namespace
}  // namespace pj
