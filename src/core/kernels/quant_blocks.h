// Block layouts of the legacy 32-element ggml quant types. Bit-compatible with llama.cpp's
// block_q4_0 ... block_q8_1 (ggml/src/ggml-common.h): fields in this order, no padding, fp16 scales
// stored as raw IEEE binary16 bits. A GGUF tensor of one of these types is an array of these structs.
// Element j of a block (0 <= j < 32) is stored as:
//   Q4_0/Q4_1: low nibble of qs[j] for j < 16, high nibble of qs[j - 16] for j >= 16
//   Q5_0/Q5_1: as Q4, plus bit j of the little-endian uint32 qh as the 5th (0x10) bit
//   Q8_0/Q8_1: qs[j]
#pragma once

#include <cstdint>

namespace pj {

inline constexpr int kQK = 32;  // elements per block for all types in this file

// value = d * (q - 8), q in [0, 15]
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block must match ggml's 18 bytes");

// value = d * q + m, q in [0, 15]
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "Q4_1 block must match ggml's 20 bytes");

// value = d * (q - 16), q in [0, 31]
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "Q5_0 block must match ggml's 22 bytes");

// value = d * q + m, q in [0, 31]
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "Q5_1 block must match ggml's 24 bytes");

// value = d * q, q in [-127, 127] (the reference quantizer never writes -128; the SIMD dot products
// rely on that for activations)
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must match ggml's 34 bytes");

// Activation type for Q4_1/Q5_1: as Q8_0 plus s = d * sum(qs), so that the min term of the weight
// block costs one multiply: sum((dw*qw + m) * dy*qy) = dw*dy*sum(qw*qy) + m*s.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_1) == 36, "Q8_1 block must match ggml's 36 bytes");

}  // namespace pj
