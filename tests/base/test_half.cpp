#include "core/base/half.h"

#include <gtest/gtest.h>

#include <cmath>

// Exhaustive: every half value converts to float and back to the same bits (NaNs stay NaN).
TEST(Half, Fp16RoundTripAllValues) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = pj::fp16_to_f32(static_cast<uint16_t>(h));
    uint16_t back = pj::f32_to_fp16(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(pj::fp16_to_f32(back))) << h;
    } else {
      EXPECT_EQ(back, h) << "half bits " << h;
    }
  }
}

TEST(Half, Fp16RoundsToNearestEven) {
  EXPECT_EQ(pj::f32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(pj::f32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(pj::f32_to_fp16(65520.0f), 0x7c00);      // halfway to the next step rounds to inf
  EXPECT_EQ(pj::f32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even
  EXPECT_EQ(pj::f32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(pj::f32_to_fp16(5.9604644775390625e-8f), 0x0001);
  EXPECT_EQ(pj::f32_to_fp16(-0.0f), 0x8000);
}

// fp16_round is fp16_to_f32(f32_to_fp16(f)) bit for bit: every float whose 13 bits below the half's
// mantissa are at a rounding boundary (0, 1, below/at/above the tie, all ones), both signs, every
// exponent and upper mantissa (2^20 x 6 values; an exhaustive run over all 2^32 floats passed too).
TEST(Half, Fp16RoundEqualsTheRoundTrip) {
  for (uint32_t hi = 0; hi < (1u << 19); ++hi)
    for (uint32_t lo : {0x0000u, 0x0001u, 0x0fffu, 0x1000u, 0x1001u, 0x1fffu})
      for (uint32_t sign : {0u, 0x80000000u}) {
        const float f = pj::f32_from_bits(sign | (hi << 13) | lo);
        const float want = pj::fp16_to_f32(pj::f32_to_fp16(f)), got = pj::fp16_round(f);
        if (std::isnan(want)) {
          ASSERT_TRUE(std::isnan(got)) << std::hex << pj::f32_bits(f);
        } else {
          ASSERT_EQ(pj::f32_bits(got), pj::f32_bits(want)) << std::hex << pj::f32_bits(f);
        }
      }
}

TEST(Half, Bf16) {
  EXPECT_EQ(pj::f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(pj::bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(pj::f32_to_bf16(pj::f32_from_bits(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(pj::f32_to_bf16(pj::f32_from_bits(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(pj::bf16_to_f32(pj::f32_to_bf16(NAN))));
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = pj::bf16_to_f32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) EXPECT_EQ(pj::f32_to_bf16(f), h);
  }
}
