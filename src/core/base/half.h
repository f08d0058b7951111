// IEEE 754 binary16 and bfloat16 conversions (scalar reference; bit-exact, round to nearest even).
#pragma once

#include <cstdint>
#include <cstring>

namespace pj {

inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float fp16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  if (exp == 0) {
    if (man == 0) return f32_from_bits(sign);
    // subnormal: value = man * 2^-24
    float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (man << 13));
  return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t f32_to_fp16(float f) {
  uint32_t x = f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to inf
  if (ax < 0x38800000u) {                                               // subnormal or zero in half
    // add 0.5 (as float) so the FPU rounds the mantissa to nearest even at the half subnormal step
    float v = f32_from_bits(ax) + 0.5f;
    return static_cast<uint16_t>(sign | (f32_bits(v) - 0x3f000000u));
  }
  uint32_t mant_odd = (ax >> 13) & 1;
  ax += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round to nearest even
  return static_cast<uint16_t>(sign | (ax >> 13));
}

// fp16_to_f32(f32_to_fp16(f)): f rounded to the nearest binary16 value (ties to even), as a float.
// Where the half is normal, rounding the float's mantissa to 10 bits in place is the same operation
// (the exponent rebias is additive, so a carry out of the mantissa lands in the exponent either way):
// no branches there, which the attention's per-probability rounding needs. tests/base checks every float.
inline float fp16_round(float f) {
  uint32_t u = f32_bits(f);
  const uint32_t ax = u & 0x7fffffffu;
  if (ax >= 0x38800000u && ax < 0x477ff000u) {
    u += 0xfffu + ((u >> 13) & 1u);
    return f32_from_bits(u & 0xffffe000u);
  }
  return fp16_to_f32(f32_to_fp16(f));
}

inline float bf16_to_f32(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

}  // namespace pj
