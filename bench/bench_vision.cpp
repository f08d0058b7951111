// Times the image encoder of a ViT or CLIP model on our kernels (bench/vision_vs_onnxruntime.py runs it
// beside ONNX Runtime). Pre-processing is done once outside the timed loop; prints one JSON line:
//   {"model": ..., "type": "vit"|"clip", "threads": T, "runs": R, "median_ms": ..., "min_ms": ..., "out": [...]}
//   bench_vision MODEL IMAGE [runs] [threads]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/image/image.h"
#include "core/kernels/context.h"
#include "models/vision/clip.h"
#include "models/vision/vit.h"

using namespace pj;
using namespace pj::vision;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_vision MODEL IMAGE [runs] [threads]\n");
    return 2;
  }
  int runs = argc > 3 ? std::atoi(argv[3]) : 10, threads = argc > 4 ? std::atoi(argv[4]) : 0;
  try {
    KernelContext::Options o;
    o.threads = threads;
    KernelContext ctx(o);
    VisionWeights w = VisionWeights::open(argv[1]);
    std::string type = vision_model_type(w.config());
    image::Image img = image::load(argv[2]);
    std::vector<double> ms;
    std::vector<float> out;
    auto time_it = [&](auto&& fn) {
      fn();  // warm-up
      for (int i = 0; i < runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        fn();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    };
    std::vector<float> px;
    if (type == "vit") {
      VitModel m(std::move(w));
      px = m.preprocess()(img);
      time_it([&] { out = m.logits(ctx, px); });
    } else {
      ClipModel m(std::move(w));
      px = m.preprocess()(img);
      time_it([&] { out = m.image_embeds(ctx, px); });
    }
    std::sort(ms.begin(), ms.end());
    std::printf("{\"model\": \"%s\", \"type\": \"%s\", \"isa\": \"%s\", \"runs\": %d, \"median_ms\": %.3f, \"min_ms\": %.3f, \"out\": [",
                argv[1], type.c_str(), std::string(isa_name(ctx.isa())).c_str(), runs, ms[ms.size() / 2], ms[0]);
    for (size_t i = 0; i < out.size(); ++i) std::printf("%s%.6g", i ? ", " : "", out[i]);
    std::printf("], \"pixel_values\": [");
    for (size_t i = 0; i < px.size(); ++i) std::printf("%s%.7g", i ? ", " : "", px[i]);
    std::printf("]}\n");
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
