// Resampling as PIL does it (Pillow's libImaging/Resample.c, read for the algorithm: separable
// convolution, support scaled by the downscale factor, coefficients normalised then turned into 22-bit
// fixed point, +1/2 rounding and clipping to 8 bits after each pass, pass order as Pillow 13 picks it), OpenCV's
// INTER_LINEAR for uint8 (11-bit coefficients, the vertical pass's >>4, >>16, +2 >>2 rounding), crops,
// letterbox and pixel tensors.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/error.h"
#include "core/image/image.h"

namespace pj::image {

namespace {

double filter_bilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}
double filter_bicubic(double x) {
  constexpr double a = -0.5;  // PIL's bicubic
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

constexpr int kPrecisionBits = 32 - 8 - 2;

// For each output pixel: first input index, count, and fixed-point weights (ksize per pixel).
struct Coeffs {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;
};

Coeffs precompute(int in_size, int out_size, double (*filter)(double), double support0) {
  double scale = double(in_size) / out_size;
  double fscale = std::max(scale, 1.0);
  double support = support0 * fscale;
  Coeffs c;
  c.ksize = int(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(size_t(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    double center = (xx + 0.5) * scale;
    double ss = 1.0 / fscale;
    int xmin = std::max(int(center - support + 0.5), 0);
    int xmax = std::min(int(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = filter((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      double v = ww != 0.0 ? w[x] / ww : w[x];
      c.k[size_t(xx) * c.ksize + x] =
          int32_t(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

Image resample_horizontal(const Image& in, int out_w, const Coeffs& c) {
  Image out(out_w, in.height);
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* row = in.px(0, y);
    uint8_t* o = out.px(0, y);
    for (int xx = 0; xx < out_w; ++xx) {
      const int32_t* k = &c.k[size_t(xx) * c.ksize];
      int32_t s[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
      const uint8_t* p = row + size_t(c.first[xx]) * 3;
      for (int x = 0; x < c.count[xx]; ++x)
        for (int ch = 0; ch < 3; ++ch) s[ch] += p[x * 3 + ch] * k[x];
      for (int ch = 0; ch < 3; ++ch) o[xx * 3 + ch] = clip8(s[ch]);
    }
  }
  return out;
}

Image resample_vertical(const Image& in, int out_h, const Coeffs& c) {
  Image out(in.width, out_h);
  size_t stride = size_t(in.width) * 3;
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = &c.k[size_t(yy) * c.ksize];
    uint8_t* o = out.px(0, yy);
    for (size_t i = 0; i < stride; ++i) {
      int32_t s = 1 << (kPrecisionBits - 1);
      const uint8_t* p = in.rgb.data() + size_t(c.first[yy]) * stride + i;
      for (int y = 0; y < c.count[yy]; ++y) s += p[y * stride] * k[y];
      o[i] = clip8(s);
    }
  }
  return out;
}

Image resize_pil(const Image& src, int w, int h, double (*filter)(double), double support) {
  // Pillow (>= 11) runs the vertical pass first when the height shrinks by more than twice as many pixels
  // as the width does; otherwise horizontal first. The order changes results by a level or more,
  // because each pass rounds to 8 bits.
  Image cur = src;
  int dy = src.height - h, dx = src.width - w;
  bool vertical_first = dy > 0 && dy > dx * 2;
  if (vertical_first) cur = resample_vertical(cur, h, precompute(src.height, h, filter, support));
  if (w != src.width) cur = resample_horizontal(cur, w, precompute(src.width, w, filter, support));
  if (!vertical_first && h != src.height) cur = resample_vertical(cur, h, precompute(src.height, h, filter, support));
  return cur;
}

// PIL's NEAREST (ImagingScaleAffine): the source coordinate is accumulated, x_k = 0.5 s + k s, in double
// and truncated; accumulating (not multiplying) matters for bit-equality at some sizes.
Image resize_nearest(const Image& src, int w, int h) {
  Image out(w, h);
  double sx = double(src.width) / w, sy = double(src.height) / h;
  std::vector<int> xin(w);
  double xo = sx * 0.5;
  for (int x = 0; x < w; ++x, xo += sx) xin[x] = std::min(int(xo), src.width - 1);
  double yo = sy * 0.5;
  for (int y = 0; y < h; ++y, yo += sy) {
    int iy = std::min(int(yo), src.height - 1);
    for (int x = 0; x < w; ++x) std::memcpy(out.px(x, y), src.px(xin[x], iy), 3);
  }
  return out;
}

// OpenCV INTER_LINEAR on 8-bit images: per axis a source index and two 11-bit weights.
void cv_linear_coeffs(int in_size, int out_size, std::vector<int>& idx, std::vector<int16_t>& a) {
  constexpr int kScale = 1 << 11;
  double scale = double(in_size) / out_size;
  idx.resize(out_size);
  a.resize(size_t(out_size) * 2);
  for (int d = 0; d < out_size; ++d) {
    float f = float((d + 0.5) * scale - 0.5);
    int s = int(std::floor(f));
    f -= float(s);
    if (s < 0) f = 0, s = 0;
    if (s >= in_size - 1) f = 0, s = in_size - 1;
    int16_t a0 = int16_t(std::lrint((1.f - f) * kScale));
    idx[d] = s;
    a[d * 2] = a0;
    a[d * 2 + 1] = int16_t(kScale - a0);
  }
}

Image resize_cv_linear(const Image& src, int w, int h) {
  std::vector<int> xi, yi;
  std::vector<int16_t> xa, ya;
  cv_linear_coeffs(src.width, w, xi, xa);
  cv_linear_coeffs(src.height, h, yi, ya);
  // Horizontal pass on every source row: values scaled by 2^11.
  std::vector<int32_t> hr(size_t(src.height) * w * 3);
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < w; ++x) {
      const uint8_t* p0 = src.px(xi[x], y);
      const uint8_t* p1 = src.px(std::min(xi[x] + 1, src.width - 1), y);
      for (int ch = 0; ch < 3; ++ch)
        hr[(size_t(y) * w + x) * 3 + ch] = p0[ch] * xa[x * 2] + p1[ch] * xa[x * 2 + 1];
    }
  Image out(w, h);
  for (int y = 0; y < h; ++y) {
    const int32_t* r0 = &hr[size_t(yi[y]) * w * 3];
    const int32_t* r1 = &hr[size_t(std::min(yi[y] + 1, src.height - 1)) * w * 3];
    int b0 = ya[y * 2], b1 = ya[y * 2 + 1];
    uint8_t* o = out.px(0, y);
    for (int i = 0; i < w * 3; ++i) {
      int v = (((b0 * (r0[i] >> 4)) >> 16) + ((b1 * (r1[i] >> 4)) >> 16) + 2) >> 2;
      o[i] = uint8_t(std::clamp(v, 0, 255));
    }
  }
  return out;
}

}  // namespace

Image resize(const Image& src, int w, int h, Filter filter) {
  if (src.empty()) fail("image: resize of an empty image");
  if (w <= 0 || h <= 0 || w > kMaxSide || h > kMaxSide || int64_t(w) * h > kMaxPixels)
    fail("image: resize to an invalid size {}x{}", w, h);
  if (w == src.width && h == src.height) return src;
  switch (filter) {
    case Filter::nearest: return resize_nearest(src, w, h);
    case Filter::bilinear: return resize_pil(src, w, h, filter_bilinear, 1.0);
    case Filter::bicubic: return resize_pil(src, w, h, filter_bicubic, 2.0);
    case Filter::bilinear_cv: return resize_cv_linear(src, w, h);
  }
  return src;
}

Image crop(const Image& src, int x, int y, int w, int h) {
  if (w <= 0 || h <= 0 || int64_t(w) * h > kMaxPixels) fail("image: crop to an invalid size {}x{}", w, h);
  Image out(w, h, 0);
  for (int yy = 0; yy < h; ++yy) {
    int sy = y + yy;
    if (sy < 0 || sy >= src.height) continue;
    int x0 = std::max(0, -x), x1 = std::min(w, src.width - x);
    if (x1 > x0) std::memcpy(out.px(x0, yy), src.px(x + x0, sy), size_t(x1 - x0) * 3);
  }
  return out;
}

Image center_crop(const Image& src, int w, int h) {
  // transformers.image_transforms.center_crop: top = (H - h) // 2 (floor division, also when negative).
  auto floordiv2 = [](int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  return crop(src, floordiv2(src.width - w), floordiv2(src.height - h), w, h);
}

Image resize_shortest_edge(const Image& src, int size, Filter filter) {
  if (src.empty()) fail("image: resize of an empty image");
  bool wide = src.width >= src.height;
  int s = wide ? src.height : src.width, l = wide ? src.width : src.height;
  int new_l = int(int64_t(size) * l / s);  // int(size * long / short), as transformers
  return wide ? resize(src, new_l, size, filter) : resize(src, size, new_l, filter);
}

Letterbox letterbox(const Image& src, int size, uint8_t fill) {
  if (src.empty()) fail("image: letterbox of an empty image");
  Letterbox lb;
  double r = std::min(double(size) / src.height, double(size) / src.width);
  // Python's round() (half to even), as ultralytics.
  int nw = int(std::nearbyint(src.width * r)), nh = int(std::nearbyint(src.height * r));
  nw = std::clamp(nw, 1, size), nh = std::clamp(nh, 1, size);
  Image scaled = (nw == src.width && nh == src.height) ? src : resize(src, nw, nh, Filter::bilinear_cv);
  double dw = (size - nw) / 2.0, dh = (size - nh) / 2.0;
  lb.pad_x = int(std::nearbyint(dw - 0.1));
  lb.pad_y = int(std::nearbyint(dh - 0.1));
  lb.scale = float(r);
  lb.image = Image(size, size, fill);
  for (int y = 0; y < nh; ++y) std::memcpy(lb.image.px(lb.pad_x, lb.pad_y + y), scaled.px(0, y), size_t(nw) * 3);
  return lb;
}

std::vector<float> to_chw(const Image& img, const std::array<float, 3>& mean, const std::array<float, 3>& std,
                          float rescale) {
  size_t plane = size_t(img.width) * img.height;
  std::vector<float> out(plane * 3);
  for (int c = 0; c < 3; ++c) {
    // transformers rescales (v * scale) then normalises ((x - mean) / std), in float32.
    for (size_t i = 0; i < plane; ++i) out[c * plane + i] = (float(img.rgb[i * 3 + c]) * rescale - mean[c]) / std[c];
  }
  return out;
}

}  // namespace pj::image
