// The register-blocked tile kernels (TypeTraits::gemm, gemm_avx2.cpp / gemm_avx512.cpp) against the
// one-row vec_dot of the same kernel table: bit-identical for every output element (the tile kernels
// promise vec_dot's accumulation order, which keeps our quant dots in ggml's order, see
// test_ggml_order.cpp), for shapes that are not multiples of any tile size, every ISA and 1-2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/kernels/context.h"
#include "core/kernels/matmul.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

std::vector<uint8_t> quantized_rows(KernelContext& ctx, GgmlType t, int64_t rows, int64_t cols, uint32_t seed) {
  const auto f = test::normal_floats(size_t(rows * cols), seed);
  const size_t rb = ggml_row_size(t, uint64_t(cols));
  std::vector<uint8_t> w(rb * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) ctx.quantize_row(t, f.data() + r * cols, w.data() + size_t(r) * rb, cols);
  return w;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The types with a tile kernel in any table this CPU can run. The 256-element IQ types (slow search
// quantizers) are checked on random blocks in test_iquants.cpp instead (TilesEqualOneRowDotBitForBit,
// MatmulTilesEqualRowByRowDots).
std::vector<GgmlType> gemm_types() {
  std::vector<GgmlType> out;
  for (GgmlType t : test::weight_types()) {
    if (t == GgmlType::IQ4_XS || t == GgmlType::IQ2_XXS || t == GgmlType::IQ2_XS || t == GgmlType::IQ2_S || t == GgmlType::IQ3_XXS ||
        t == GgmlType::IQ3_S)
      continue;
    for (Isa isa : test::available_isas())
      if (kernel_table(isa).types[size_t(t)].gemm) {
        out.push_back(t);
        break;
      }
  }
  return out;
}

void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(bits(got[i]), bits(want[i])) << what << " element " << i << ": " << got[i] << " vs " << want[i];
}

TEST(Gemm, AvailableWhereExpected) {
  // The AVX2 and AVX-512 tables have tiles for F32, F16, the 32-element block quants,
  // Q4_K/Q5_K/Q6_K, IQ4_NL and the 256-element IQ types but IQ1_S/IQ1_M; the scalar reference has none.
  for (Isa isa : test::available_isas()) {
    if (isa == Isa::Scalar) continue;
    if (isa == Isa::Neon) {  // no NEON tiles yet: matmul runs its vec_dots row by row
      for (const TypeTraits& t : kernel_table(isa).types) EXPECT_EQ(t.gemm, nullptr);
      continue;
    }
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                       GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL,
                       GgmlType::IQ4_XS, GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS,
                       GgmlType::IQ3_S})
      EXPECT_NE(kernel_table(isa).types[size_t(t)].gemm, nullptr) << ggml_type_info(t).name << " " << isa_name(isa);
  }
  for (const TypeTraits& t : kernel_table(Isa::Scalar).types) EXPECT_EQ(t.gemm, nullptr);
}

// Every tile size the micro-kernels dispatch (1..4 rows x 1..4 columns and their combinations with
// full tiles), written into a larger output (ldo > mr) whose other elements must stay untouched.
TEST(Gemm, TileKernelEqualsVecDotBitForBit) {
  for (Isa isa : test::available_isas()) {
    const KernelTable& tab = kernel_table(isa);
    KernelContext ctx(KernelContext::Options{.threads = 1, .isa = isa});
    uint32_t seed = 100;
    for (GgmlType t : gemm_types()) {
      const TypeTraits& tr = tab.types[size_t(t)];
      if (!tr.gemm) continue;
      const int64_t bs = int64_t(tr.block_size);
      // Float rows: every tail length of the 16/32-element steps; block types: 1, 3 and 10 blocks.
      const std::vector<int64_t> col_cases =
          bs == 1 ? std::vector<int64_t>{1, 15, 16, 17, 31, 32, 33, 47, 64, 100} : std::vector<int64_t>{bs, 3 * bs, 10 * bs};
      for (int64_t cols : col_cases) {
        for (int64_t mr : {1, 2, 3, 4, 5, 7, 9}) {
          for (int64_t nr : {1, 2, 3, 4, 5, 6, 7}) {
            SCOPED_TRACE(std::string(ggml_type_info(t).name) + " " + std::string(isa_name(isa)) + " cols " +
                         std::to_string(cols) + " mr " + std::to_string(mr) + " nr " + std::to_string(nr));
            const auto w = quantized_rows(ctx, t, mr, cols, ++seed);
            const auto a = quantized_rows(ctx, tr.vec_dot_type, nr, cols, ++seed);
            const size_t wb = ggml_row_size(t, uint64_t(cols)), ab = ggml_row_size(tr.vec_dot_type, uint64_t(cols));
            const int64_t ldo = mr + 3;
            std::vector<float> out(size_t(ldo * nr), -7.0f), want(out);
            tr.gemm(cols, w.data(), wb, mr, a.data(), ab, nr, out.data(), ldo);
            for (int64_t j = 0; j < nr; ++j)
              for (int64_t r = 0; r < mr; ++r)
                want[size_t(j * ldo + r)] = tr.vec_dot(cols, w.data() + size_t(r) * wb, a.data() + size_t(j) * ab);
            expect_same_bits(out, want, "tile");
          }
        }
      }
    }
  }
}

// matmul (tiles for n >= 2) against matmul_by_dots, including shapes that cross the activation
// blocks (large cols make the L2 block small) and both thread splits (over weight rows when
// rows >= n, over activation rows otherwise).
TEST(Gemm, MatmulEqualsRowByRowDotsBitForBit) {
  struct Case {
    int64_t rows, cols, n;
  };
  const Case cases[] = {{13, 96, 5},     {5, 96, 29},    {50, 4096, 26}, {7, 4096, 40},
                        {13, 768, 5},    {5, 512, 29},   {31, 1024, 2},  {2, 256, 3}};
  for (Isa isa : test::available_isas()) {
    for (int threads : {1, 2}) {
      KernelContext ctx(KernelContext::Options{.threads = threads, .isa = isa});
      uint32_t seed = 500;
      for (GgmlType t : gemm_types()) {
        for (const Case& c : cases) {
          if (c.cols % int64_t(ctx.traits(t).block_size) != 0) continue;  // 256-element types: the larger cases
          SCOPED_TRACE(std::string(ggml_type_info(t).name) + " " + std::string(isa_name(isa)) + " threads " +
                       std::to_string(threads) + " rows " + std::to_string(c.rows) + " cols " +
                       std::to_string(c.cols) + " n " + std::to_string(c.n));
          const auto w = quantized_rows(ctx, t, c.rows, c.cols, ++seed);
          const auto x = test::normal_floats(size_t(c.n * c.cols), ++seed);
          std::vector<float> got(size_t(c.rows * c.n), NAN), want(got);
          matmul(ctx, t, w.data(), c.rows, c.cols, x.data(), c.n, got.data());
          matmul_by_dots(ctx, t, w.data(), c.rows, c.cols, x.data(), c.n, want.data());
          expect_same_bits(got, want, "matmul");
        }
      }
    }
  }
}

// Options::gemm = false (or PJ_GEMM=0) turns the tiles off: same results, one vec_dot per output.
TEST(Gemm, CanBeSwitchedOffWithTheSameResults) {
  const int64_t rows = 9, cols = 256, n = 5;
  KernelContext on(KernelContext::Options{.threads = 1, .isa = {}, .gemm = true});
  KernelContext off(KernelContext::Options{.threads = 1, .isa = {}, .gemm = false});
  EXPECT_TRUE(on.gemm_enabled());
  EXPECT_FALSE(off.gemm_enabled());
  const auto w = quantized_rows(on, GgmlType::Q4_0, rows, cols, 3);
  const auto x = test::normal_floats(size_t(n * cols), 4);
  std::vector<float> a(size_t(rows * n)), b(a.size());
  matmul(on, GgmlType::Q4_0, w.data(), rows, cols, x.data(), n, a.data());
  matmul(off, GgmlType::Q4_0, w.data(), rows, cols, x.data(), n, b.data());
  expect_same_bits(a, b, "switch");
}

}  // namespace
}  // namespace pj
