// Drawing (rectangles, labels in a small bitmap font) and encoding (PNG via libpng, JPEG via libjpeg).
#include <cstdio>  // before jpeglib.h, which uses FILE

#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/image/image.h"

namespace pj::image {

namespace {

// Our own 5x7 glyphs for the characters labels need (digits, letters drawn upper-case, a little
// punctuation); each row is 5 bits, most significant bit on the left. Other characters draw as '?'.
struct Glyph {
  char c;
  uint8_t rows[7];
};
constexpr Glyph kGlyphs[] = {
    {' ', {0, 0, 0, 0, 0, 0, 0}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}},
    {',', {0, 0, 0, 0, 0x0C, 0x04, 0x08}},
    {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}},
    {'-', {0, 0, 0, 0x1F, 0, 0, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 0x1F}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'/', {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0}},
    {'\'', {0x0C, 0x04, 0x08, 0, 0, 0, 0}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04}},
};

const uint8_t* glyph(char c) {
  if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  for (const auto& g : kGlyphs)
    if (g.c == c) return g.rows;
  return glyph('?');
}

}  // namespace

void fill_rect(Image& img, int x0, int y0, int x1, int y1, Color c) {
  x0 = std::max(x0, 0), y0 = std::max(y0, 0);
  x1 = std::min(x1, img.width), y1 = std::min(y1, img.height);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = img.px(x, y);
      p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

void draw_rect(Image& img, int x0, int y0, int x1, int y1, Color c, int t) {
  if (x1 < x0) std::swap(x0, x1);
  if (y1 < y0) std::swap(y0, y1);
  fill_rect(img, x0, y0, x1, y0 + t, c);
  fill_rect(img, x0, y1 - t, x1, y1, c);
  fill_rect(img, x0, y0, x0 + t, y1, c);
  fill_rect(img, x1 - t, y0, x1, y1, c);
}

void draw_text(Image& img, int x, int y, const std::string& text, Color fg, Color bg, int scale) {
  scale = std::max(scale, 1);
  int cw = 6 * scale, h = 9 * scale;
  fill_rect(img, x, y, x + int(text.size()) * cw + scale, y + h, bg);
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* g = glyph(text[i]);
    int gx = x + int(i) * cw + scale, gy = y + scale;
    for (int r = 0; r < 7; ++r)
      for (int col = 0; col < 5; ++col)
        if (g[r] & (0x10 >> col))
          fill_rect(img, gx + col * scale, gy + r * scale, gx + (col + 1) * scale, gy + (r + 1) * scale, fg);
  }
}

Color palette(int i) {
  // Well-separated hues for boxes of different classes.
  static constexpr Color kColors[] = {{230, 25, 75},  {60, 180, 75},  {0, 130, 200},  {245, 130, 48},
                                      {145, 30, 180}, {70, 240, 240}, {240, 50, 230}, {210, 245, 60},
                                      {0, 128, 128},  {170, 110, 40}};
  return kColors[((i % 10) + 10) % 10];
}

namespace {
void png_write_mem(png_structp p, png_bytep data, png_size_t len) {
  auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
  v->insert(v->end(), data, data + len);
}
void png_flush_mem(png_structp) {}
void png_err(png_structp p, png_const_charp msg) { png_longjmp(p, 1); }
struct JpegErr {
  jpeg_error_mgr mgr;
  jmp_buf jmp;
};
void jpeg_err_exit(j_common_ptr c) { longjmp(reinterpret_cast<JpegErr*>(c->err)->jmp, 1); }
}  // namespace

std::vector<uint8_t> encode_png(const Image& img) {
  if (img.empty()) fail("image: cannot encode an empty image");
  auto out = std::make_unique<std::vector<uint8_t>>();
  auto rows = std::make_unique<std::vector<png_bytep>>(img.height);
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_err, nullptr);
  png_infop info = png_create_info_struct(p);
  if (setjmp(png_jmpbuf(p))) {
    png_destroy_write_struct(&p, &info);
    fail("image: PNG encoding failed");
  }
  png_set_write_fn(p, out.get(), png_write_mem, png_flush_mem);
  png_set_IHDR(p, info, img.width, img.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  for (int y = 0; y < img.height; ++y) (*rows)[y] = const_cast<uint8_t*>(img.px(0, y));
  png_set_rows(p, info, rows->data());
  png_write_png(p, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&p, &info);
  return std::move(*out);
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality) {
  if (img.empty()) fail("image: cannot encode an empty image");
  jpeg_compress_struct c;
  JpegErr err;
  c.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_err_exit;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  if (setjmp(err.jmp)) {
    jpeg_destroy_compress(&c);
    free(buf);
    fail("image: JPEG encoding failed");
  }
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = img.width;
  c.image_height = img.height;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, std::clamp(quality, 1, 100), TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = const_cast<uint8_t*>(img.px(0, int(c.next_scanline)));
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  jpeg_destroy_compress(&c);
  free(buf);
  return out;
}

void save(const Image& img, const std::string& path, int jpeg_quality) {
  std::string ext = path.substr(path.find_last_of('.') == std::string::npos ? path.size() : path.find_last_of('.'));
  for (auto& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  std::vector<uint8_t> bytes;
  if (ext == ".png") bytes = encode_png(img);
  else if (ext == ".jpg" || ext == ".jpeg") bytes = encode_jpeg(img, jpeg_quality);
  else fail("image: {}: cannot tell the output format (use .png, .jpg or .jpeg)", path);
  AtomicFileWriter w(path);
  w.write(bytes.data(), bytes.size());
  w.commit();
}

}  // namespace pj::image
