// The entry points of the per-ISA tile-product (GEMM) translation units, gemm_avx2.cpp and
// gemm_avx512.cpp. Same rules as simd_kernels.h: those files are compiled with -mavx2 / -mavx512*,
// include no std headers and only hand back plain function pointers; context.cpp puts them into
// TypeTraits::gemm. A null pointer keeps the entry of the lower ISA (or none: matmul then falls back
// to one vec_dot per output).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pj {

// No default member initialisers (see simd_kernels.h). Create with `GemmKernels k{};`.
struct GemmKernels {
  // TypeTraits::GemmFn (kernel_table.h).
  using Gemm = void (*)(int64_t n, const void* x, size_t x_stride, int64_t mr, const void* y, size_t y_stride,
                        int64_t nr, float* out, int64_t ldo);
  Gemm f32, f16_f32, q4_0_q8_0, q4_1_q8_1, q5_0_q8_0, q5_1_q8_1, q8_0_q8_0, iq4_nl_q8_0;
  // TypeTraits::vec_dot4 from a 4 x 1 tile, for types whose vec_dot lives in another file.
  using Dot4 = void (*)(int64_t n, const void* x, size_t row_bytes, const void* y, float* out);
  Dot4 iq4_nl_q8_0_x4;
};

GemmKernels gemm_kernels_avx2();
GemmKernels gemm_kernels_avx512();

}  // namespace pj
