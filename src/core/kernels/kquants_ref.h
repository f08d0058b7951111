// K-quants (Q2_K ... Q6_K, activation type Q8_K): reference quantizers, dequantizers and scalar dot
// products, and the importance-weighted quantizers of the legacy 32-element types.
// Quantizers reproduce llama.cpp's byte for byte (algorithms learned from ggml/src/ggml-quants.c:
// quantize_row_*_ref without an importance matrix, quantize_row_*_impl with one).
// `n` is the number of elements (a multiple of 256 for the K types, 32 for the legacy types).
#pragma once

#include <cstdint>

#include "core/kernels/kernel_table.h"
#include "core/kernels/kquants_blocks.h"
#include "core/kernels/quant_blocks.h"

namespace pj {

void quantize_row_q2_k_ref(const float* x, BlockQ2_K* y, int64_t n);
void quantize_row_q3_k_ref(const float* x, BlockQ3_K* y, int64_t n);
void quantize_row_q4_k_ref(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_k_ref(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_k_ref(const float* x, BlockQ6_K* y, int64_t n);
void quantize_row_q8_k_ref(const float* x, BlockQ8_K* y, int64_t n);

// ggml's make_qp_quants: n non-negative values x to levels L in [0, nmax] with weights qw (weighted
// least squares with a few rounds of local improvement); returns the scale. Also used by IQ2_XXS.
float make_qp_quants_weighted(int n, int nmax, const float* x, uint8_t* L, const float* qw);

// Rows quantized as ggml's quantize_<type>(src, dst, nrows, n_per_row, imatrix): imatrix holds one
// importance weight per column (n_per_row values) or is nullptr (then: the *_ref quantizer).
// These are the TypeTraits::quantize_rows entries.
size_t quantize_rows_q2_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_q3_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_q4_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_q5_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_q6_k(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_q4_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_q4_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_q5_0(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_q5_1(const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix);

void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t n);
void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t n);
void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n);

// Dot products with a Q8_K row: the integer sum of each super-block is exact; super-blocks are
// accumulated in float in block order.
float vec_dot_q2_k_q8_k_ref(int64_t n, const void* x, const void* y);
float vec_dot_q3_k_q8_k_ref(int64_t n, const void* x, const void* y);
float vec_dot_q4_k_q8_k_ref(int64_t n, const void* x, const void* y);
float vec_dot_q5_k_q8_k_ref(int64_t n, const void* x, const void* y);
float vec_dot_q6_k_q8_k_ref(int64_t n, const void* x, const void* y);

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block.
void kq_scale_min(int j, const uint8_t* scales, uint8_t& sc, uint8_t& m);
// The 16 signed 6-bit scales of a Q3_K super-block, minus their offset 32.
void q3_k_scales(const uint8_t* packed, int8_t out[16]);

// Rows of the K types in the scalar table, and the importance-weighted quantizers of the legacy types
// (called by install_scalar).
void install_kquants_scalar(KernelTable& t);
// Overlays the SIMD dot products of an ISA (kquants_avx2.cpp, kquants_avx512.cpp).
void install_kquants_simd(KernelTable& t, Isa isa);

}  // namespace pj
