#include "core/ops/conv1d.h"

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/kernels/matmul.h"

namespace pj::ops {

void conv1d(KernelContext& ctx, const Conv1dShape& s, const float* x, GgmlType wtype, const void* w,
            const float* bias, float* y, std::vector<float>& cols) {
  if (s.in_ch <= 0 || s.out_ch <= 0 || s.kernel <= 0 || s.stride <= 0 || s.pad < 0 || s.in_len <= 0)
    fail("conv1d: bad shape (in {}, out {}, kernel {}, stride {}, pad {}, length {})", s.in_ch, s.out_ch,
         s.kernel, s.stride, s.pad, s.in_len);
  const int64_t out_len = s.out_len();
  if (out_len <= 0) fail("conv1d: input of length {} is shorter than the kernel", s.in_len);
  const int64_t kc = s.in_ch * s.kernel;
  cols.assign(size_t(out_len * kc), 0.0f);
  // cols[t][c * kernel + k] = x[t * stride + k - pad][c]
  ctx.pool().parallel_for(out_len, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      float* row = cols.data() + t * kc;
      for (int64_t k = 0; k < s.kernel; ++k) {
        const int64_t src = t * s.stride + k - s.pad;
        if (src < 0 || src >= s.in_len) continue;
        const float* xs = x + src * s.in_ch;
        for (int64_t c = 0; c < s.in_ch; ++c) row[c * s.kernel + k] = xs[c];
      }
    }
  });
  matmul(ctx, wtype, w, s.out_ch, kc, cols.data(), out_len, y);
  if (bias) {
    for (int64_t t = 0; t < out_len; ++t)
      for (int64_t o = 0; o < s.out_ch; ++o) y[t * s.out_ch + o] += bias[o];
  }
}

}  // namespace pj::ops
