#include "core/kernels/matmul.h"

#include <algorithm>

#include "core/base/error.h"

namespace pj {
namespace {

struct Prepared {
  const uint8_t* w;
  size_t w_row;
  const uint8_t* act;  // n rows of vec_dot_type
  size_t a_row;
};

// Checks the shapes and converts x to the weight type's vec_dot_type (into the context's scratch).
// Returns false when there is nothing to compute.
bool prepare(KernelContext& ctx, GgmlType wtype, const void* w, int64_t rows, int64_t cols, const float* x,
             int64_t n, Prepared& p) {
  const TypeTraits& wt = ctx.traits(wtype);
  if (!wt.vec_dot) fail("matmul: {} is an activation type, not a weight type", ggml_type_info(wtype).name);
  check_row_length(wtype, cols, "matmul");
  if (rows < 0 || n < 0) fail("matmul: negative shape (rows {}, n {})", rows, n);
  if (rows == 0 || n == 0) return false;
  const TypeTraits& at = ctx.traits(wt.vec_dot_type);
  check_row_length(wt.vec_dot_type, cols, "matmul activations");

  p.w = static_cast<const uint8_t*>(w);
  p.w_row = ggml_row_size(wtype, uint64_t(cols));
  p.a_row = ggml_row_size(wt.vec_dot_type, uint64_t(cols));
  p.act = reinterpret_cast<const uint8_t*>(x);
  if (wt.vec_dot_type != GgmlType::F32) {
    uint8_t* q = ctx.scratch(p.a_row * size_t(n));
    const FromFloatFn quantize = at.from_float ? at.from_float : at.from_float_ref;
    const size_t a_row = p.a_row;
    ctx.pool().parallel_for(n, [&](int64_t b, int64_t e, int) {
      for (int64_t j = b; j < e; ++j) quantize(x + j * cols, q + size_t(j) * a_row, cols);
    });
    p.act = q;
  }
  return true;
}

void by_dots(KernelContext& ctx, const TypeTraits& wt, const Prepared& p, int64_t rows, int64_t cols, int64_t n,
             float* y) {
  const VecDotFn dot = wt.vec_dot;
  const VecDot4Fn dot4 = wt.vec_dot4;
  ctx.pool().parallel_for(rows, [&](int64_t begin, int64_t end, int) {
    // Tiles of rows so that a few weight rows stay in L1 while every activation vector passes.
    constexpr int64_t kTile = 4;
    for (int64_t r0 = begin; r0 < end; r0 += kTile) {
      const int64_t r1 = std::min(end, r0 + kTile);
      for (int64_t j = 0; j < n; ++j) {
        const uint8_t* a = p.act + size_t(j) * p.a_row;
        if (dot4 && r1 - r0 == 4) {
          float out[4];
          dot4(cols, p.w + size_t(r0) * p.w_row, p.w_row, a, out);
          for (int r = 0; r < 4; ++r) y[j * rows + r0 + r] = out[r];
          continue;
        }
        for (int64_t r = r0; r < r1; ++r) y[j * rows + r] = dot(cols, p.w + size_t(r) * p.w_row, a);
      }
    }
  });
}

// The tiled product. Each thread takes a range of the larger dimension (weight rows or activation
// rows); within it, activation rows go in blocks that fit in L2 (~192 KiB) and, for each block, the
// tile kernel walks panels of weight rows (kept in L1) across the block.
void by_tiles(KernelContext& ctx, const TypeTraits& wt, const Prepared& p, int64_t rows, int64_t cols, int64_t n,
              float* y) {
  const GemmFn gemm = wt.gemm;
  // Ranges are multiples of 12 (every micro-tile size divides it) so that only the ends have partial tiles.
  constexpr int64_t kUnit = 12;
  const int64_t block = std::max<int64_t>(kUnit, int64_t((size_t(192) << 10) / p.a_row) / kUnit * kUnit);
  auto run = [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
    for (int64_t jb = j0; jb < j1; jb += block) {
      const int64_t je = std::min(j1, jb + block);
      gemm(cols, p.w + size_t(r0) * p.w_row, p.w_row, r1 - r0, p.act + size_t(jb) * p.a_row, p.a_row, je - jb,
           y + jb * rows + r0, rows);
    }
  };
  if (rows >= n) {
    ctx.pool().parallel_for((rows + kUnit - 1) / kUnit, [&](int64_t b, int64_t e, int) {
      run(b * kUnit, std::min(rows, e * kUnit), 0, n);
    });
  } else {
    ctx.pool().parallel_for((n + kUnit - 1) / kUnit, [&](int64_t b, int64_t e, int) {
      run(0, rows, b * kUnit, std::min(n, e * kUnit));
    });
  }
}

}  // namespace

void matmul(KernelContext& ctx, GgmlType wtype, const void* w, int64_t rows, int64_t cols, const float* x,
            int64_t n, float* y) {
  Prepared p;
  if (!prepare(ctx, wtype, w, rows, cols, x, n, p)) return;
  const TypeTraits& wt = ctx.traits(wtype);
  // One activation row: the one-row dots (load-bound either way, and tuned for it).
  if (wt.gemm && n >= 2 && ctx.gemm_enabled()) by_tiles(ctx, wt, p, rows, cols, n, y);
  else by_dots(ctx, wt, p, rows, cols, n, y);
}

void matmul_by_dots(KernelContext& ctx, GgmlType wtype, const void* w, int64_t rows, int64_t cols, const float* x,
                    int64_t n, float* y) {
  Prepared p;
  if (!prepare(ctx, wtype, w, rows, cols, x, n, p)) return;
  by_dots(ctx, ctx.traits(wtype), p, rows, cols, n, y);
}

}  // namespace pj
