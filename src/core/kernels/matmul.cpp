#include "core/kernels/matmul.h"

#include <algorithm>

#include "core/base/error.h"

namespace pj {

void matmul(KernelContext& ctx, GgmlType wtype, const void* w, int64_t rows, int64_t cols, const float* x,
            int64_t n, float* y) {
  const TypeTraits& wt = ctx.traits(wtype);
  if (!wt.vec_dot) fail("matmul: {} is an activation type, not a weight type", ggml_type_info(wtype).name);
  check_row_length(wtype, cols, "matmul");
  if (rows < 0 || n < 0) fail("matmul: negative shape (rows {}, n {})", rows, n);
  if (rows == 0 || n == 0) return;
  const TypeTraits& at = ctx.traits(wt.vec_dot_type);
  check_row_length(wt.vec_dot_type, cols, "matmul activations");

  const size_t w_row = ggml_row_size(wtype, uint64_t(cols));
  const size_t a_row = ggml_row_size(wt.vec_dot_type, uint64_t(cols));
  const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
  if (wt.vec_dot_type != GgmlType::F32) {
    uint8_t* q = ctx.scratch(a_row * size_t(n));
    const FromFloatFn quantize = at.from_float ? at.from_float : at.from_float_ref;
    ctx.pool().parallel_for(n, [&](int64_t b, int64_t e, int) {
      for (int64_t j = b; j < e; ++j) quantize(x + j * cols, q + size_t(j) * a_row, cols);
    });
    act = q;
  }

  const auto* wb = static_cast<const uint8_t*>(w);
  const VecDotFn dot = wt.vec_dot;
  const VecDot4Fn dot4 = wt.vec_dot4;
  ctx.pool().parallel_for(rows, [&](int64_t begin, int64_t end, int) {
    // Tiles of rows so that a few weight rows stay in L1 while every activation vector passes.
    constexpr int64_t kTile = 4;
    for (int64_t r0 = begin; r0 < end; r0 += kTile) {
      const int64_t r1 = std::min(end, r0 + kTile);
      for (int64_t j = 0; j < n; ++j) {
        const uint8_t* a = act + size_t(j) * a_row;
        if (dot4 && r1 - r0 == 4) {
          float out[4];
          dot4(cols, wb + size_t(r0) * w_row, w_row, a, out);
          for (int r = 0; r < 4; ++r) y[j * rows + r0 + r] = out[r];
          continue;
        }
        for (int64_t r = r0; r < r1; ++r) y[j * rows + r] = dot(cols, wb + size_t(r) * w_row, a);
      }
    }
  });
}

}  // namespace pj
