// Image decoding, EXIF orientation, resampling and letterbox. Pixel equality with PIL is judged in
// tests/python/test_vision_image.py (through tests/image/tools/image_tool.cpp); here: shapes, known
// pixels, error paths and properties that need no outside reference.
#include <gtest/gtest.h>

#include <cstring>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/image/image.h"

using namespace pj;
using namespace pj::image;

namespace {
const std::string kImages = std::string(PJ_SHARED_DIR) + "/data/images/";

std::vector<uint8_t> read_bytes(const std::string& path) {
  MappedFile f(path);
  return std::vector<uint8_t>(f.data(), f.data() + f.size());
}

Image gradient(int w, int h) {
  Image img(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.px(x, y);
      p[0] = uint8_t(x * 255 / std::max(w - 1, 1));
      p[1] = uint8_t(y * 255 / std::max(h - 1, 1));
      p[2] = uint8_t((x * 7 + y * 13) & 255);
    }
  return img;
}

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(ImageDecode, SharedImagesHaveTheirSizes) {
  struct Case {
    const char* name;
    int w, h;
  } cases[] = {{"dog.jpg", 768, 576}, {"giraffe.jpg", 500, 500}, {"cat.bmp", 512, 341},
               {"grace_hopper.bmp", 512, 600}, {"parrot.jpg", 512, 929}};
  for (const auto& c : cases) {
    Image img = load(kImages + c.name);
    EXPECT_EQ(img.width, c.w) << c.name;
    EXPECT_EQ(img.height, c.h) << c.name;
    EXPECT_EQ(img.rgb.size(), size_t(c.w) * c.h * 3);
  }
}

TEST(ImageDecode, DetectsFormats) {
  EXPECT_EQ(detect_format(read_bytes(kImages + "dog.jpg").data(), 100), Format::jpeg);
  EXPECT_EQ(detect_format(read_bytes(kImages + "cat.bmp").data(), 100), Format::bmp);
  auto png = encode_png(gradient(5, 4));
  EXPECT_EQ(detect_format(png.data(), png.size()), Format::png);
  const uint8_t junk[] = "hello world, not an image";
  EXPECT_EQ(detect_format(junk, sizeof junk), Format::unknown);
}

TEST(ImageDecode, PngRoundTripIsLossless) {
  Image a = gradient(37, 23);
  auto bytes = encode_png(a);
  Image b = decode(bytes.data(), bytes.size(), "mem.png");
  ASSERT_EQ(b.width, 37);
  ASSERT_EQ(b.height, 23);
  EXPECT_EQ(a.rgb, b.rgb);
}

TEST(ImageDecode, JpegRoundTripIsClose) {
  Image a = gradient(64, 48);
  auto bytes = encode_jpeg(a, 95);
  Image b = decode(bytes.data(), bytes.size(), "mem.jpg");
  ASSERT_EQ(b.width, 64);
  double err = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) err += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  // Quality 95; the blue channel wraps every few pixels (sharp edges), so a mean error of a few levels.
  EXPECT_LT(err / a.rgb.size(), 8.0);
}

TEST(ImageDecode, TruncatedAndCorruptFilesGiveClearErrors) {
  for (const char* name : {"dog.jpg", "cat.bmp"}) {
    auto bytes = read_bytes(kImages + name);
    auto cut = std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2);
    std::string e = error_of([&] { decode(cut.data(), cut.size(), name); });
    EXPECT_NE(e.find(name), std::string::npos) << e;
    EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  }
  auto png = encode_png(gradient(40, 30));
  std::vector<uint8_t> cut(png.begin(), png.begin() + png.size() - 30);
  EXPECT_NE(error_of([&] { decode(cut.data(), cut.size(), "x.png"); }).find("x.png"), std::string::npos);
  // Corrupt the PNG's IDAT data: the CRC check catches it.
  auto bad = png;
  bad[bad.size() / 2] ^= 0xFF;
  EXPECT_NE(error_of([&] { decode(bad.data(), bad.size(), "bad.png"); }).find("PNG"), std::string::npos);
  // A JPEG header with garbage after it.
  auto jpg = read_bytes(kImages + "giraffe.jpg");
  std::vector<uint8_t> garbage(jpg.begin(), jpg.begin() + 4);
  garbage.resize(2000, 0x55);
  EXPECT_NE(error_of([&] { decode(garbage.data(), garbage.size(), "g.jpg"); }).find("JPEG"), std::string::npos);
  const uint8_t text[] = "just some text";
  EXPECT_NE(error_of([&] { decode(text, sizeof text, "t.txt"); }).find("not a supported image"), std::string::npos);
  EXPECT_NE(error_of([&] { decode(text, 0, "empty.png"); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { load("/nonexistent/x.jpg"); }).find("no such file"), std::string::npos);
}

TEST(ImageDecode, HugeDeclaredSizeIsRefusedBeforeAllocation) {
  // A BMP header declaring 100000 x 100000 pixels.
  std::vector<uint8_t> b(54, 0);
  b[0] = 'B', b[1] = 'M';
  auto put32 = [&](size_t o, uint32_t v) { std::memcpy(&b[o], &v, 4); };
  put32(10, 54), put32(14, 40), put32(18, 100000), put32(22, 100000);
  b[26] = 1, b[28] = 24;
  EXPECT_NE(error_of([&] { decode(b.data(), b.size(), "huge.bmp"); }).find("larger than the limit"),
            std::string::npos);
}

// Inserts an APP1 EXIF segment with the given orientation right after SOI.
std::vector<uint8_t> with_orientation(const std::vector<uint8_t>& jpg, int orientation, bool big_endian) {
  std::vector<uint8_t> tiff;
  auto u16 = [&](uint16_t v) {
    if (big_endian) tiff.push_back(uint8_t(v >> 8)), tiff.push_back(uint8_t(v));
    else tiff.push_back(uint8_t(v)), tiff.push_back(uint8_t(v >> 8));
  };
  auto u32 = [&](uint32_t v) {
    if (big_endian) { u16(uint16_t(v >> 16)); u16(uint16_t(v)); }
    else { u16(uint16_t(v)); u16(uint16_t(v >> 16)); }
  };
  tiff.push_back(big_endian ? 'M' : 'I'), tiff.push_back(big_endian ? 'M' : 'I');
  u16(42), u32(8), u16(1);                                  // one IFD entry
  u16(0x0112), u16(3), u32(1), u16(uint16_t(orientation)), u16(0);  // Orientation SHORT
  u32(0);
  std::vector<uint8_t> seg = {0xFF, 0xE1};
  size_t len = 2 + 6 + tiff.size();
  seg.push_back(uint8_t(len >> 8)), seg.push_back(uint8_t(len));
  for (char c : std::string("Exif\0\0", 6)) seg.push_back(uint8_t(c));
  seg.insert(seg.end(), tiff.begin(), tiff.end());
  std::vector<uint8_t> out(jpg.begin(), jpg.begin() + 2);
  out.insert(out.end(), seg.begin(), seg.end());
  out.insert(out.end(), jpg.begin() + 2, jpg.end());
  return out;
}

TEST(ImageExif, OrientationIsAppliedAsPil) {
  // A 4x2 image with distinct blocks; JPEG is lossy, so compare against our decode of orientation 1.
  Image a = gradient(48, 32);
  auto jpg = encode_jpeg(a, 100);
  Image base = decode(jpg.data(), jpg.size(), "o1.jpg");
  for (int o = 1; o <= 8; ++o)
    for (bool be : {false, true}) {
      auto tagged = with_orientation(jpg, o, be);
      EXPECT_EQ(jpeg_exif_orientation(tagged.data(), tagged.size()), o);
      Image img = decode(tagged.data(), tagged.size(), "o.jpg");
      Image want = apply_orientation(base, o);
      EXPECT_EQ(img.width, o >= 5 ? 32 : 48);
      EXPECT_EQ(img.rgb, want.rgb) << "orientation " << o;
      Image raw = decode(tagged.data(), tagged.size(), "o.jpg", /*apply_exif=*/false);
      EXPECT_EQ(raw.rgb, base.rgb);
    }
  // Orientation 6 (rotate 90 clockwise): the source's top-left pixel lands top-right.
  Image r = apply_orientation(a, 6);
  EXPECT_EQ(0, std::memcmp(r.px(r.width - 1, 0), a.px(0, 0), 3));
  EXPECT_EQ(0, std::memcmp(r.px(0, 0), a.px(0, a.height - 1), 3));
  // 8 (rotate 90 counter-clockwise): top-left lands bottom-left.
  Image l = apply_orientation(a, 8);
  EXPECT_EQ(0, std::memcmp(l.px(0, l.height - 1), a.px(0, 0), 3));
  // Real photos: dog.jpg says upper-left (1).
  auto dog = read_bytes(kImages + "dog.jpg");
  EXPECT_EQ(jpeg_exif_orientation(dog.data(), dog.size()), 1);
}

TEST(ImageResize, ConstantImageStaysConstant) {
  Image a(33, 17, 0);
  for (size_t i = 0; i < a.rgb.size(); i += 3) a.rgb[i] = 200, a.rgb[i + 1] = 10, a.rgb[i + 2] = 128;
  for (Filter f : {Filter::nearest, Filter::bilinear, Filter::bicubic, Filter::bilinear_cv})
    for (auto [w, h] : {std::pair{224, 224}, std::pair{7, 3}, std::pair{33, 40}}) {
      Image r = resize(a, w, h, f);
      ASSERT_EQ(r.width, w);
      for (size_t i = 0; i < r.rgb.size(); i += 3) {
        ASSERT_EQ(r.rgb[i], 200);
        ASSERT_EQ(r.rgb[i + 1], 10);
        ASSERT_EQ(r.rgb[i + 2], 128);
      }
    }
}

TEST(ImageResize, HalvingWithBilinearAveragesPairs) {
  // PIL's bilinear at scale 2: support 2, weights (1/4, 3/4, 3/4, 1/4)/2 over 4 pixels around the centre.
  Image a(4, 1);
  uint8_t v[4] = {0, 100, 200, 40};
  for (int x = 0; x < 4; ++x) a.px(x, 0)[0] = a.px(x, 0)[1] = a.px(x, 0)[2] = v[x];
  Image r = resize(a, 2, 1, Filter::bilinear);
  // Output 0: centre 1.0, taps x=0 (w .75), 1 (.75), 2 (.25) -> (0*.75 + 100*.75 + 200*.25) / 1.75 = 71.43
  EXPECT_EQ(r.px(0, 0)[0], 71);
  // Output 1: centre 3.0, taps 1 (.25), 2 (.75), 3 (.75) -> (25 + 150 + 30) / 1.75 = 117.14
  EXPECT_EQ(r.px(1, 0)[0], 117);
}

TEST(ImageLetterbox, KeepsAspectAndMapsBack) {
  Image a = gradient(640, 480);
  Letterbox lb = letterbox(a, 640, 114);
  EXPECT_EQ(lb.image.width, 640);
  EXPECT_EQ(lb.image.height, 640);
  EXPECT_FLOAT_EQ(lb.scale, 1.0f);
  EXPECT_EQ(lb.pad_x, 0);
  EXPECT_EQ(lb.pad_y, 80);
  EXPECT_EQ(lb.image.px(10, 10)[0], 114);
  EXPECT_EQ(lb.image.px(10, 639)[1], 114);
  EXPECT_EQ(0, std::memcmp(lb.image.px(5, 80 + 7), a.px(5, 7), 3));
  EXPECT_FLOAT_EQ(lb.to_src_y(80 + 7), 7.0f);
  Letterbox tall = letterbox(gradient(300, 1000), 640, 114);
  EXPECT_FLOAT_EQ(tall.scale, 0.64f);
  EXPECT_EQ(tall.pad_y, 0);
  EXPECT_EQ(tall.pad_x, 224);  // new width 192, padding (640 - 192) / 2 = 224
  EXPECT_NEAR(tall.to_src_x(224 + 96), 150.0f, 1e-3);
}

TEST(ImageCrop, CenterCropAndShortestEdge) {
  Image a = gradient(300, 200);
  Image r = resize_shortest_edge(a, 224, Filter::bicubic);
  EXPECT_EQ(r.height, 224);
  EXPECT_EQ(r.width, 336);  // int(224 * 300 / 200)
  Image c = center_crop(r, 224, 224);
  EXPECT_EQ(0, std::memcmp(c.px(0, 0), r.px(56, 0), 3));
  Image small = center_crop(gradient(10, 10), 12, 12);  // padded with zeros, as transformers
  EXPECT_EQ(small.px(0, 0)[0], 0);
  EXPECT_EQ(0, std::memcmp(small.px(1, 1), gradient(10, 10).px(0, 0), 3));
}

TEST(ImageTensor, ChwNormalised) {
  Image a(2, 1);
  a.px(0, 0)[0] = 255, a.px(1, 0)[2] = 51;
  auto t = to_chw(a, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f});
  ASSERT_EQ(t.size(), 6u);
  EXPECT_FLOAT_EQ(t[0], 1.0f);   // R of pixel 0
  EXPECT_FLOAT_EQ(t[1], -1.0f);  // R of pixel 1
  EXPECT_NEAR(t[5], 51.0f / 255 * 2 - 1, 1e-6);  // B of pixel 1
}

TEST(ImageDraw, RectTextAndSave) {
  Image a(100, 50, 0);
  draw_rect(a, 10, 10, 40, 30, {255, 0, 0}, 2);
  EXPECT_EQ(a.px(10, 10)[0], 255);
  EXPECT_EQ(a.px(20, 20)[0], 0);
  draw_text(a, 0, 0, "cat 97%", {255, 255, 255}, {0, 0, 0}, 1);
  draw_rect(a, -50, -50, 500, 500, {0, 255, 0}, 3);  // clipped, no crash
  std::string path = testing::TempDir() + "/pj_draw_test.png";
  save(a, path);
  Image b = load(path);
  EXPECT_EQ(a.rgb, b.rgb);
  std::remove(path.c_str());
  EXPECT_NE(error_of([&] { save(a, testing::TempDir() + "/x.tiff"); }).find("output format"), std::string::npos);
}
