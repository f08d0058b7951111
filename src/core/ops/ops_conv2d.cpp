#include "core/ops/ops_conv2d.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/base/error.h"
#include "core/kernels/matmul.h"

namespace pj::ops {

int conv_out_size(int in, int k, int stride, int pad_before, int pad_after, int dilation) {
  const int64_t span = int64_t(in) + pad_before + pad_after - int64_t(dilation) * (k - 1) - 1;
  if (stride <= 0 || span < 0) return 0;
  return int(span / stride + 1);
}

int same_padding(int in, int k, int stride, int dilation, int* out) {
  const int o = (in + stride - 1) / stride;
  const int total = std::max((o - 1) * stride + dilation * (k - 1) + 1 - in, 0);
  if (out) *out = o;
  return total / 2;
}

namespace {

void check_geom(const char* op, int h, int w, int c, const Conv2dGeom& g, int out_h, int out_w) {
  if (h <= 0 || w <= 0 || c <= 0 || out_h <= 0 || out_w <= 0 || g.kh <= 0 || g.kw <= 0 || g.stride_h <= 0 ||
      g.stride_w <= 0 || g.dilation_h <= 0 || g.dilation_w <= 0 || g.pad_top < 0 || g.pad_left < 0)
    fail("{}: bad shape (in {}x{}x{}, out {}x{}, kernel {}x{}, stride {}x{})", op, h, w, c, out_h, out_w, g.kh,
         g.kw, g.stride_h, g.stride_w);
}

inline float act_one(float v, Act a) {
  switch (a) {
    case Act::none: return v;
    case Act::relu: return v > 0 ? v : 0;
    case Act::relu6: return std::min(std::max(v, 0.0f), 6.0f);
    case Act::silu: return v / (1.0f + std::exp(-v));
  }
  return v;
}

}  // namespace

void apply_act(const KernelContext& ctx, float* x, int64_t n, Act act) {
  if (act == Act::none) return;
  if (act == Act::silu && ctx.ops().silu) {
    ctx.ops().silu(x, x, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) x[i] = act_one(x[i], act);
}

void conv2d(KernelContext& ctx, const float* x, int h, int w, int cin, GgmlType wtype, const void* weight,
            int cout, const float* bias, const Conv2dGeom& g, int out_h, int out_w, Act act, float* y) {
  check_geom("conv2d", h, w, cin, g, out_h, out_w);
  const int64_t cols = int64_t(g.kh) * g.kw * cin;
  const int64_t pixels = int64_t(out_h) * out_w;
  const bool pointwise = g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
                         g.pad_left == 0 && out_h == h && out_w == w;
  if (pointwise) {
    matmul(ctx, wtype, weight, cout, cols, x, pixels, y);
  } else {
    // im2col in chunks of output rows so that the patch matrix stays a few MiB.
    const int64_t rows_per_chunk = std::max<int64_t>(1, (int64_t(4) << 20) / std::max<int64_t>(1, cols * out_w));
    std::vector<float> patches(size_t(std::min<int64_t>(rows_per_chunk, out_h) * out_w * cols));
    for (int64_t oy0 = 0; oy0 < out_h; oy0 += rows_per_chunk) {
      const int64_t oy1 = std::min<int64_t>(out_h, oy0 + rows_per_chunk);
      const int64_t n = (oy1 - oy0) * out_w;
      ctx.pool().parallel_for(n, [&](int64_t b, int64_t e, int) {
        for (int64_t p = b; p < e; ++p) {
          const int64_t oy = oy0 + p / out_w, ox = p % out_w;
          float* dst = patches.data() + size_t(p * cols);
          for (int ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = oy * g.stride_h - g.pad_top + int64_t(ky) * g.dilation_h;
            for (int kx = 0; kx < g.kw; ++kx, dst += cin) {
              const int64_t ix = ox * g.stride_w - g.pad_left + int64_t(kx) * g.dilation_w;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                std::memset(dst, 0, sizeof(float) * size_t(cin));
              else
                std::memcpy(dst, x + (iy * w + ix) * cin, sizeof(float) * size_t(cin));
            }
          }
        }
      });
      matmul(ctx, wtype, weight, cout, cols, patches.data(), n, y + oy0 * out_w * cout);
    }
  }
  if (bias || act != Act::none) {
    ctx.pool().parallel_for(pixels, [&](int64_t b, int64_t e, int) {
      for (int64_t p = b; p < e; ++p) {
        float* row = y + p * cout;
        if (bias)
          for (int c = 0; c < cout; ++c) row[c] += bias[c];
        apply_act(ctx, row, cout, act);
      }
    });
  }
}

void depthwise_conv2d(ThreadPool& pool, const float* x, int h, int w, int c, int mult, const float* weight,
                      const float* bias, const Conv2dGeom& g, int out_h, int out_w, Act act, float* y) {
  check_geom("depthwise_conv2d", h, w, c, g, out_h, out_w);
  if (mult <= 0) fail("depthwise_conv2d: depth multiplier {}", mult);
  const int co = c * mult;
  pool.parallel_for(int64_t(out_h) * out_w, [&](int64_t b, int64_t e, int) {
    std::vector<float> acc(static_cast<size_t>(co));
    for (int64_t p = b; p < e; ++p) {
      const int64_t oy = p / out_w, ox = p % out_w;
      for (int k = 0; k < co; ++k) acc[size_t(k)] = bias ? bias[k] : 0.0f;
      for (int ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.stride_h - g.pad_top + int64_t(ky) * g.dilation_h;
        if (iy < 0 || iy >= h) continue;
        for (int kx = 0; kx < g.kw; ++kx) {
          const int64_t ix = ox * g.stride_w - g.pad_left + int64_t(kx) * g.dilation_w;
          if (ix < 0 || ix >= w) continue;
          const float* xi = x + (iy * w + ix) * c;
          const float* wk = weight + (int64_t(ky) * g.kw + kx) * co;
          if (mult == 1) {
            for (int k = 0; k < co; ++k) acc[size_t(k)] += xi[k] * wk[k];
          } else {
            for (int k = 0; k < co; ++k) acc[size_t(k)] += xi[k / mult] * wk[k];
          }
        }
      }
      float* out = y + p * co;
      for (int k = 0; k < co; ++k) out[k] = act_one(acc[size_t(k)], act);
    }
  });
}

void max_pool2d(ThreadPool& pool, const float* x, int h, int w, int c, const Conv2dGeom& g, int out_h,
                int out_w, float* y) {
  check_geom("max_pool2d", h, w, c, g, out_h, out_w);
  pool.parallel_for(int64_t(out_h) * out_w, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t oy = p / out_w, ox = p % out_w;
      float* out = y + p * c;
      std::fill(out, out + c, -std::numeric_limits<float>::infinity());
      for (int ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.stride_h - g.pad_top + int64_t(ky) * g.dilation_h;
        if (iy < 0 || iy >= h) continue;
        for (int kx = 0; kx < g.kw; ++kx) {
          const int64_t ix = ox * g.stride_w - g.pad_left + int64_t(kx) * g.dilation_w;
          if (ix < 0 || ix >= w) continue;
          const float* xi = x + (iy * w + ix) * c;
          for (int k = 0; k < c; ++k) out[k] = std::max(out[k], xi[k]);
        }
      }
    }
  });
}

void avg_pool2d(ThreadPool& pool, const float* x, int h, int w, int c, const Conv2dGeom& g, int out_h,
                int out_w, float* y) {
  check_geom("avg_pool2d", h, w, c, g, out_h, out_w);
  pool.parallel_for(int64_t(out_h) * out_w, [&](int64_t b, int64_t e, int) {
    std::vector<double> acc(static_cast<size_t>(c));
    for (int64_t p = b; p < e; ++p) {
      const int64_t oy = p / out_w, ox = p % out_w;
      std::fill(acc.begin(), acc.end(), 0.0);
      int count = 0;
      for (int ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy * g.stride_h - g.pad_top + int64_t(ky) * g.dilation_h;
        if (iy < 0 || iy >= h) continue;
        for (int kx = 0; kx < g.kw; ++kx) {
          const int64_t ix = ox * g.stride_w - g.pad_left + int64_t(kx) * g.dilation_w;
          if (ix < 0 || ix >= w) continue;
          const float* xi = x + (iy * w + ix) * c;
          for (int k = 0; k < c; ++k) acc[size_t(k)] += xi[k];
          ++count;
        }
      }
      float* out = y + p * c;
      for (int k = 0; k < c; ++k) out[k] = count ? float(acc[size_t(k)] / count) : 0.0f;
    }
  });
}

void upsample_nearest(const float* x, int h, int w, int c, int factor, float* y) {
  if (factor <= 0) fail("upsample_nearest: factor {}", factor);
  const int ow = w * factor;
  for (int oy = 0; oy < h * factor; ++oy)
    for (int ox = 0; ox < ow; ++ox)
      std::memcpy(y + (int64_t(oy) * ow + ox) * c, x + (int64_t(oy / factor) * w + ox / factor) * c,
                  sizeof(float) * size_t(c));
}

void concat_channels(const float* const* xs, const int* cs, int count, int64_t n, float* y) {
  int total = 0;
  for (int i = 0; i < count; ++i) total += cs[i];
  for (int64_t p = 0; p < n; ++p) {
    float* out = y + p * total;
    for (int i = 0; i < count; ++i) {
      std::memcpy(out, xs[i] + p * cs[i], sizeof(float) * size_t(cs[i]));
      out += cs[i];
    }
  }
}

}  // namespace pj::ops
