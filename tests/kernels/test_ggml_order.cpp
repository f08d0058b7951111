// The llama.cpp-order kernels (OpsTable's swiglu, attn_dot, exp_sum, attn_accumulate and the
// activation quantizers, kernel_table.h): every ISA must give the same bits as the scalar
// reference, which spells out ggml-cpu's order. Exact equality is the point of these kernels (our
// logits follow llama.cpp's through 8-bit activation rounding only if no bit differs), so the
// tolerance is zero. Also the reference against closed forms, so that "same bits" is not "same bug".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/half.h"
#include "core/kernels/context.h"
#include "core/kernels/ops_ref.h"
#include "core/kernels/quants_ref.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

const int64_t kSizes[] = {1, 3, 7, 8, 15, 16, 17, 33, 63, 64, 65, 100, 128, 1023};

void expect_bits(const float* got, const float* want, int64_t n) {
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << "index " << i << ": " << got[i] << " vs " << want[i];
}

std::vector<uint16_t> to_f16(const std::vector<float>& x) {
  std::vector<uint16_t> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = f32_to_fp16(x[i]);
  return h;
}

TEST(GgmlOrder, ExpfIsAccurate) {
  // ggml_v_expf's stated maximum error is 1.45 ulp plus 0.5; we allow 3 ulp relative.
  for (float x = -87.0f; x < 88.0f; x += 0.37f) {
    const double want = std::exp(double(x));
    EXPECT_NEAR(ggml_expf_ref(x), want, want * 3 * 0x1p-23) << x;
  }
  EXPECT_EQ(ggml_expf_ref(0.0f), 1.0f);
  EXPECT_EQ(ggml_expf_ref(-INFINITY), 0.0f);
  EXPECT_EQ(ggml_expf_ref(-200.0f), 0.0f);
  EXPECT_TRUE(std::isinf(ggml_expf_ref(200.0f)));
  EXPECT_GT(ggml_expf_ref(-100.0f), 0.0f);  // subnormal result, not flushed
}

TEST(GgmlOrder, ReferenceAgainstClosedForms) {
  const float a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  EXPECT_EQ(lane_tree_ref(a), 136.0f);
  std::vector<float> q(70), k(70);
  for (int i = 0; i < 70; ++i) q[i] = 1.0f, k[i] = float(i);
  EXPECT_EQ(attn_dot_ref(q.data(), k.data(), false, 70), 69.0f * 70 / 2);
  // softmax pieces: exp(x - max) summed
  const float s[3] = {0.0f, std::log(2.0f), std::log(3.0f)};
  float e[3];
  EXPECT_NEAR(exp_sum_ref(s, e, 3, std::log(3.0f)), 2.0, 1e-6);
  // weighted V sum: v[j][d] = j + d, p = 1 for j in [1, 3]
  std::vector<float> v(5 * 4), p(5, 1.0f), out(4);
  for (int j = 0; j < 5; ++j)
    for (int d = 0; d < 4; ++d) v[j * 4 + d] = float(j + d);
  attn_accumulate_ref(p.data(), v.data(), false, 4, 1, 3, 4, out.data());
  for (int d = 0; d < 4; ++d) EXPECT_EQ(out[d], float(6 + 3 * d));
  const float g[2] = {2.0f, -1.0f}, u[2] = {3.0f, 0.5f};
  float y[2];
  swiglu_ref(g, u, y, 2);
  EXPECT_NEAR(y[0], 2.0 / (1 + std::exp(-2.0)) * 3, 1e-6);
  EXPECT_NEAR(y[1], -1.0 / (1 + std::exp(1.0)) * 0.5, 1e-6);
}

TEST(GgmlOrder, EveryIsaMatchesScalarBitForBit) {
  const OpsTable& ref = kernel_table(Isa::Scalar).ops;
  for (Isa isa : test::available_isas()) {
    const OpsTable& ops = kernel_table(isa).ops;
    for (int64_t n : kSizes) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " n=" + std::to_string(n));
      auto x = test::normal_floats(size_t(n), uint32_t(n), 6.0f);
      x[0] = -95.0f;  // subnormal exp
      if (n > 2) x[2] = -INFINITY;  // masked score
      const auto u = test::normal_floats(size_t(n), uint32_t(n) + 1);
      std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
      auto g = x;
      g[0] = 30.0f;
      if (n > 2) g[2] = -30.0f;
      ops.swiglu(g.data(), u.data(), got.data(), n);
      ref.swiglu(g.data(), u.data(), want.data(), n);
      expect_bits(got.data(), want.data(), n);

      const double sg = ops.exp_sum(x.data(), got.data(), n, 1.5f);
      const double sw = ref.exp_sum(x.data(), want.data(), n, 1.5f);
      EXPECT_EQ(sg, sw);
      expect_bits(got.data(), want.data(), n);

      const auto q = test::normal_floats(size_t(n), uint32_t(n) + 2);
      const auto k = test::normal_floats(size_t(n), uint32_t(n) + 3);
      const float dg = ops.attn_dot(q.data(), k.data(), false, n), dw = ref.attn_dot(q.data(), k.data(), false, n);
      expect_bits(&dg, &dw, 1);
      const auto kh = to_f16(k);
      const float hg = ops.attn_dot(q.data(), kh.data(), true, n), hw = ref.attn_dot(q.data(), kh.data(), true, n);
      expect_bits(&hg, &hw, 1);
    }
    // V sums: positions 0..n_pos-1 of a cache with row stride 3 heads of hd, head 1
    for (int hd : {8, 16, 64, 80, 128, 12}) {
      for (int64_t n_pos : {1, 5, 16, 17, 40}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " hd=" + std::to_string(hd) + " pos=" + std::to_string(n_pos));
        const int64_t stride = 3 * hd;
        const auto v = test::normal_floats(size_t(n_pos * stride), uint32_t(hd * 100 + n_pos));
        const auto p = test::normal_floats(size_t(n_pos), uint32_t(hd + n_pos), 0.3f);
        const int64_t first = n_pos > 4 ? 3 : 0;
        std::vector<float> got(static_cast<size_t>(hd)), want(static_cast<size_t>(hd));
        ops.attn_accumulate(p.data(), v.data() + hd, false, stride, first, n_pos - 1, hd, got.data());
        ref.attn_accumulate(p.data(), v.data() + hd, false, stride, first, n_pos - 1, hd, want.data());
        expect_bits(got.data(), want.data(), hd);
        const auto vh = to_f16(v);
        ops.attn_accumulate(p.data(), vh.data() + hd, true, stride, first, n_pos - 1, hd, got.data());
        ref.attn_accumulate(p.data(), vh.data() + hd, true, stride, first, n_pos - 1, hd, want.data());
        expect_bits(got.data(), want.data(), hd);
      }
    }
  }
}

// The batched attention pieces: 16 keys scored at once from a transposed block must equal attn_dot
// key by key (every ISA's attn_dot16 against the reference attn_dot, so the two paths of
// attention_heads agree); the transposition, max and normalisation against plain loops.
TEST(GgmlOrder, BatchedScoresEqualOneKeyDots) {
  for (Isa isa : test::available_isas()) {
    const OpsTable& ops = kernel_table(isa).ops;
    const OpsTable& ref = kernel_table(Isa::Scalar).ops;
    for (int hd : {64, 128, 256}) {
      for (int n_rows : {16, 5, 1}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " hd=" + std::to_string(hd) + " rows=" + std::to_string(n_rows));
        const int64_t stride = 2 * hd + 8;  // a KV row of 2 heads and some padding; head 1 is read
        auto k = test::normal_floats(size_t(16 * stride), uint32_t(hd + n_rows), 2.0f);
        k[size_t(stride + hd + 3)] = 0.0f;
        k[size_t(2 * stride + hd + 5)] = -0.0f;
        const auto kh = to_f16(k);
        auto q = test::normal_floats(size_t(hd), uint32_t(hd * 7 + n_rows));
        for (auto& v : q) v = fp16_round(v);  // as attention rounds q for an F16 cache
        for (bool f16 : {false, true}) {
          const void* kp = f16 ? static_cast<const void*>(kh.data() + hd) : static_cast<const void*>(k.data() + hd);
          std::vector<float> kt(size_t(16 * hd), 1.0f), kt_ref(size_t(16 * hd), 2.0f);
          ops.attn_kt16(kp, f16, stride, n_rows, hd, kt.data());
          ref.attn_kt16(kp, f16, stride, n_rows, hd, kt_ref.data());
          expect_bits(kt.data(), kt_ref.data(), 16 * hd);
          for (int i = 0; i < 16; ++i)
            for (int e = 0; e < hd; ++e) {
              const float want = i >= n_rows ? 0.0f : f16 ? fp16_to_f32(kh[size_t(i * stride + hd + e)]) : k[size_t(i * stride + hd + e)];
              ASSERT_EQ(kt_ref[size_t(e * 16 + i)], want) << "row " << i << " element " << e;
            }
          float got[16], want[16];
          ops.attn_dot16(q.data(), kt.data(), hd, 0.125f, got);
          for (int i = 0; i < n_rows; ++i) {
            const uint8_t* row = static_cast<const uint8_t*>(kp) + size_t(i * stride) * (f16 ? 2 : 4);
            want[i] = ref.attn_dot(q.data(), row, f16, hd) * 0.125f;
          }
          expect_bits(got, want, n_rows);
          ref.attn_dot16(q.data(), kt.data(), hd, 0.125f, want);
          expect_bits(got, want, 16);
        }
      }
    }
    for (int64_t n : kSizes) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " n=" + std::to_string(n));
      auto x = test::normal_floats(size_t(n), uint32_t(n) + 11, 4.0f);
      x[size_t(n - 1)] = 9.5f;  // the maximum in the tail
      float mx = -INFINITY;
      for (float v : x) mx = std::max(mx, v);
      EXPECT_EQ(ops.max_f32(x.data(), n), mx);
      for (bool r16 : {false, true}) {
        auto got = x, want = x;
        ops.scale_f32(got.data(), n, 0.37f, r16);
        for (auto& v : want) v = r16 ? fp16_round(v * 0.37f) : v * 0.37f;
        expect_bits(got.data(), want.data(), n);
      }
    }
    EXPECT_EQ(ops.max_f32(nullptr, 0), -INFINITY);
  }
}

TEST(GgmlOrder, ActivationQuantizersMatchScalarBitForBit) {
  const int64_t n = 32 * 37;
  auto x = test::normal_floats(size_t(n), 7, 3.0f);
  for (int j = 0; j < 32; ++j) x[size_t(32 + j)] = 0.0f;                 // all-zero block
  for (int j = 0; j < 32; ++j) x[size_t(64 + j)] = float(j - 16) * 0.5f;  // halves: ties to even
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q8_1}) {
    const size_t bytes = ggml_row_size(t, uint64_t(n));
    std::vector<uint8_t> want(bytes);
    kernel_table(Isa::Scalar).types[size_t(t)].from_float(x.data(), want.data(), n);
    for (Isa isa : test::available_isas()) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(ggml_type_info(t).name));
      std::vector<uint8_t> got(bytes);
      kernel_table(isa).types[size_t(t)].from_float(x.data(), got.data(), n);
      EXPECT_EQ(got, want);
    }
    // against the *_ref quantizer: the same scales, values at most one step apart
    std::vector<uint8_t> r(bytes);
    kernel_table(Isa::Scalar).types[size_t(t)].from_float_ref(x.data(), r.data(), n);
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    kernel_table(Isa::Scalar).types[size_t(t)].to_float(want.data(), a.data(), n);
    kernel_table(Isa::Scalar).types[size_t(t)].to_float(r.data(), b.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[size_t(i / 32 * 32 + j)]));
      ASSERT_LE(std::fabs(a[size_t(i)] - b[size_t(i)]), amax / 127 * 1.01f) << i;  // at most one step
    }
  }
  // round half to even, on a block whose scale is exactly 1 (amax = 127)
  float t[32] = {};
  t[0] = 127.0f, t[1] = 2.5f, t[2] = 3.5f, t[3] = -2.5f;
  BlockQ8_0 blk;
  quantize_row_q8_0_act(t, &blk, 32);
  EXPECT_EQ(blk.qs[0], 127);
  EXPECT_EQ(blk.qs[1], 2);
  EXPECT_EQ(blk.qs[2], 4);
  EXPECT_EQ(blk.qs[3], -2);
  quantize_row_q8_0_ref(t, &blk, 32);
  EXPECT_EQ(blk.qs[1], 3);  // the reference rounds half away from zero
}

TEST(GgmlOrder, FourRowDotsEqualSingleRowDots) {
  for (Isa isa : test::available_isas()) {
    const KernelTable& kt = kernel_table(isa);
    for (GgmlType wt : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::IQ4_NL}) {
      const TypeTraits& t = kt.types[size_t(wt)];
      if (isa == Isa::Avx2 || isa == Isa::Avx512) {
        EXPECT_NE(t.vec_dot4, nullptr);  // every x86 SIMD table has these (IQ4_NL's: the 4 x 1 GEMM tile)
      }
      if (!t.vec_dot4) continue;
      for (int64_t n : {32, 96, 576, 1536}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(ggml_type_info(wt).name) + " n=" + std::to_string(n));
        const size_t wrow = ggml_row_size(wt, uint64_t(n));
        std::vector<uint8_t> w(4 * wrow), a(ggml_row_size(t.vec_dot_type, uint64_t(n)));
        for (int r = 0; r < 4; ++r) {
          const auto x = test::normal_floats(size_t(n), uint32_t(n + r), 2.0f);
          t.from_float_ref(x.data(), w.data() + r * wrow, n);
        }
        const auto xa = test::normal_floats(size_t(n), uint32_t(n + 9));
        kt.types[size_t(t.vec_dot_type)].from_float(xa.data(), a.data(), n);
        float four[4];
        t.vec_dot4(n, w.data(), wrow, a.data(), four);
        for (int r = 0; r < 4; ++r) {
          const float one = t.vec_dot(n, w.data() + r * wrow, a.data());
          expect_bits(&four[r], &one, 1);
        }
      }
    }
  }
}

}  // namespace
}  // namespace pj
