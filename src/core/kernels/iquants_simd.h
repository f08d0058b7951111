// Entry points of the per-ISA IQ/ternary/MXFP4 dot products (iquants_avx2.cpp, iquants_avx512.cpp, both
// built from iquants_simd.inc with their ISA's flags). Same rules as simd_kernels.h: these translation
// units hand back plain function pointers and use no inline function from a shared header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pj {

// No default member initialisers (see simd_kernels.h); create with `IquantDots k{};`. A null entry
// keeps the scalar reference.
struct IquantDots {
  using Dot = float (*)(int64_t n, const void* x, const void* y);
  Dot iq4_nl, mxfp4;                  // with a Q8_0 row y
  Dot iq4_xs, tq2_0, iq2_xxs, iq3_s;  // with a Q8_K row y
  Dot iq2_xs, iq2_s, iq3_xxs, iq1_s, iq1_m, tq1_0;
  // Tile kernels (TypeTraits::GemmFn, kernel_table.h), bit-identical to the dots above (x86 only).
  using Gemm = void (*)(int64_t n, const void* x, size_t x_stride, int64_t mr, const void* y, size_t y_stride,
                        int64_t nr, float* out, int64_t ldo);
  Gemm iq4_xs_gemm, iq2_xxs_gemm, iq2_xs_gemm, iq2_s_gemm, iq3_xxs_gemm, iq3_s_gemm;
};

IquantDots iquant_dots_avx2();
IquantDots iquant_dots_avx512();
IquantDots iquant_dots_neon();  // dot_neon.cpp, AArch64 builds only

}  // namespace pj
