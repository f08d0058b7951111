// POST /v1/images/detect: YOLOv8 detection for `pajamas serve` (a method of VisionApi, vision_api.h). The model
// is one of the --vision-model paths (an Ultralytics YOLOv8 .safetensors or its GGUF), loaded on first use.
#include <nlohmann/json.hpp>

#include "apps/server/api_error.h"
#include "apps/server/vision_api.h"
#include "core/base/error.h"
#include "core/kernels/context.h"
#include "models/vision/yolo.h"

namespace pj::server {

using json = nlohmann::json;

json VisionApi::detect(const json& body) {
  if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
  const image::Image img = decode_image_field(body);
  vision::YoloOptions opt;
  auto number = [&](const char* key, double lo, double hi, double def) {
    if (!body.contains(key)) return def;
    if (!body[key].is_number() || body[key].get<double>() < lo || body[key].get<double>() > hi)
      throw bad_param(key, std::string("'") + key + "' must be a number in [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
    return body[key].get<double>();
  };
  opt.conf = float(number("conf", 0, 1, 0.25));
  opt.iou = float(number("iou", 0, 1, 0.45));
  opt.max_det = int(number("max_det", 1, 1000, 300));
  std::lock_guard<std::mutex> lock(mu_);
  std::string id;
  if (body.contains("model") && body["model"].is_string()) id = body["model"].get<std::string>();
  if (id.empty()) {
    if (paths_.size() != 1) throw bad_param("model", "'model' is required (the server has several vision models)");
    id = paths_.begin()->first;
  }
  auto it = paths_.find(id);
  if (it == paths_.end())
    throw ApiError(404, "The vision model '" + id + "' does not exist (serve it with --vision-model)",
                   "invalid_request_error", "model", "model_not_found");
  auto& slot = yolo_[id];
  if (!slot) {
    try {
      slot = std::make_shared<const vision::YoloModel>(vision::YoloModel::load(it->second));
    } catch (const Error& e) {
      throw ApiError(400, std::string("not a YOLOv8 detection model: ") + e.what(), "invalid_request_error", "model");
    }
  }
  std::vector<vision::Detection> dets;
  try {
    dets = slot->detect(*ctx_, img, opt);
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  json data = json::array();
  for (const auto& d : dets)
    data.push_back({{"label", slot->names()[size_t(d.cls)]}, {"class", d.cls}, {"confidence", d.conf},
                    {"box", {d.x1, d.y1, d.x2, d.y2}}});
  return {{"object", "list"}, {"model", id}, {"width", img.width}, {"height", img.height}, {"data", data}};
}

}  // namespace pj::server
