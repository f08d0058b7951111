// matmul against a double-precision product of the dequantized operands, for every weight type.
#include <gtest/gtest.h>

#include <cmath>

#include "core/base/error.h"
#include "core/kernels/matmul.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

struct Case {
  int64_t rows, cols, n;
};

TEST(Matmul, MatchesDequantizedProductForEveryTypeIsaAndThreadCount) {
  const Case cases[] = {{1, 32, 1}, {7, 96, 1}, {33, 256, 3}, {65, 1024, 2}};
  for (Isa isa : test::available_isas()) {
    for (int threads : {1, 2, 3}) {
      KernelContext ctx(KernelContext::Options{.threads = threads, .isa = isa});
      uint32_t seed = 1;
      for (GgmlType t : test::weight_types()) {
        const TypeTraits& tr = ctx.traits(t);
        const TypeTraits& at = ctx.traits(tr.vec_dot_type);
        // The lattice IQ types cannot be quantized yet (no reference quantizer): their dots are
        // tested on random blocks in test_iquants.cpp.
        if (!tr.from_float_ref) continue;
        for (const Case& c : cases) {
          if (c.cols % int64_t(tr.block_size) != 0) continue;  // 256-element types: only the larger cases
          SCOPED_TRACE(std::string(ggml_type_info(t).name) + " " + std::string(isa_name(isa)) + " threads " +
                       std::to_string(threads) + " rows " + std::to_string(c.rows));
          const auto wf = test::normal_floats(size_t(c.rows * c.cols), ++seed);
          const auto x = test::normal_floats(size_t(c.n * c.cols), ++seed);
          const size_t row_bytes = ggml_row_size(t, uint64_t(c.cols));
          std::vector<uint8_t> w(row_bytes * size_t(c.rows));
          for (int64_t r = 0; r < c.rows; ++r) ctx.quantize_row(t, wf.data() + r * c.cols, w.data() + r * row_bytes, c.cols);
          std::vector<float> y(size_t(c.rows * c.n), NAN);
          matmul(ctx, t, w.data(), c.rows, c.cols, x.data(), c.n, y.data());

          // Reference: the same rounded operands (weights dequantized, activations through the
          // vec_dot_type round trip), multiplied in double.
          std::vector<float> wd(static_cast<size_t>(c.cols)), xq(static_cast<size_t>(c.cols));
          std::vector<uint8_t> xbuf(ggml_row_size(tr.vec_dot_type, uint64_t(c.cols)));
          for (int64_t j = 0; j < c.n; ++j) {
            at.from_float_ref(x.data() + j * c.cols, xbuf.data(), c.cols);
            at.to_float(xbuf.data(), xq.data(), c.cols);
            for (int64_t r = 0; r < c.rows; ++r) {
              tr.to_float(w.data() + r * row_bytes, wd.data(), c.cols);
              double want = 0, mag = 0;
              for (int64_t i = 0; i < c.cols; ++i) {
                want += double(wd[i]) * xq[i];
                mag += std::fabs(double(wd[i]) * xq[i]);
              }
              // Q4_1/Q5_1 fold the activation sum into an fp16 s (rel. error 2^-11 on |m| * sum|x|,
              // ~1e-3 of mag); others are only float rounding (< 1e-4 of mag at these sizes).
              const bool fp16_sum = t == GgmlType::Q4_1 || t == GgmlType::Q5_1;
              ASSERT_NEAR(y[size_t(j * c.rows + r)], want, (fp16_sum ? 2e-3 : 1e-4) * mag + 1e-6);
            }
          }
        }
      }
    }
  }
}

TEST(Matmul, ThreadCountDoesNotChangeResults) {
  const int64_t rows = 37, cols = 512;
  const auto wf = test::normal_floats(size_t(rows * cols), 5);
  const auto x = test::normal_floats(size_t(cols), 6);
  KernelContext one(KernelContext::Options{.threads = 1, .isa = {}});
  KernelContext two(KernelContext::Options{.threads = 2, .isa = {}});
  std::vector<uint8_t> w(ggml_row_size(GgmlType::Q4_0, cols) * rows);
  for (int64_t r = 0; r < rows; ++r)
    one.quantize_row(GgmlType::Q4_0, wf.data() + r * cols, w.data() + r * ggml_row_size(GgmlType::Q4_0, cols), cols);
  std::vector<float> y1(rows), y2(rows);
  matvec(one, GgmlType::Q4_0, w.data(), rows, cols, x.data(), y1.data());
  matvec(two, GgmlType::Q4_0, w.data(), rows, cols, x.data(), y2.data());
  EXPECT_EQ(y1, y2);
}

TEST(Matmul, RejectsBadShapesAndTypes) {
  KernelContext ctx(KernelContext::Options{.threads = 1, .isa = {}});
  std::vector<uint8_t> w(4096);
  std::vector<float> x(100), y(100);
  try {
    matmul(ctx, GgmlType::Q8_0, w.data(), 2, 48, x.data(), 1, y.data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("48 elements is not a multiple of Q8_0's block size 32"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(matmul(ctx, GgmlType::I32, w.data(), 1, 32, x.data(), 1, y.data()), Error);  // no kernels
  EXPECT_THROW(matmul(ctx, GgmlType::Q8_1, w.data(), 1, 32, x.data(), 1, y.data()), Error);
}

}  // namespace
}  // namespace pj
