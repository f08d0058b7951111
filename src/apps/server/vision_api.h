// Vision endpoints of `pajamas serve` (models given with --vision-model, loaded on first use):
//   POST /v1/images/classify  {"model", "image": base64 or data URL, "labels"?: [..], "top_k"?: 5,
//                              "template"?: "a photo of a {label}"}
//        -> {"object": "list", "model", "data": [{"label", "id", "score"}...]}
//   POST /v1/images/embed     {"model", "image"?: .., "input"?: text or [texts]} (CLIP)
//        -> {"object": "list", "model", "data": [{"object": "embedding", "index", "kind": "image"|"text",
//                                                 "embedding": [...]}]}
//   POST /v1/images/detect    {"model", "image", "conf"?: 0.25, "iou"?: 0.45, "max_det"?: 300} (YOLOv8,
//                              detect_api.cpp) -> {"object": "list", "model", "width", "height",
//                              "data": [{"label", "class", "confidence", "box": [x1, y1, x2, y2]}...]}
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/image/image.h"

namespace pj {
class KernelContext;
}
namespace pj::vision {
class VisionService;
class YoloModel;
}

namespace pj::server {

// The "image" field of a request body: base64, or a data URL (data:image/png;base64,...). ApiError 400
// naming the field when it is missing, not base64, or not a decodable image.
image::Image decode_image_field(const nlohmann::json& body, const std::string& field = "image");
std::vector<uint8_t> base64_decode(const std::string& s, bool* ok);

class VisionApi {
 public:
  VisionApi(std::vector<std::string> model_paths, int threads);
  ~VisionApi();
  // Model ids (the file or folder name) -> paths.
  const std::map<std::string, std::string>& models() const { return paths_; }
  nlohmann::json classify(const nlohmann::json& body);
  nlohmann::json embed(const nlohmann::json& body);
  nlohmann::json detect(const nlohmann::json& body);  // detect_api.cpp

 private:
  // The loaded model for body["model"] (or the only one); ApiError 404 if unknown.
  std::pair<std::string, vision::VisionService*> model_for(const nlohmann::json& body);
  std::map<std::string, std::string> paths_;
  std::map<std::string, std::unique_ptr<vision::VisionService>> loaded_;
  std::map<std::string, std::shared_ptr<const vision::YoloModel>> yolo_;  // shared_ptr: deleter made in detect_api.cpp
  std::unique_ptr<KernelContext> ctx_;
  std::mutex mu_;  // one request at a time on the shared kernel context
};

}  // namespace pj::server
