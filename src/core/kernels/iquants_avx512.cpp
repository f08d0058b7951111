// IQ/ternary/MXFP4 dot products for AVX-512 (built with the AVX-512 flags of dot_avx512.cpp, so the
// u8 x s8 products use AVX512-VNNI dpbusd on 256-bit vectors; see iquants_simd.inc).
#define PJ_IQ_NS iq_avx512
#include "core/kernels/iquants_simd.inc"

namespace pj {
IquantDots iquant_dots_avx512() { return iq_avx512::dots(); }
}  // namespace pj
