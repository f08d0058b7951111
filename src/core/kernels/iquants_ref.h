// Scalar reference kernels of the IQ types, the ternary types and MXFP4 (blocks in iquants_blocks.h):
// dequantization, dot products with the activation type llama.cpp pairs each with (Q8_0 for the
// 32-element IQ4_NL and MXFP4, Q8_K for the 256-element types), and reference quantizers. Formats and
// algorithms learned from llama.cpp's ggml/src/ggml-quants.c and ggml-cpu/quants.c and from gguf-py's
// gguf/quants.py; the dequantizers equal gguf-py's exactly and the quantizers reproduce llama.cpp's
// bytes (tests/kernels/test_iquants*.cpp, tests/python/test_iquants_vs_gguf.py).
// `n` is the number of elements, a multiple of the block size.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/kernels/iquants_blocks.h"
#include "core/kernels/kernel_table.h"

namespace pj {

void dequantize_row_iq4_nl(const BlockIq4Nl* x, float* y, int64_t n);
void dequantize_row_iq4_xs(const BlockIq4Xs* x, float* y, int64_t n);
void dequantize_row_iq2_xxs(const BlockIq2Xxs* x, float* y, int64_t n);
void dequantize_row_iq2_xs(const BlockIq2Xs* x, float* y, int64_t n);
void dequantize_row_iq2_s(const BlockIq2S* x, float* y, int64_t n);
void dequantize_row_iq3_xxs(const BlockIq3Xxs* x, float* y, int64_t n);
void dequantize_row_iq3_s(const BlockIq3S* x, float* y, int64_t n);
void dequantize_row_iq1_s(const BlockIq1S* x, float* y, int64_t n);
void dequantize_row_iq1_m(const BlockIq1M* x, float* y, int64_t n);
void dequantize_row_tq1_0(const BlockTq1_0* x, float* y, int64_t n);
void dequantize_row_tq2_0(const BlockTq2_0* x, float* y, int64_t n);
void dequantize_row_mxfp4(const BlockMxfp4* x, float* y, int64_t n);

// 2^(e - 128): half the E8M0 scale, because kValuesMxfp4 holds doubled E2M1 values.
float e8m0_to_f32_half(uint8_t e);

// Dot products: integer sums per sub-block are exact, scales applied in llama.cpp's order.
float vec_dot_iq4_nl_q8_0_ref(int64_t n, const void* x, const void* y);
float vec_dot_mxfp4_q8_0_ref(int64_t n, const void* x, const void* y);
float vec_dot_iq4_xs_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_iq2_xxs_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_iq2_xs_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_iq2_s_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_iq3_xxs_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_iq3_s_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_iq1_s_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_iq1_m_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_tq1_0_q8_K_ref(int64_t n, const void* x, const void* y);
float vec_dot_tq2_0_q8_K_ref(int64_t n, const void* x, const void* y);

// Reference quantizers (llama.cpp's quantize_row_*_ref: what its type traits use for from_float).
void quantize_row_iq4_nl_ref(const float* x, BlockIq4Nl* y, int64_t n);  // no scale search
void quantize_row_iq4_xs_ref(const float* x, BlockIq4Xs* y, int64_t n);
void quantize_row_tq1_0_ref(const float* x, BlockTq1_0* y, int64_t n);
void quantize_row_tq2_0_ref(const float* x, BlockTq2_0* y, int64_t n);
void quantize_row_mxfp4_ref(const float* x, BlockMxfp4* y, int64_t n);

// The quantizers llama_model_quantize runs (llama.cpp's quantize_iq4_nl, quantize_iq4_xs; the
// TypeTraits::quantize_rows entries): nrow rows of n_per_row elements; `imatrix` (n_per_row importance
// weights, one per column) may be nullptr. Even without one, IQ4_NL here searches 15 candidate scales
// per block, unlike quantize_row_iq4_nl_ref (as in llama.cpp). Returns the bytes written.
size_t quantize_rows_iq4_nl(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_iq4_xs(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);

// The lattice types (iquants_quantize_lattice.cpp, iquants_quantize_iq1.cpp), llama.cpp's
// quantize_iq2_xxs ... quantize_iq1_m. IQ2_XXS, IQ2_XS and IQ1_S need importance weights and throw
// pj::Error without them (llama.cpp asserts); the others fall back to weights from the values.
size_t quantize_rows_iq2_xxs(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_iq2_xs(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_iq2_s(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_iq3_xxs(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_iq3_s(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_iq1_s(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);
size_t quantize_rows_iq1_m(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix);
// llama.cpp's quantize_row_*_ref of the three lattice types that have one (no importance weights).
void quantize_row_iq2_s_ref(const float* x, BlockIq2S* y, int64_t n);
void quantize_row_iq3_xxs_ref(const float* x, BlockIq3Xxs* y, int64_t n);
void quantize_row_iq3_s_ref(const float* x, BlockIq3S* y, int64_t n);

// Registers the types of this file in a kernel table (called by install_scalar), and overlays the
// SIMD dot products of an ISA (iquants_avx2.cpp, iquants_avx512.cpp; called by build_table).
void install_iquants_scalar(KernelTable& t);
void install_iquants_simd(KernelTable& t, Isa isa);

}  // namespace pj
