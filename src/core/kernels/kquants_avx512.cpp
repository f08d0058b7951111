// K-quant dot products for AVX-512 (built with the AVX-512 flags of dot_avx512.cpp; uses the VNNI
// dot-product instruction on 256-bit registers; see kquants_simd.inc).
#include "core/kernels/kquants_simd.h"

#define PJ_KQ_NS kq_avx512
#include "core/kernels/kquants_simd.inc"

namespace pj {
KquantDots kquant_dots_avx512() { return kq_avx512::dots(); }
}  // namespace pj
