// 1-D convolution (PyTorch Conv1d semantics: cross-correlation, zero padding) as im2col + matmul, so
// the weight may be any matmul type.
#pragma once

#include <cstdint>
#include <vector>

#include "core/base/ggml_types.h"

namespace pj {
class KernelContext;
}

namespace pj::ops {

struct Conv1dShape {
  int64_t in_ch = 0, out_ch = 0, kernel = 3, stride = 1, pad = 1;
  int64_t in_len = 0;
  int64_t out_len() const { return (in_len + 2 * pad - kernel) / stride + 1; }
};

// x: [in_len][in_ch] (time-major); w: (out_ch, in_ch * kernel) of wtype, row-major [out][in][k] as
// PyTorch stores it; bias: out_ch floats or nullptr; y: [out_len][out_ch].
// cols: scratch, resized to out_len * in_ch * kernel floats.
void conv1d(KernelContext& ctx, const Conv1dShape& s, const float* x, GgmlType wtype, const void* w,
            const float* bias, float* y, std::vector<float>& cols);

}  // namespace pj::ops
