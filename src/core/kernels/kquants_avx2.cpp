// K-quant dot products for AVX2 (built with -mavx2 -mfma -mf16c; see kquants_simd.inc).
#include "core/kernels/kquants_simd.h"

#define PJ_KQ_NS kq_avx2
#include "core/kernels/kquants_simd.inc"

namespace pj {
KquantDots kquant_dots_avx2() { return kq_avx2::dots(); }
}  // namespace pj
