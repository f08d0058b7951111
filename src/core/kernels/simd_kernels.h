// The entry points of the per-ISA translation units (dot_avx2.cpp, dot_avx512.cpp), which are
// compiled with -mavx2 / -mavx512* (see CMakeLists.txt). They must not call or instantiate any inline
// function from a shared header (std:: templates, ggml_types.h helpers): the linker keeps one copy
// of each inline function, and a copy compiled for AVX-512 would then run on every CPU. So they only
// hand back plain function pointers and context.cpp, compiled for the baseline, puts them in the table.
// A null pointer keeps the entry of the lower ISA.
#pragma once

#include <cstdint>

namespace pj {

// No default member initialisers: those would give it an inline constructor compiled per ISA.
// Create with `SimdKernels k{};` (zeroes every pointer).
struct SimdKernels {
  using Dot = float (*)(int64_t n, const void* x, const void* y);
  Dot q4_0_q8_0, q4_1_q8_1, q5_0_q8_0, q5_1_q8_1, q8_0_q8_0, f32, f16_f32, bf16;
  using Dot4 = void (*)(int64_t n, const void* x, size_t row_bytes, const void* y, float* out);
  Dot4 q4_1_q8_1_x4, q8_0_q8_0_x4, q4_0_q8_0_x4, q5_0_q8_0_x4;
  void (*rms_norm)(const float* x, const float* w, float* out, int64_t n, float eps);
  void (*softmax)(const float* x, float* out, int64_t n);
  void (*silu)(const float* x, float* out, int64_t n);
  // Activation quantizers (TypeTraits::from_float) and the ggml-order ops (OpsTable, kernel_table.h).
  void (*q8_0_act)(const float* x, void* y, int64_t n);
  void (*q8_1_act)(const float* x, void* y, int64_t n);
  void (*swiglu)(const float* g, const float* u, float* out, int64_t n);
  float (*attn_dot)(const float* q, const void* k, bool k_f16, int64_t n);
  void (*attn_dot16)(const float* q, const float* kt, int64_t n, float scale, float* out);
  void (*attn_kt16)(const void* k, bool k_f16, int64_t stride, int n_rows, int hd, float* kt);
  float (*max_f32)(const float* x, int64_t n);
  void (*f16_to_f32)(const uint16_t* x, float* out, int64_t n);
  void (*scale_f32)(float* x, int64_t n, float s, bool round_f16);
  double (*exp_sum)(const float* x, float* out, int64_t n, float max);
  void (*attn_accumulate)(const float* p, const void* v, bool v_f16, int64_t stride, int64_t first,
                          int64_t last, int hd, float* out);
};

SimdKernels simd_kernels_avx2();
SimdKernels simd_kernels_avx512(bool with_bf16);
SimdKernels simd_kernels_neon();  // dot_neon.cpp, AArch64 builds only

}  // namespace pj
