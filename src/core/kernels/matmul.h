// Matrix products with weights of any type in the kernel table and f32 activations.
#pragma once

#include <cstdint>

#include "core/kernels/context.h"

namespace pj {

// y = W x for n activation vectors at once.
//   w: (rows, cols) of wtype, row-major, ggml_row_size(wtype, cols) bytes per row
//   x: (n, cols) f32, n vectors of length cols, contiguous
//   y: (n, rows) f32
// x is converted to traits(wtype).vec_dot_type once (into the context's scratch). For n >= 2 and a
// type with a tile kernel (TypeTraits::gemm) the product is register-blocked (matmul.cpp, gemm_*.cpp),
// else one vec_dot per output; both give the same bits. The work is split over the context's thread
// pool. pj::Error if cols is not a multiple of the block size or wtype has no kernels.
void matmul(KernelContext& ctx, GgmlType wtype, const void* w, int64_t rows, int64_t cols, const float* x,
            int64_t n, float* y);

// The same product, always one vec_dot (or vec_dot4) per output: the reference the tile kernels are
// tested against and the peer the benchmarks compare them with.
void matmul_by_dots(KernelContext& ctx, GgmlType wtype, const void* w, int64_t rows, int64_t cols, const float* x,
                    int64_t n, float* y);

// n = 1.
inline void matvec(KernelContext& ctx, GgmlType wtype, const void* w, int64_t rows, int64_t cols,
                   const float* x, float* y) {
  matmul(ctx, wtype, w, rows, cols, x, 1, y);
}

}  // namespace pj
