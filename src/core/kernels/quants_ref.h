// Scalar reference kernels: quantize / dequantize rows and dot products for every supported type.
// Every SIMD variant is tested against these. Quantizers reproduce llama.cpp's quantize_row_*_ref
// byte for byte (algorithms learned from ggml/src/ggml-quants.c and gguf-py/gguf/quants.py).
// `n` is the number of elements, a multiple of 32 for the quant types.
#pragma once

#include <cstdint>

#include "core/kernels/quant_blocks.h"

namespace pj {

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t n);
void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n);
// Activation quantizers as ggml-cpu's x86 quantize_row_q8_0/q8_1 (127/amax, round half to even);
// they differ from the *_ref ones in the last bit of some values. Matmul inputs go through these.
void quantize_row_q8_0_act(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1_act(const float* x, BlockQ8_1* y, int64_t n);

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n);

// Dot products. Quant types: the integer sum of each block is exact; blocks are accumulated in
// float in block order.
float vec_dot_q4_0_q8_0_ref(int64_t n, const void* x, const void* y);
float vec_dot_q4_1_q8_1_ref(int64_t n, const void* x, const void* y);
float vec_dot_q5_0_q8_0_ref(int64_t n, const void* x, const void* y);
float vec_dot_q5_1_q8_1_ref(int64_t n, const void* x, const void* y);
float vec_dot_q8_0_q8_0_ref(int64_t n, const void* x, const void* y);
float vec_dot_f32_ref(int64_t n, const void* x, const void* y);
float vec_dot_f16_f32_ref(int64_t n, const void* x, const void* y);
float vec_dot_bf16_ref(int64_t n, const void* x, const void* y);

}  // namespace pj
