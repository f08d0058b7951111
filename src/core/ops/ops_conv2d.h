// Convolutional-network ops on NHWC float tensors (image row-major, channels innermost), for the vision
// models (YOLOv8, MobileNet). Shapes are given per call; one image at a time.
//   conv2d: im2col + the kernels' matmul (weights of any type with kernels; OHWI layout, i.e. each
//           output channel's row is (KH, KW, Cin) so that it dots with one im2col row)
//   depthwise_conv2d, max_pool2d, avg_pool2d, upsample_nearest, concat_channels, split_channels
// Padding is explicit (top/left; the output size fixes the rest): SAME/VALID and PyTorch's symmetric
// padding are computed by the callers with conv_out_size / same_padding.
#pragma once

#include <cstdint>

#include "core/base/ggml_types.h"
#include "core/kernels/context.h"

namespace pj::ops {

enum class Act { none, relu, relu6, silu };

struct Conv2dGeom {
  int kh = 1, kw = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0;
  int dilation_h = 1, dilation_w = 1;
};

// PyTorch: floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1.
int conv_out_size(int in, int k, int stride, int pad_before, int pad_after, int dilation = 1);
// TensorFlow SAME: out = ceil(in / stride); total padding max((out - 1) stride + dilation (k - 1) + 1 - in, 0),
// the smaller half before. Returns the padding before.
int same_padding(int in, int k, int stride, int dilation, int* out);

// y (Ho, Wo, Cout) = act(conv(x (H, W, Cin), w) + bias). w: (Cout, KH*KW*Cin) rows of wtype;
// bias: Cout floats or nullptr. KH*KW*Cin must be a multiple of wtype's block size.
void conv2d(KernelContext& ctx, const float* x, int h, int w, int cin, GgmlType wtype, const void* weight,
            int cout, const float* bias, const Conv2dGeom& g, int out_h, int out_w, Act act, float* y);

// Depthwise (groups = channels, multiplier `mult`): output channel c*mult + m reads input channel c.
// weight: (KH, KW, C*mult) f32 (TFLite's layout); bias: C*mult floats or nullptr.
void depthwise_conv2d(ThreadPool& pool, const float* x, int h, int w, int c, int mult, const float* weight,
                      const float* bias, const Conv2dGeom& g, int out_h, int out_w, Act act, float* y);

// Max over the window; padded positions are ignored (as PyTorch's -inf padding).
void max_pool2d(ThreadPool& pool, const float* x, int h, int w, int c, const Conv2dGeom& g, int out_h,
                int out_w, float* y);
// Mean over the window's positions inside the image (TFLite's AVERAGE_POOL_2D; count_include_pad=False).
void avg_pool2d(ThreadPool& pool, const float* x, int h, int w, int c, const Conv2dGeom& g, int out_h,
                int out_w, float* y);

// Nearest-neighbour upsampling by an integer factor: y (h*f, w*f, c).
void upsample_nearest(const float* x, int h, int w, int c, int factor, float* y);

// y (n, sum c_i) = the inputs (n, c_i) side by side along channels.
void concat_channels(const float* const* xs, const int* cs, int count, int64_t n, float* y);

// In place activation over n values.
void apply_act(const KernelContext& ctx, float* x, int64_t n, Act act);

}  // namespace pj::ops
