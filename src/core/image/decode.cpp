// Decoding: libjpeg-turbo, libpng, libwebp, giflib, and our own BMP reader; EXIF orientation.
#include <cstdio>  // before jpeglib.h, which uses FILE

#include <gif_lib.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>

#include <csetjmp>
#include <cstring>
#include <memory>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/image/image.h"

namespace pj::image {

Image::Image(int w, int h, uint8_t fill) : width(w), height(h), rgb(size_t(w) * size_t(h) * 3, fill) {}

const char* format_name(Format f) {
  switch (f) {
    case Format::jpeg: return "JPEG";
    case Format::png: return "PNG";
    case Format::bmp: return "BMP";
    case Format::webp: return "WebP";
    case Format::gif: return "GIF";
    default: return "unknown";
  }
}

Format detect_format(const uint8_t* d, size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return Format::jpeg;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return Format::png;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return Format::bmp;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) return Format::webp;
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return Format::gif;
  return Format::unknown;
}

namespace {

void check_size(int64_t w, int64_t h, const std::string& name, const char* fmt) {
  if (w <= 0 || h <= 0) fail("image: {}: {} has an invalid size {}x{}", name, fmt, w, h);
  if (w > kMaxSide || h > kMaxSide || w * h > kMaxPixels)
    fail("image: {}: {} of {}x{} pixels is larger than the limit ({} per side, {} pixels)", name, fmt, w, h,
         kMaxSide, kMaxPixels);
}

// ---- JPEG ----
struct JpegErr {
  jpeg_error_mgr mgr;
  jmp_buf jmp;
  char msg[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegErr*>(c->err);
  (*c->err->format_message)(c, e->msg);
  longjmp(e->jmp, 1);
}

// A file cut short decodes as grey in libjpeg (a warning only); we make it an error.
void jpeg_emit(j_common_ptr c, int level) {
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) jpeg_error_exit(c);
}

Image decode_jpeg(const uint8_t* data, size_t n, const std::string& name) {
  jpeg_decompress_struct cinfo;
  JpegErr err;
  err.msg[0] = 0;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_emit;
  // Everything that must be released lives outside the setjmp scope's locals (no destructors skipped).
  auto img = std::make_unique<Image>();
  std::vector<uint8_t> row;
  if (setjmp(err.jmp)) {
    jpeg_destroy_decompress(&cinfo);
    fail("image: {}: corrupt or truncated JPEG ({})", name, err.msg);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(n));
  jpeg_read_header(&cinfo, TRUE);
  bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  // PIL's JPEG decoder uses libjpeg's default (islow) DCT and fancy upsampling; so do we.
  jpeg_start_decompress(&cinfo);
  if (int64_t(cinfo.output_width) > kMaxSide || int64_t(cinfo.output_height) > kMaxSide ||
      int64_t(cinfo.output_width) * cinfo.output_height > kMaxPixels) {
    jpeg_destroy_decompress(&cinfo);
    check_size(cinfo.output_width, cinfo.output_height, name, "JPEG");
  }
  img->width = int(cinfo.output_width);
  img->height = int(cinfo.output_height);
  img->rgb.resize(size_t(img->width) * img->height * 3);
  row.resize(size_t(img->width) * cinfo.output_components);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW r = row.data();
    size_t y = cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &r, 1);
    uint8_t* out = img->rgb.data() + y * img->width * 3;
    if (cmyk) {
      // Adobe CMYK JPEGs store inverted values (as PIL assumes): R = C' K' / 255.
      for (int x = 0; x < img->width; ++x) {
        const uint8_t* p = row.data() + x * 4;
        for (int c = 0; c < 3; ++c) out[x * 3 + c] = uint8_t((p[c] * p[3] + 127) / 255);
      }
    } else {
      std::memcpy(out, row.data(), size_t(img->width) * 3);
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return std::move(*img);
}

// ---- PNG ----
struct PngReader {
  const uint8_t* data;
  size_t n, pos;
  std::string err;
};

void png_read_mem(png_structp p, png_bytep out, png_size_t len) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(p));
  if (len > r->n - r->pos) png_error(p, "unexpected end of file (truncated)");
  std::memcpy(out, r->data + r->pos, len);
  r->pos += len;
}
void png_err_fn(png_structp p, png_const_charp msg) {
  auto* r = static_cast<PngReader*>(png_get_error_ptr(p));
  r->err = msg;
  png_longjmp(p, 1);
}
void png_warn_fn(png_structp, png_const_charp) {}

Image decode_png(const uint8_t* data, size_t n, const std::string& name) {
  PngReader rd{data, n, 0, {}};
  png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &rd, png_err_fn, png_warn_fn);
  if (!p) fail("image: {}: out of memory for the PNG reader", name);
  png_infop info = png_create_info_struct(p);
  auto img = std::make_unique<Image>();
  auto rows = std::make_unique<std::vector<png_bytep>>();
  if (setjmp(png_jmpbuf(p))) {
    png_destroy_read_struct(&p, &info, nullptr);
    fail("image: {}: corrupt or truncated PNG ({})", name, rd.err);
  }
  png_set_read_fn(p, &rd, png_read_mem);
  png_set_user_limits(p, kMaxSide, kMaxSide);
  png_read_info(p, info);
  png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
  if (int64_t(w) * h > kMaxPixels) {
    png_destroy_read_struct(&p, &info, nullptr);
    check_size(w, h, name, "PNG");
  }
  int ct = png_get_color_type(p, info);
  png_set_strip_16(p);  // high byte, as PIL's conversion of 16-bit data
  png_set_packing(p);
  if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p);
  if (ct == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(p, info) < 8) png_set_expand_gray_1_2_4_to_8(p);
  if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(p);
  png_set_strip_alpha(p);  // PIL's convert("RGB") drops alpha without compositing
  png_set_interlace_handling(p);
  png_read_update_info(p, info);
  if (png_get_rowbytes(p, info) != size_t(w) * 3) png_error(p, "unexpected row layout after conversion");
  img->width = int(w);
  img->height = int(h);
  img->rgb.resize(size_t(w) * h * 3);
  rows->resize(h);
  for (png_uint_32 y = 0; y < h; ++y) (*rows)[y] = img->rgb.data() + size_t(y) * w * 3;
  png_read_image(p, rows->data());
  png_read_end(p, nullptr);
  png_destroy_read_struct(&p, &info, nullptr);
  return std::move(*img);
}

// ---- BMP (Windows bitmap: core/info/V4/V5 headers, 1/4/8-bit palette, 16/24/32-bit, bit fields) ----
uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }
uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

// Extracts a channel described by a bit mask and scales it to 0..255.
struct MaskField {
  uint32_t mask = 0;
  int shift = 0, bits = 0;
  explicit MaskField(uint32_t m) : mask(m) {
    if (!m) return;
    while (!((m >> shift) & 1)) ++shift;
    while (bits < 32 - shift && ((m >> (shift + bits)) & 1)) ++bits;
  }
  uint8_t get(uint32_t v) const {
    if (!bits) return 0;
    uint32_t x = (v & mask) >> shift;
    uint32_t maxv = bits >= 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
    return uint8_t((uint64_t(x) * 255 + maxv / 2) / maxv);
  }
};

Image decode_bmp(const uint8_t* d, size_t n, const std::string& name) {
  if (n < 26) fail("image: {}: truncated BMP header ({} bytes)", name, n);
  uint32_t off = le32(d + 10), hsize = le32(d + 14);
  int64_t w, h;
  int bpp;
  uint32_t comp = 0, ncolors = 0;
  size_t pal_entry = 4;
  if (hsize == 12) {
    w = le16(d + 18);
    h = int16_t(le16(d + 20));
    bpp = le16(d + 24);
    pal_entry = 3;
  } else if (hsize >= 40) {
    if (n < 14 + 40) fail("image: {}: truncated BMP header ({} bytes)", name, n);
    w = int32_t(le32(d + 18));
    h = int32_t(le32(d + 22));
    bpp = le16(d + 28);
    comp = le32(d + 30);
    ncolors = le32(d + 46);
  } else {
    fail("image: {}: unsupported BMP header size {}", name, hsize);
  }
  bool top_down = h < 0;
  if (h < 0) h = -h;
  check_size(w, h, name, "BMP");
  // BI_RGB = 0, BI_BITFIELDS = 3, BI_ALPHABITFIELDS = 6; RLE and embedded JPEG/PNG are not supported.
  if (comp != 0 && comp != 3 && comp != 6) fail("image: {}: unsupported BMP compression {}", name, comp);
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    fail("image: {}: unsupported BMP bit depth {}", name, bpp);
  uint32_t rm = 0, gm = 0, bm = 0;
  if (bpp == 16) rm = 0x7C00, gm = 0x03E0, bm = 0x001F;
  if (bpp == 32) rm = 0x00FF0000, gm = 0x0000FF00, bm = 0x000000FF;
  if (comp == 3 || comp == 6) {
    if (bpp != 16 && bpp != 32) fail("image: {}: BMP bit fields with {} bits per pixel", name, bpp);
    size_t mpos = 14 + 40;  // masks follow a 40-byte info header, or sit inside V4/V5 headers
    if (n < mpos + 12) fail("image: {}: truncated BMP bit masks", name);
    rm = le32(d + mpos), gm = le32(d + mpos + 4), bm = le32(d + mpos + 8);
  }
  std::vector<std::array<uint8_t, 3>> pal;
  if (bpp <= 8) {
    size_t count = ncolors ? ncolors : (size_t(1) << bpp);
    if (count > 256) fail("image: {}: BMP palette of {} colours", name, count);
    size_t ppos = 14 + size_t(hsize);
    if (ppos + count * pal_entry > n) fail("image: {}: truncated BMP palette", name);
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* e = d + ppos + i * pal_entry;
      pal.push_back({e[2], e[1], e[0]});
    }
  }
  size_t stride = ((size_t(w) * bpp + 31) / 32) * 4;
  if (off > n || stride * size_t(h) > n - off)
    fail("image: {}: truncated BMP pixel data (need {} bytes at offset {}, file has {})", name, stride * h, off, n);
  Image img{int(w), int(h)};
  MaskField fr(rm), fg(gm), fb(bm);
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = d + off + stride * size_t(top_down ? y : h - 1 - y);
    uint8_t* out = img.px(0, int(y));
    for (int64_t x = 0; x < w; ++x, out += 3) {
      if (bpp == 24) {
        out[0] = row[x * 3 + 2], out[1] = row[x * 3 + 1], out[2] = row[x * 3];
      } else if (bpp == 32 || bpp == 16) {
        uint32_t v = bpp == 32 ? le32(row + x * 4) : le16(row + x * 2);
        out[0] = fr.get(v), out[1] = fg.get(v), out[2] = fb.get(v);
      } else {
        int per = 8 / bpp;
        uint8_t byte = row[x / per];
        int idx = (byte >> ((per - 1 - x % per) * bpp)) & ((1 << bpp) - 1);
        if (size_t(idx) >= pal.size()) fail("image: {}: BMP colour index {} outside the palette", name, idx);
        std::memcpy(out, pal[idx].data(), 3);
      }
    }
  }
  return img;
}

// ---- WebP ----
Image decode_webp(const uint8_t* data, size_t n, const std::string& name) {
  WebPBitstreamFeatures f;
  if (WebPGetFeatures(data, n, &f) != VP8_STATUS_OK) fail("image: {}: corrupt or truncated WebP header", name);
  if (f.has_animation) fail("image: {}: animated WebP is not supported", name);
  check_size(f.width, f.height, name, "WebP");
  Image img(f.width, f.height);
  if (!WebPDecodeRGBInto(data, n, img.rgb.data(), img.rgb.size(), f.width * 3))
    fail("image: {}: corrupt or truncated WebP data", name);
  return img;
}

// ---- GIF (first frame, on a canvas of the logical screen size as PIL shows it) ----
struct GifReader {
  const uint8_t* data;
  size_t n, pos;
};
int gif_read_mem(GifFileType* g, GifByteType* out, int len) {
  auto* r = static_cast<GifReader*>(g->UserData);
  size_t k = std::min(size_t(len), r->n - r->pos);
  std::memcpy(out, r->data + r->pos, k);
  r->pos += k;
  return int(k);
}

Image decode_gif(const uint8_t* data, size_t n, const std::string& name) {
  GifReader rd{data, n, 0};
  int err = 0;
  GifFileType* g = DGifOpen(&rd, gif_read_mem, &err);
  if (!g) fail("image: {}: corrupt GIF header ({})", name, GifErrorString(err));
  struct Closer {
    GifFileType* g;
    ~Closer() {
      int e;
      DGifCloseFile(g, &e);
    }
  } closer{g};
  check_size(g->SWidth, g->SHeight, name, "GIF");
  // Read records up to the first image (not DGifSlurp: a truncated later frame must not fail the first).
  GifRecordType rec;
  std::vector<GifByteType> idx;
  int left = 0, top = 0, fw = 0, fh = 0;
  const ColorMapObject* cmap = nullptr;
  bool got = false;
  while (!got) {
    if (DGifGetRecordType(g, &rec) == GIF_ERROR)
      fail("image: {}: corrupt or truncated GIF ({})", name, GifErrorString(g->Error));
    if (rec == TERMINATE_RECORD_TYPE) fail("image: {}: GIF has no image", name);
    if (rec == EXTENSION_RECORD_TYPE) {
      int code;
      GifByteType* ext;
      if (DGifGetExtension(g, &code, &ext) == GIF_ERROR)
        fail("image: {}: corrupt GIF extension ({})", name, GifErrorString(g->Error));
      while (ext) {
        if (DGifGetExtensionNext(g, &ext) == GIF_ERROR)
          fail("image: {}: corrupt GIF extension ({})", name, GifErrorString(g->Error));
      }
    } else if (rec == IMAGE_DESC_RECORD_TYPE) {
      if (DGifGetImageDesc(g) == GIF_ERROR)
        fail("image: {}: corrupt GIF image descriptor ({})", name, GifErrorString(g->Error));
      left = g->Image.Left, top = g->Image.Top, fw = g->Image.Width, fh = g->Image.Height;
      if (fw <= 0 || fh <= 0 || int64_t(fw) * fh > kMaxPixels)
        fail("image: {}: GIF frame of invalid size {}x{}", name, fw, fh);
      idx.resize(size_t(fw) * fh);
      if (g->Image.Interlace) {
        static constexpr int offs[4] = {0, 4, 2, 1}, jumps[4] = {8, 8, 4, 2};  // GIF89a appendix E
        for (int pass = 0; pass < 4; ++pass)
          for (int y = offs[pass]; y < fh; y += jumps[pass])
            if (DGifGetLine(g, idx.data() + size_t(y) * fw, fw) == GIF_ERROR)
              fail("image: {}: corrupt or truncated GIF data ({})", name, GifErrorString(g->Error));
      } else {
        for (int y = 0; y < fh; ++y)
          if (DGifGetLine(g, idx.data() + size_t(y) * fw, fw) == GIF_ERROR)
            fail("image: {}: corrupt or truncated GIF data ({})", name, GifErrorString(g->Error));
      }
      cmap = g->Image.ColorMap ? g->Image.ColorMap : g->SColorMap;
      got = true;
    }
  }
  if (!cmap) fail("image: {}: GIF without a colour map", name);
  auto colour = [&](int i, uint8_t* out) {
    if (i >= cmap->ColorCount) {
      out[0] = out[1] = out[2] = 0;
      return;
    }
    out[0] = cmap->Colors[i].Red, out[1] = cmap->Colors[i].Green, out[2] = cmap->Colors[i].Blue;
  };
  Image img(g->SWidth, g->SHeight);
  uint8_t bg[3] = {0, 0, 0};
  if (g->SColorMap) colour(g->SBackGroundColor, bg);
  for (size_t i = 0; i < img.rgb.size(); i += 3) std::memcpy(&img.rgb[i], bg, 3);
  for (int y = 0; y < fh; ++y)
    for (int x = 0; x < fw; ++x) {
      int cx = left + x, cy = top + y;
      if (cx < 0 || cy < 0 || cx >= img.width || cy >= img.height) continue;
      colour(idx[size_t(y) * fw + x], img.px(cx, cy));
    }
  return img;
}

// ---- EXIF ----
struct Tiff {
  const uint8_t* p;
  size_t n;
  bool be;
  bool ok(size_t off, size_t len) const { return off <= n && len <= n - off; }
  uint16_t u16(size_t o) const { return be ? uint16_t(p[o] << 8 | p[o + 1]) : uint16_t(p[o] | p[o + 1] << 8); }
  uint32_t u32(size_t o) const {
    return be ? (uint32_t(p[o]) << 24 | p[o + 1] << 16 | p[o + 2] << 8 | p[o + 3]) : le32(p + o);
  }
};

int exif_orientation_tiff(const uint8_t* p, size_t n) {
  if (n < 8) return 1;
  Tiff t{p, n, p[0] == 'M'};
  if (!((p[0] == 'I' && p[1] == 'I') || (p[0] == 'M' && p[1] == 'M'))) return 1;
  if (t.u16(2) != 42) return 1;
  size_t ifd = t.u32(4);
  if (!t.ok(ifd, 2)) return 1;
  int count = t.u16(ifd);
  for (int i = 0; i < count; ++i) {
    size_t e = ifd + 2 + size_t(i) * 12;
    if (!t.ok(e, 12)) return 1;
    if (t.u16(e) == 0x0112 && t.u16(e + 2) == 3) {  // Orientation, SHORT
      int v = t.u16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

}  // namespace

int jpeg_exif_orientation(const uint8_t* d, size_t n) {
  // Walk the marker segments before the first SOS looking for APP1 "Exif\0\0".
  size_t pos = 2;
  while (pos + 4 <= n) {
    if (d[pos] != 0xFF) return 1;
    uint8_t marker = d[pos + 1];
    if (marker == 0xFF) {
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;
    size_t len = size_t(d[pos + 2]) << 8 | d[pos + 3];
    if (len < 2 || pos + 2 + len > n) return 1;
    if (marker == 0xE1 && len >= 8 && std::memcmp(d + pos + 4, "Exif\0\0", 6) == 0)
      return exif_orientation_tiff(d + pos + 10, len - 8);
    pos += 2 + len;
  }
  return 1;
}

Image apply_orientation(const Image& in, int o) {
  if (o <= 1 || o > 8) return in;
  bool swap = o >= 5;
  Image out(swap ? in.height : in.width, swap ? in.width : in.height);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx = 0, sy = 0;
      switch (o) {
        case 2: sx = in.width - 1 - x, sy = y; break;                   // mirror
        case 3: sx = in.width - 1 - x, sy = in.height - 1 - y; break;   // rotate 180
        case 4: sx = x, sy = in.height - 1 - y; break;                  // flip vertical
        case 5: sx = y, sy = x; break;                                  // transpose
        case 6: sx = y, sy = in.height - 1 - x; break;                  // rotate 90 clockwise
        case 7: sx = in.width - 1 - y, sy = in.height - 1 - x; break;   // transverse
        case 8: sx = in.width - 1 - y, sy = x; break;                   // rotate 90 counter-clockwise
      }
      std::memcpy(out.px(x, y), in.px(sx, sy), 3);
    }
  return out;
}

Image decode(const uint8_t* data, size_t n, const std::string& name, bool apply_exif) {
  if (n == 0) fail("image: {}: empty file", name);
  switch (detect_format(data, n)) {
    case Format::jpeg: {
      Image img = decode_jpeg(data, n, name);
      if (apply_exif) {
        int o = jpeg_exif_orientation(data, n);
        if (o != 1) img = apply_orientation(img, o);
      }
      return img;
    }
    case Format::png: return decode_png(data, n, name);
    case Format::bmp: return decode_bmp(data, n, name);
    case Format::webp: return decode_webp(data, n, name);
    case Format::gif: return decode_gif(data, n, name);
    default: break;
  }
  fail("image: {}: not a supported image (JPEG, PNG, BMP, WebP or GIF expected)", name);
}

Image load(const std::string& path, bool apply_exif) {
  if (!file_exists(path)) fail("image: {}: no such file", path);
  MappedFile f(path);
  return decode(f.data(), f.size(), path, apply_exif);
}

}  // namespace pj::image
