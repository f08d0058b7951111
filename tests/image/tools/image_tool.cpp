// Test helper for tests/python/test_vision_image.py: decodes an image (and optionally resizes,
// letterboxes or crops it) with our code and writes "<width> <height>\n" followed by the raw RGB bytes,
// so the Python test can compare them with PIL's.
//   image_tool IN OUT [noexif] [resize W H nearest|bilinear|bicubic|bilinear_cv] [shortest S] [crop W H] [letterbox S]
#include <cstdio>
#include <cstring>
#include <string>

#include "core/base/error.h"
#include "core/image/image.h"

using namespace pj::image;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: image_tool IN OUT [ops...]\n");
    return 2;
  }
  try {
    int i = 3;
    bool exif = !(argc > 3 && std::strcmp(argv[3], "noexif") == 0);
    if (!exif) ++i;
    Image img = load(argv[1], exif);
    auto filt = [](const std::string& s) {
      if (s == "nearest") return Filter::nearest;
      if (s == "bilinear") return Filter::bilinear;
      if (s == "bicubic") return Filter::bicubic;
      return Filter::bilinear_cv;
    };
    for (; i < argc; ++i) {
      std::string op = argv[i];
      if (op == "resize" && i + 3 < argc) {
        img = resize(img, std::atoi(argv[i + 1]), std::atoi(argv[i + 2]), filt(argv[i + 3]));
        i += 3;
      } else if (op == "shortest" && i + 1 < argc) {
        img = resize_shortest_edge(img, std::atoi(argv[++i]), Filter::bicubic);
      } else if (op == "crop" && i + 2 < argc) {
        img = center_crop(img, std::atoi(argv[i + 1]), std::atoi(argv[i + 2]));
        i += 2;
      } else if (op == "letterbox" && i + 1 < argc) {
        Letterbox lb = letterbox(img, std::atoi(argv[++i]));
        std::printf("%g %d %d\n", lb.scale, lb.pad_x, lb.pad_y);
        img = lb.image;
      } else {
        std::fprintf(stderr, "image_tool: unknown op %s\n", op.c_str());
        return 2;
      }
    }
    FILE* f = std::fopen(argv[2], "wb");
    if (!f) return 1;
    std::fprintf(f, "%d %d\n", img.width, img.height);
    std::fwrite(img.rgb.data(), 1, img.rgb.size(), f);
    std::fclose(f);
  } catch (const pj::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
