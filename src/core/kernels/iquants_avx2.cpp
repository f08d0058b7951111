// IQ/ternary/MXFP4 dot products for AVX2 (built with -mavx2 -mfma -mf16c; see iquants_simd.inc).
#define PJ_IQ_NS iq_avx2
#include "core/kernels/iquants_simd.inc"

namespace pj {
IquantDots iquant_dots_avx2() { return iq_avx2::dots(); }
}  // namespace pj
