// geglu_ggml looks GELU up in a table over F16 inputs, as ggml does (GGML_GELU_FP16). The table must
// give exactly what the formula gives on the F16-rounded input, rounded to F16 (llama.cpp's values),
// for every input: every F16 value in (-10, 10), values between them, the cut-offs, and NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/base/half.h"
#include "models/llm/arch.h"

namespace pj::llm {
namespace {

float formula(float x, float u) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x * u;
  const float f = fp16_to_f32(f32_to_fp16(x));
  const float g = 0.5f * f * (1.0f + std::tanh(0.79788456080286535587989211986876f * f * std::fma(0.044715f * f, f, 1.0f)));
  return fp16_to_f32(f32_to_fp16(g)) * u;
}

TEST(Geglu, TableEqualsFormulaOnEveryInput) {
  std::vector<float> x, u;
  for (uint32_t h = 0; h < 0x10000; ++h) {  // every F16 value (inf and NaN included)
    x.push_back(fp16_to_f32(uint16_t(h)));
    u.push_back(1.0f + float(h % 7) * 0.25f);
  }
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-11.0f, 11.0f);
  for (int i = 0; i < 100000; ++i) x.push_back(d(rng)), u.push_back(0.5f);  // between F16 values
  for (float v : {-10.0f, 10.0f, 9.999f, -9.999f, 9.9951f, -9.9951f, 0.0f, -0.0f}) x.push_back(v), u.push_back(3.0f);
  std::vector<float> got(x.size());
  geglu_ggml(x.data(), u.data(), got.data(), int64_t(x.size()));
  size_t checked = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = formula(x[i], u[i]);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got[i])) << "x = " << x[i];
      continue;
    }
    ASSERT_EQ(std::memcmp(&got[i], &want, 4), 0) << "x = " << x[i] << ": " << got[i] << " vs " << want;
    ++checked;
  }
  EXPECT_GT(checked, size_t(160000));
}

}  // namespace
}  // namespace pj::llm
