// pajamas detect|localize [-m MODEL] IMAGE... [--conf 0.25] [--iou 0.45] [--size 640] [--json] [--annotate OUT]
//   detect:   YOLOv8 object detection: every box after class-wise NMS, in the image's pixels, with its COCO
//             (or the model's) class name and confidence.
//   localize: the main object: the highest-confidence detection only.
// --bench N times N forward passes of the network on the first image (JSON with the median, ms).
// MODEL: an Ultralytics YOLOv8 state_dict saved as .safetensors, or its GGUF from `pajamas convert`
// (default: $PAJAMAS_YOLO_MODEL). --annotate OUT draws the boxes onto a copy of the image (OUT gets -<i>
// before the extension when several images are given).
// Also here: convert_yolo(), which `pajamas convert` calls for a YOLO .safetensors file.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/cli/commands.h"
#include "core/base/error.h"
#include "core/gguf/gguf.h"
#include "core/image/image.h"
#include "core/kernels/context.h"
#include "models/vision/yolo.h"

namespace pj::cli {
namespace {

struct DetectOptions {
  std::string model, annotate;
  std::vector<std::string> images;
  float conf = 0.25f, iou = 0.45f;
  int size = 640, threads = 0, max_det = 300, bench = 0;
  bool json = false;
};

std::string numbered_path(const std::string& out, size_t i, size_t n) {
  if (n == 1) return out;
  const size_t dot = out.find_last_of('.');
  if (dot == std::string::npos) return out + "-" + std::to_string(i);
  return out.substr(0, dot) + "-" + std::to_string(i) + out.substr(dot);
}

void draw(image::Image& img, const std::vector<vision::Detection>& dets, const std::vector<std::string>& names) {
  const int thick = std::max(2, std::min(img.width, img.height) / 250);
  const int scale = std::max(1, std::min(img.width, img.height) / 300);
  for (auto it = dets.rbegin(); it != dets.rend(); ++it) {  // best drawn last, on top
    const vision::Detection& d = *it;
    const image::Color c = image::palette(d.cls);
    image::draw_rect(img, int(d.x1), int(d.y1), int(d.x2), int(d.y2), c, thick);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s %.2f", names[size_t(d.cls)].c_str(), d.conf);
    const int ty = std::max(0, int(d.y1) - 8 * scale - 2);
    image::draw_text(img, int(d.x1), ty, buf, {255, 255, 255}, c, scale);
  }
}

void run(const DetectOptions& o, bool localize) {
  std::string model = o.model;
  if (model.empty())
    if (const char* env = std::getenv("PAJAMAS_YOLO_MODEL")) model = env;
  if (model.empty()) fail("{}: no model: give -m MODEL (YOLOv8 .safetensors or .gguf) or set PAJAMAS_YOLO_MODEL",
                          localize ? "localize" : "detect");
  if (!(o.conf >= 0 && o.conf <= 1) || !(o.iou >= 0 && o.iou <= 1)) fail("detect: --conf and --iou must be in [0, 1]");
  if (o.size < 32 || o.size > 4096 || o.size % 32) fail("detect: --size must be a multiple of 32 in [32, 4096]");
  KernelContext::Options ko;
  ko.threads = o.threads;
  KernelContext ctx(ko);
  const vision::YoloModel m = vision::YoloModel::load(model);
  vision::YoloOptions yo;
  yo.conf = o.conf;
  yo.iou = o.iou;
  yo.max_det = localize ? 1 : o.max_det;
  if (o.bench > 0) {  // latency of the network alone (letterboxed first image), for bench/yolo_vs_onnxruntime.py
    const image::Image lb = image::letterbox(image::load(o.images[0]), o.size, 114).image;
    std::vector<double> ms;
    for (int r = 0; r <= o.bench; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      (void)m.forward(ctx, lb);
      const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0) ms.push_back(t);  // the first run warms caches and allocations
    }
    std::sort(ms.begin(), ms.end());
    std::printf("{\"forward_ms_median\": %.2f, \"forward_ms_min\": %.2f, \"runs\": %d, \"threads\": %d, \"size\": %d}\n",
                ms[ms.size() / 2], ms[0], o.bench, ctx.pool().size(), o.size);
    return;
  }
  nlohmann::json all = nlohmann::json::array();
  for (size_t i = 0; i < o.images.size(); ++i) {
    const image::Image img = image::load(o.images[i]);
    const std::vector<vision::Detection> dets = m.detect(ctx, img, yo, o.size);
    nlohmann::json r = {{"image", o.images[i]}, {"width", img.width}, {"height", img.height}};
    auto box_json = [&](const vision::Detection& d) {
      return nlohmann::json{{"label", m.names()[size_t(d.cls)]}, {"class", d.cls}, {"confidence", d.conf},
                            {"box", {d.x1, d.y1, d.x2, d.y2}}};
    };
    if (localize) {
      r["object"] = dets.empty() ? nlohmann::json(nullptr) : box_json(dets[0]);
    } else {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& d : dets) arr.push_back(box_json(d));
      r["detections"] = arr;
    }
    if (!o.annotate.empty()) {
      image::Image a = img;
      draw(a, dets, m.names());
      const std::string p = numbered_path(o.annotate, i, o.images.size());
      image::save(a, p);
      r["annotated"] = p;
    }
    if (!o.json) {
      std::printf("%s (%dx%d): %zu %s\n", o.images[i].c_str(), img.width, img.height, dets.size(),
                  localize ? (dets.empty() ? "objects" : "object") : (dets.size() == 1 ? "detection" : "detections"));
      for (const auto& d : dets)
        std::printf("  %-16s %5.1f%%  [%7.1f, %7.1f, %7.1f, %7.1f]\n", m.names()[size_t(d.cls)].c_str(),
                    d.conf * 100, d.x1, d.y1, d.x2, d.y2);
      if (r.contains("annotated")) std::printf("  annotated: %s\n", r["annotated"].get<std::string>().c_str());
    }
    all.push_back(r);
  }
  if (o.json) std::printf("%s\n", (o.images.size() == 1 ? all[0] : all).dump(2).c_str());
}

void add(CLI::App& app, const char* name, const char* help, bool localize) {
  auto o = std::make_shared<DetectOptions>();
  auto* cmd = app.add_subcommand(name, help);
  cmd->add_option("IMAGE", o->images, "Images (JPEG, PNG, BMP, WebP, GIF)")->required();
  cmd->add_option("-m,--model", o->model, "YOLOv8 weights: Ultralytics state_dict .safetensors or GGUF");
  cmd->add_option("--conf", o->conf, "Confidence threshold")->capture_default_str();
  cmd->add_option("--iou", o->iou, "IoU threshold of the class-wise non-maximum suppression")->capture_default_str();
  cmd->add_option("--size", o->size, "Letterbox size (multiple of 32)")->capture_default_str();
  if (!localize) cmd->add_option("--max-det", o->max_det, "Most boxes per image")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Threads (0: all cores)");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_option("--bench", o->bench, "Time N forward passes on the first image and print the median (ms)");
  cmd->add_option("--annotate", o->annotate, "Write a copy of the image with the boxes drawn (.png or .jpg)");
  cmd->callback([o, localize] { run(*o, localize); });
}

}  // namespace

void register_detect(CLI::App& app, const GlobalOptions&) {
  add(app, "detect", "Detect objects with YOLOv8 (boxes, COCO labels, confidences)", false);
  add(app, "localize", "The main object of an image: the highest-confidence YOLOv8 detection", true);
}

bool convert_yolo(const std::string& input, std::string out, const std::string& outtype, const std::string& name,
                  int verbosity) {
  if (std::filesystem::is_directory(input) || input.size() < 12 ||
      input.compare(input.size() - 12, 12, ".safetensors") != 0)
    return false;
  const vision::YoloModel m = vision::YoloModel::load(input);
  std::string up = outtype;
  for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
  const auto parsed = ggml_type_from_name(up);
  if (!parsed) fail("convert: --outtype '{}' is not a ggml type name", outtype);
  const GgmlType type = *parsed;
  const std::string stem = std::filesystem::path(input).stem().string();
  if (out.empty()) out = (std::filesystem::path(input).parent_path() / (stem + "-" + outtype + ".gguf")).string();
  gguf::Writer w;
  const int fallbacks = m.add_to_gguf(w, type, name.empty() ? "yolov8" + m.scale() : name);
  w.write(out);
  if (verbosity >= 0) {
    std::printf("wrote %s\n", out.c_str());
    if (fallbacks)
      std::printf("  %d convolutions not in %s (rows not a multiple of its block: fallback type)\n", fallbacks, up.c_str());
  }
  return true;
}

}  // namespace pj::cli
