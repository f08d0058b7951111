// Block layouts of the IQ ("importance"/lattice) types, the ternary types and MXFP4. Bit-compatible
// with llama.cpp's block_iq*, block_tq*, block_mxfp4 (ggml/src/ggml-common.h): fields in this order,
// no padding, fp16 scales as raw binary16 bits, multi-byte fields little-endian. The decoding of each
// is in iquants_ref.cpp (dequantize_row_*), which is the specification we test against gguf-py.
#pragma once

#include <cstdint>

#include "core/kernels/kquants_blocks.h"  // kQK_K, BlockQ8_K (the activation type of the 256-element types)

namespace pj {

inline constexpr int kQK4NL = 32;  // IQ4_NL and MXFP4 blocks

// 32 elements: value = d * kValuesIq4nl[nibble]; element j < 16 in the low nibble of qs[j], j >= 16
// in the high nibble of qs[j - 16].
struct BlockIq4Nl {
  uint16_t d;
  uint8_t qs[kQK4NL / 2];
};
static_assert(sizeof(BlockIq4Nl) == 18);

// 256 elements in 8 sub-blocks of 32, each an IQ4_NL block whose scale is d * (ls - 32) with a 6-bit
// ls: low 4 bits in scales_l (nibble ib%2 of byte ib/2), high 2 bits at bits 2ib of scales_h.
struct BlockIq4Xs {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockIq4Xs) == 136);

// 256 elements, 8 groups of 32 = 4 grid points of 8. Per group two uint32: the first holds 4 grid
// indices (bytes), the second 4 x 7 sign bits and a 4-bit scale (bits 28-31).
// value = d * (0.5 + s) / 4 * grid * sign
struct BlockIq2Xxs {
  uint16_t d;
  uint16_t qs[kQK_K / 8];
};
static_assert(sizeof(BlockIq2Xxs) == 66);

// qs[k]: 9-bit grid index | 7 sign bits << 9; scales: two 4-bit scales per group of 32.
struct BlockIq2Xs {
  uint16_t d;
  uint16_t qs[kQK_K / 8];
  uint8_t scales[kQK_K / 32];
};
static_assert(sizeof(BlockIq2Xs) == 74);

// qs[0..31]: low 8 bits of 10-bit grid indices; qs[32..63]: 8 explicit sign bits per grid point;
// qh: 2 high index bits per grid point; scales: two 4-bit scales per group of 32.
struct BlockIq2S {
  uint16_t d;
  uint8_t qs[kQK_K / 4];
  uint8_t qh[kQK_K / 32];
  uint8_t scales[kQK_K / 32];
};
static_assert(sizeof(BlockIq2S) == 82);

// qs[0..63]: 8-bit indices of 4-element grid points; qs[64..95]: per group of 32 a uint32 with
// 4 x 7 sign bits and a 4-bit scale. value = d * (0.5 + s) / 2 * grid * sign
struct BlockIq3Xxs {
  uint16_t d;
  uint8_t qs[3 * kQK_K / 8];
};
static_assert(sizeof(BlockIq3Xxs) == 98);

// 9-bit indices of 4-element grid points (low 8 in qs, 9th in qh), explicit signs, 4-bit scales per
// group of 32. value = d * (1 + 2 s) * grid * sign
struct BlockIq3S {
  uint16_t d;
  uint8_t qs[kQK_K / 4];
  uint8_t qh[kQK_K / 32];
  uint8_t signs[kQK_K / 8];
  uint8_t scales[kQK_K / 64];
};
static_assert(sizeof(BlockIq3S) == 110);

// 11-bit indices into the ternary grid (low 8 in qs, high 3 in qh[group] bits 3l); qh bits 12-14: scale,
// bit 15: sign of the shift. value = d * (2 s + 1) * (grid +- 1/8)
struct BlockIq1S {
  uint16_t d;
  uint8_t qs[kQK_K / 8];
  uint16_t qh[kQK_K / 32];
};
static_assert(sizeof(BlockIq1S) == 50);

// As IQ1_S with a shift sign per 8 elements and 3-bit scales per 16; the fp16 super-block scale is
// scattered over the top nibbles of the four uint16 of `scales`.
struct BlockIq1M {
  uint8_t qs[kQK_K / 8];
  uint8_t qh[kQK_K / 16];
  uint8_t scales[kQK_K / 32];
};
static_assert(sizeof(BlockIq1M) == 56);

// Ternary {-1, 0, 1} * d. qs: 5 trits per byte as a fixed-point fraction of 3^5 (byte = ceil(v * 256 /
// 243)); elements 0..159 in qs[0..31] (trit n of byte m = element 32 n + m), 160..239 in qs[32..47]
// (16 n + m), 240..255 in qh (trit n of qh[m] = element 240 + 4 n + m; its 5th trit is 0).
struct BlockTq1_0 {
  uint8_t qs[(kQK_K - 4 * kQK_K / 64) / 5];
  uint8_t qh[kQK_K / 64];
  uint16_t d;
};
static_assert(sizeof(BlockTq1_0) == 54);

// Ternary, 2 bits per element (q - 1): element 128 c + 32 l + m in bits 2l of qs[32 c + m].
struct BlockTq2_0 {
  uint8_t qs[kQK_K / 4];
  uint16_t d;
};
static_assert(sizeof(BlockTq2_0) == 66);

// OCP MX FP4: a shared E8M0 exponent and 32 E2M1 codes (nibbles ordered as IQ4_NL).
struct BlockMxfp4 {
  uint8_t e;
  uint8_t qs[kQK4NL / 2];
};
static_assert(sizeof(BlockMxfp4) == 17);

// Elements per block of each struct above.
template <class Block> inline constexpr int kBlockElems = kQK_K;
template <> inline constexpr int kBlockElems<BlockIq4Nl> = kQK4NL;
template <> inline constexpr int kBlockElems<BlockMxfp4> = kQK4NL;

}  // namespace pj
