// Block layouts of the 256-element "K-quant" super-block types. Bit-compatible with llama.cpp's
// block_q2_K ... block_q8_K (ggml/src/ggml-common.h): fields in this order, no padding, fp16 values
// stored as raw IEEE binary16 bits. A GGUF tensor of one of these types is an array of these structs.
// Layout of element j (0 <= j < 256) within a super-block, as the dequantizers read it:
//   Q2_K: 16 sub-blocks of 16; scales[s] = 4-bit scale | 4-bit min << 4;
//         q = (qs[32*(j/128) + j%32] >> (2*((j%128)/32))) & 3;  x = d*sc*q - dmin*m
//   Q3_K: 16 sub-blocks of 16; 6-bit signed scales (offset 32) packed in 12 bytes; q (0..3) as Q2_K,
//         minus 4 unless bit (j/32) of hmask[j%32] is set;  x = d*(sc-32)*q
//   Q4_K: 8 sub-blocks of 32; 6-bit scale/min pairs packed in 12 bytes (see kquants_ref.cpp);
//         q = nibble (j%64 < 32: low, else high) of qs[32*(j/64) + j%32];  x = d*sc*q - dmin*m
//   Q5_K: as Q4_K plus a 5th bit: bit (j/32) of qh[j%32]
//   Q6_K: 16 sub-blocks of 16 with int8 scales; 4 low bits in ql, 2 high bits in qh; x = d*sc*(q-32)
//   Q8_K: activation type: float d, int8 qs, and the sum of each 16 quants in bsums
#pragma once

#include <cstdint>

namespace pj {

inline constexpr int kQK_K = 256;       // elements per super-block
inline constexpr int kKScaleSize = 12;  // bytes of packed 6-bit scales/mins (Q4_K, Q5_K)

struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84, "Q2_K block must match ggml's 84 bytes");

struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110, "Q3_K block must match ggml's 110 bytes");

struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block must match ggml's 144 bytes");

struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176, "Q5_K block must match ggml's 176 bytes");

struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block must match ggml's 210 bytes");

struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292, "Q8_K block must match ggml's 292 bytes");

}  // namespace pj
