// pajamas classify|clip -m MODEL IMAGE... [--labels a,b,c] [--top-k K] [--json] [--annotate OUT]
//   classify: a ViT classifier (Hugging Face ViTForImageClassification folder or its GGUF) gives the top-k
//             classes with their probabilities (ImageNet names when the config has only generic ones); so
//             does a TFLite image classifier (.tflite, e.g. MobileNet v2: 1001 ImageNet classes); a CLIP
//             model with --labels does zero-shot classification instead.
//   clip:     a CLIP model: with --labels, zero-shot probabilities over "a photo of a {label}" (--template);
//             without, the normalised image embeddings.
// --annotate OUT draws the top result onto a copy of the image (OUT gets -<i> before the extension when
// several images are given).
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/cli/commands.h"
#include "models/vision/service.h"
#include "core/base/error.h"
#include "core/image/image.h"
#include "core/base/ggml_types.h"
#include "core/kernels/context.h"
#include "models/vision/convert_vision.h"

namespace pj::cli {
namespace {

struct VisionOptions {
  std::string model, labels, annotate, templ = "a photo of a {label}";
  std::vector<std::string> images;
  int top_k = 5, threads = 0;
  bool json = false;
};

std::string annotate_path(const std::string& out, size_t i, size_t n) {
  if (n == 1) return out;
  size_t dot = out.find_last_of('.');
  if (dot == std::string::npos) return out + "-" + std::to_string(i);
  return out.substr(0, dot) + "-" + std::to_string(i) + out.substr(dot);
}

void run(const VisionOptions& o, bool clip_cmd, const std::string& exe) {
  KernelContext::Options ko;
  ko.threads = o.threads;
  KernelContext ctx(ko);
  vision::VisionService svc(o.model, exe);
  if (clip_cmd && svc.type() != "clip") fail("clip: {}: not a CLIP model (model_type {})", o.model, svc.type());
  std::vector<std::string> labels = vision::split_labels(o.labels);
  nlohmann::json all = nlohmann::json::array();
  for (size_t i = 0; i < o.images.size(); ++i) {
    image::Image img = image::load(o.images[i]);
    nlohmann::json r;
    r["image"] = o.images[i];
    std::vector<vision::Scored> top;
    if (clip_cmd && labels.empty()) {
      r["embedding"] = svc.image_embedding(ctx, img);
    } else {
      top = svc.classify(ctx, img, labels, o.templ, o.top_k);
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& s : top) arr.push_back({{"label", s.label}, {"id", s.id}, {"score", s.score}});
      r["results"] = arr;
    }
    if (!o.annotate.empty() && !top.empty()) {
      image::Image a = img;
      char buf[64];
      std::snprintf(buf, sizeof buf, " %.1f%%", top[0].score * 100);
      std::string text = top[0].label.substr(0, top[0].label.find(',')) + buf;
      int scale = std::max(1, std::min(a.width, a.height) / 200);
      image::draw_text(a, 4, 4, text, {255, 255, 255}, {0, 0, 0}, scale);
      std::string p = annotate_path(o.annotate, i, o.images.size());
      image::save(a, p);
      r["annotated"] = p;
    }
    if (!o.json) {
      std::printf("%s\n", o.images[i].c_str());
      if (r.contains("embedding")) {
        std::printf("  embedding (%zu):", r["embedding"].size());
        for (const auto& v : r["embedding"]) std::printf(" %.5f", v.get<double>());
        std::printf("\n");
      }
      for (const auto& s : top) std::printf("  %6.2f%%  %s\n", s.score * 100, s.label.c_str());
    }
    all.push_back(r);
  }
  if (o.json) std::printf("%s\n", all.dump(2).c_str());
}

void add_common(CLI::App* cmd, const std::shared_ptr<VisionOptions>& o) {
  cmd->add_option("-m,--model", o->model, "Hugging Face folder (ViT or CLIP), GGUF from pajamas convert, or a .tflite classifier")->required();
  cmd->add_option("images", o->images, "Image files (JPEG, PNG, BMP, WebP, GIF)")->required();
  cmd->add_option("--labels", o->labels, "Comma-separated labels for zero-shot classification (CLIP)");
  cmd->add_option("--template", o->templ, "Prompt template for CLIP labels; {label} is replaced");
  cmd->add_option("--top-k", o->top_k, "Number of results per image")->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_option("--annotate", o->annotate, "Write the image with the top result drawn on it (.png/.jpg)");
  cmd->add_option("-t,--threads", o->threads, "Threads (0: all cores)");
}

}  // namespace

bool convert_vision(const std::string& input, std::string out, const std::string& outtype, std::string name,
                    int verbosity) {
  if (!vision::is_vision_folder(input)) return false;
  std::string up = outtype;
  for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
  auto type = ggml_type_from_name(up);
  if (!type) fail("convert: --outtype '{}' is not a ggml type name", outtype);
  std::string folder = std::filesystem::path(input).filename().string();
  if (folder.empty()) folder = std::filesystem::path(input).parent_path().filename().string();
  if (name.empty()) name = folder;
  if (out.empty()) out = (std::filesystem::path(input) / (folder + "-" + outtype + ".gguf")).string();
  KernelContext ctx;
  int fallbacks = vision::write_vision_gguf(ctx, input, out, *type, name);
  if (verbosity >= 0) {
    std::printf("wrote %s\n", out.c_str());
    if (fallbacks)
      std::printf("  %d matrices not in %s (rows not a multiple of its block: fallback type)\n", fallbacks, up.c_str());
  }
  return true;
}

void register_vision(CLI::App& app, const GlobalOptions& g) {
  auto oc = std::make_shared<VisionOptions>();
  auto* classify = app.add_subcommand("classify", "Classify images with a ViT (or CLIP with --labels)");
  add_common(classify, oc);
  classify->callback([oc] { run(*oc, false, "/proc/self/exe"); });
  auto ok = std::make_shared<VisionOptions>();
  auto* clip = app.add_subcommand("clip", "CLIP: zero-shot labels or image embeddings");
  add_common(clip, ok);
  clip->callback([ok] { run(*ok, true, "/proc/self/exe"); });
}

}  // namespace pj::cli
