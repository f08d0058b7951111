// Element-wise ops: each ISA's variant against the scalar reference, and the reference against
// closed-form values.
#include <gtest/gtest.h>

#include <cstring>

#include <cmath>

#include "core/kernels/context.h"
#include "core/kernels/ops_ref.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

const int64_t kSizes[] = {1, 3, 7, 8, 15, 16, 17, 33, 64, 100, 1023};

// Tolerances (relative to max |ref| of the row): rms/layer norm sum in float in the SIMD variants vs
// double in the reference (~n * 2^-24 relative); softmax/silu use the polynomial exp (< 2e-7 relative
// per value) where the reference uses libm's. 1e-5 covers both with margin at n = 1023 and is far
// below any real defect (a wrong lane, a missed tail element).
constexpr double kTol = 1e-5;

void expect_close(const std::vector<float>& got, const std::vector<float>& want) {
  double scale = 0;
  for (float v : want) scale = std::max(scale, double(std::fabs(v)));
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], kTol * scale + 1e-30) << "index " << i;
}

// rms_norm_rows interleaves rows for speed; each row must still be exactly rms_norm's (llama.cpp order).
TEST(Ops, RmsNormRowsEqualsRowByRow) {
  for (Isa isa : test::available_isas()) {
    const OpsTable& ops = kernel_table(isa).ops;
    for (int64_t rows : {1, 3, 4, 5, 9}) {
      for (int64_t n : {1, 7, 64, 640}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " rows=" + std::to_string(rows) + " n=" + std::to_string(n));
        const auto x = test::normal_floats(size_t(rows * n), uint32_t(rows * 1000 + n), 3.0f);
        const auto w = test::normal_floats(size_t(n), uint32_t(n) + 5);
        for (const float* wp : {w.data(), static_cast<const float*>(nullptr)}) {
          std::vector<float> got(x.size()), want(x.size());
          ops.rms_norm_rows(x.data(), wp, got.data(), rows, n, 1e-6f);
          for (int64_t r = 0; r < rows; ++r) ops.rms_norm(x.data() + r * n, wp, want.data() + r * n, n, 1e-6f);
          ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
        }
      }
    }
  }
}

TEST(Ops, EveryIsaMatchesScalar) {
  for (Isa isa : test::available_isas()) {
    const OpsTable& ops = kernel_table(isa).ops;
    for (int64_t n : kSizes) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " n=" + std::to_string(n));
      auto x = test::normal_floats(size_t(n), uint32_t(n), 4.0f);
      x[0] = -95.0f;  // exp underflow path in softmax/silu
      const auto w = test::normal_floats(size_t(n), uint32_t(n) + 1);
      const auto b = test::normal_floats(size_t(n), uint32_t(n) + 2);
      std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
      ops.rms_norm(x.data(), w.data(), got.data(), n, 1e-6f);
      rms_norm_ref(x.data(), w.data(), want.data(), n, 1e-6f);
      expect_close(got, want);
      ops.rms_norm(x.data(), nullptr, got.data(), n, 1e-6f);
      rms_norm_ref(x.data(), nullptr, want.data(), n, 1e-6f);
      expect_close(got, want);
      ops.layer_norm(x.data(), w.data(), b.data(), got.data(), n, 1e-5f);
      layer_norm_ref(x.data(), w.data(), b.data(), want.data(), n, 1e-5f);
      expect_close(got, want);
      ops.softmax(x.data(), got.data(), n);
      softmax_ref(x.data(), want.data(), n);
      expect_close(got, want);
      ops.silu(x.data(), got.data(), n);
      silu_ref(x.data(), want.data(), n);
      expect_close(got, want);
      ops.gelu_tanh(x.data(), got.data(), n);
      gelu_tanh_ref(x.data(), want.data(), n);
      expect_close(got, want);
      // in place
      std::vector<float> inplace = x;
      ops.softmax(inplace.data(), inplace.data(), n);
      softmax_ref(x.data(), want.data(), n);
      expect_close(inplace, want);
    }
  }
}

TEST(Ops, ReferenceAgainstClosedForms) {
  const std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.0f};
  std::vector<float> out(4);
  rms_norm_ref(x.data(), nullptr, out.data(), 4, 0.0f);  // rms = sqrt(14/4)
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], x[i] / std::sqrt(3.5), 1e-6);
  layer_norm_ref(x.data(), nullptr, nullptr, out.data(), 4, 0.0f);  // mean 0.5, var 3.25
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], (x[i] - 0.5) / std::sqrt(3.25), 1e-6);
  softmax_ref(x.data(), out.data(), 4);
  const double z = std::exp(1.0) + std::exp(-2.0) + std::exp(3.0) + 1.0;
  EXPECT_NEAR(out[2], std::exp(3.0) / z, 1e-7);
  const float g[] = {1.0f, -1.0f, 3.0f};
  gelu_tanh_ref(g, out.data(), 3);
  EXPECT_NEAR(out[0], 0.8411920, 1e-6);   // 0.5 (1 + tanh(0.7978845608 * 1.044715))
  EXPECT_NEAR(out[1], -0.1588080, 1e-6);
  EXPECT_NEAR(out[2], 2.9963627, 1e-6);
  silu_ref(g, out.data(), 2);
  EXPECT_NEAR(out[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-7);
  EXPECT_NEAR(out[1], -1.0 / (1.0 + std::exp(1.0)), 1e-7);
}

}  // namespace
}  // namespace pj
