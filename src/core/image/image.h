// Images: decoding (JPEG with EXIF orientation, PNG, BMP, WebP, GIF first frame) through Debian's image
// libraries, PIL-compatible resampling, crops, letterboxing, pixel tensors and simple drawing/encoding.
// Every image is 8-bit RGB, interleaved, row-major: pixel (x, y) channel c is at (y * width + x) * 3 + c.
// Decoding errors are pj::Error naming the file and the problem ("image: cat.jpg: truncated JPEG ...").
//
// Stable API (used by the ViT/CLIP code and by the YOLO/TFLite code in src/models/vision).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pj::image {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // (height, width, 3)

  Image() = default;
  Image(int w, int h, uint8_t fill = 0);
  bool empty() const { return width == 0 || height == 0; }
  uint8_t* px(int x, int y) { return rgb.data() + (size_t(y) * width + x) * 3; }
  const uint8_t* px(int x, int y) const { return rgb.data() + (size_t(y) * width + x) * 3; }
};

enum class Format { unknown, jpeg, png, bmp, webp, gif };
const char* format_name(Format f);
// By magic bytes.
Format detect_format(const uint8_t* data, size_t n);

// Images larger than this many pixels (either side > 32768 or area > 2^28) are refused before decoding.
inline constexpr int64_t kMaxSide = 32768;
inline constexpr int64_t kMaxPixels = int64_t(1) << 28;

// Decodes to RGB8. Grey, palette, alpha (dropped, as PIL's convert("RGB")), 16-bit and CMYK inputs are
// converted. A JPEG's EXIF orientation is applied (as PIL's ImageOps.exif_transpose) unless
// apply_exif is false. `name` only appears in error messages.
Image decode(const uint8_t* data, size_t n, const std::string& name, bool apply_exif = true);
Image load(const std::string& path, bool apply_exif = true);

// The EXIF orientation tag (1..8) of a JPEG, 1 when there is none or it is unreadable.
int jpeg_exif_orientation(const uint8_t* data, size_t n);
// Applies EXIF orientation 1..8 (2: mirror, 3: rotate 180, 6: rotate 90 clockwise, ...).
Image apply_orientation(const Image& img, int orientation);

// Resampling filters. bilinear/bicubic follow PIL's Image.resize (support scaled by the downscale
// factor, i.e. antialiased, 8-bit fixed-point coefficients, rounding after each pass) so results equal
// PIL's to the last bit or within 1. bilinear_cv follows OpenCV's INTER_LINEAR (no antialiasing,
// half-pixel centres), which YOLO's letterbox uses. nearest: PIL's NEAREST.
enum class Filter { nearest, bilinear, bicubic, bilinear_cv };
Image resize(const Image& src, int width, int height, Filter filter);

// The box [x, x + w) x [y, y + h); parts outside the image are filled with 0 (as PIL's crop).
Image crop(const Image& src, int x, int y, int w, int h);
// transformers' center_crop: top = (H - h) / 2, left = (W - w) / 2 (integer division, zero padding
// when the image is smaller).
Image center_crop(const Image& src, int w, int h);
// Resizes so that the shorter side becomes `size` (the longer one rounded as transformers'
// get_resize_output_image_size: int(size * long / short)).
Image resize_shortest_edge(const Image& src, int size, Filter filter);

// YOLO (ultralytics LetterBox, auto=False, scaleup=True, center=True): scale r = min(S/h, S/w), resize to
// (round(w r), round(h r)) with bilinear_cv, pad with `fill` to S x S, left/top = round(pad/2 - 0.1).
struct Letterbox {
  Image image;       // size x size
  float scale = 1;   // r
  int pad_x = 0, pad_y = 0;  // left, top padding in pixels
  // Maps a point of the letterboxed image back to the original image (not clamped).
  float to_src_x(float x) const { return (x - pad_x) / scale; }
  float to_src_y(float y) const { return (y - pad_y) / scale; }
};
Letterbox letterbox(const Image& src, int size = 640, uint8_t fill = 114);

// Pixel tensor (3, H, W) float: (v * rescale - mean[c]) / std[c].
std::vector<float> to_chw(const Image& img, const std::array<float, 3>& mean, const std::array<float, 3>& std,
                          float rescale = 1.0f / 255.0f);

// Drawing (clipped to the image): a rectangle outline of `thickness` pixels, and text in a built-in
// 5x7 bitmap font (ASCII 32..126, others drawn as '?') scaled by `scale`, on a filled background box.
struct Color { uint8_t r = 255, g = 0, b = 0; };
void draw_rect(Image& img, int x0, int y0, int x1, int y1, Color c, int thickness = 2);
void fill_rect(Image& img, int x0, int y0, int x1, int y1, Color c);
void draw_text(Image& img, int x, int y, const std::string& text, Color fg, Color bg, int scale = 2);
// A palette colour for class/box index i.
Color palette(int i);

// Encoders; written atomically (temporary file + rename). Format from the extension: .png, .jpg/.jpeg.
void save(const Image& img, const std::string& path, int jpeg_quality = 90);
std::vector<uint8_t> encode_png(const Image& img);
std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 90);

}  // namespace pj::image
