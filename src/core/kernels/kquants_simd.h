// Entry points of the per-ISA K-quant dot products (kquants_avx2.cpp, kquants_avx512.cpp, both built
// from kquants_simd.inc with their ISA's flags). Same rules as simd_kernels.h: these translation
// units hand back plain function pointers and use no inline function from a shared header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pj {

// No default member initialisers (see simd_kernels.h); create with `KquantDots k{};`.
struct KquantDots {
  using Dot = float (*)(int64_t n, const void* x, const void* y);
  Dot q2_k, q3_k, q4_k, q5_k, q6_k;  // each with a Q8_K row y
  // Tile kernels (TypeTraits::GemmFn, kernel_table.h), bit-identical to the dots above.
  using Gemm = void (*)(int64_t n, const void* x, size_t x_stride, int64_t mr, const void* y, size_t y_stride,
                        int64_t nr, float* out, int64_t ldo);
  Gemm q4_k_gemm, q5_k_gemm, q6_k_gemm;
};

KquantDots kquant_dots_avx2();
KquantDots kquant_dots_avx512();
KquantDots kquant_dots_neon();  // dot_neon.cpp, AArch64 builds only

}  // namespace pj
