#include "apps/server/vision_api.h"

#include "apps/server/api_error.h"
#include "core/base/error.h"
#include "core/kernels/context.h"
#include "models/vision/service.h"

namespace pj::server {

using json = nlohmann::json;

std::vector<uint8_t> base64_decode(const std::string& s, bool* ok) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  out.reserve(s.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  *ok = true;
  for (char c : s) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    int v = val(c);
    if (v < 0) {
      *ok = false;
      return {};
    }
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(acc >> bits));
    }
  }
  return out;
}

image::Image decode_image_field(const json& body, const std::string& field) {
  if (!body.contains(field) || !body[field].is_string())
    throw bad_param(field, "'" + field + "' must be a base64 string or a data URL of an image");
  std::string s = body[field].get<std::string>();
  if (s.rfind("data:", 0) == 0) {
    size_t comma = s.find(',');
    if (comma == std::string::npos || s.substr(0, comma).find(";base64") == std::string::npos)
      throw bad_param(field, "a data URL must be base64 encoded (data:image/png;base64,...)");
    s = s.substr(comma + 1);
  }
  bool ok = false;
  std::vector<uint8_t> bytes = base64_decode(s, &ok);
  if (!ok) throw bad_param(field, "'" + field + "' is not valid base64");
  try {
    return image::decode(bytes.data(), bytes.size(), field);
  } catch (const Error& e) {
    throw bad_param(field, e.what());
  }
}

VisionApi::VisionApi(std::vector<std::string> model_paths, int threads) {
  for (const auto& p : model_paths) {
    std::string id = p;
    while (!id.empty() && id.back() == '/') id.pop_back();
    id = id.substr(id.find_last_of('/') == std::string::npos ? 0 : id.find_last_of('/') + 1);
    paths_[id] = p;
  }
  KernelContext::Options o;
  o.threads = threads;
  ctx_ = std::make_unique<KernelContext>(o);
}

VisionApi::~VisionApi() = default;

std::pair<std::string, vision::VisionService*> VisionApi::model_for(const json& body) {
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
  auto& slot = loaded_[id];
  if (!slot) {
    try {
      slot = std::make_unique<vision::VisionService>(it->second);
    } catch (const Error& e) {
      throw ApiError(500, e.what(), "server_error");
    }
  }
  return {id, slot.get()};
}

json VisionApi::classify(const json& body) {
  if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
  image::Image img = decode_image_field(body);
  std::vector<std::string> labels;
  if (body.contains("labels")) {
    if (!body["labels"].is_array()) throw bad_param("labels", "'labels' must be an array of strings");
    for (const auto& l : body["labels"]) {
      if (!l.is_string()) throw bad_param("labels", "'labels' must be an array of strings");
      labels.push_back(l.get<std::string>());
    }
  }
  int top_k = body.value("top_k", 5);
  if (top_k < 1) throw bad_param("top_k", "'top_k' must be at least 1");
  std::string templ = body.value("template", std::string("a photo of a {label}"));
  std::lock_guard<std::mutex> lock(mu_);
  auto [id, svc] = model_for(body);
  std::vector<vision::Scored> r;
  try {
    r = svc->classify(*ctx_, img, labels, templ, top_k);
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  json data = json::array();
  for (const auto& s : r) data.push_back({{"label", s.label}, {"id", s.id}, {"score", s.score}});
  return {{"object", "list"}, {"model", id}, {"data", data}};
}

json VisionApi::embed(const json& body) {
  if (!body.is_object()) throw ApiError(400, "the body must be a JSON object");
  std::vector<std::string> texts;
  if (body.contains("input")) {
    if (body["input"].is_string()) texts.push_back(body["input"].get<std::string>());
    else if (body["input"].is_array())
      for (const auto& t : body["input"]) {
        if (!t.is_string()) throw bad_param("input", "'input' must be a string or an array of strings");
        texts.push_back(t.get<std::string>());
      }
    else throw bad_param("input", "'input' must be a string or an array of strings");
  }
  bool has_image = body.contains("image");
  if (!has_image && texts.empty()) throw ApiError(400, "give 'image' and/or 'input'");
  image::Image img;
  if (has_image) img = decode_image_field(body);
  std::lock_guard<std::mutex> lock(mu_);
  auto [id, svc] = model_for(body);
  json data = json::array();
  try {
    if (has_image)
      data.push_back({{"object", "embedding"}, {"index", 0}, {"kind", "image"}, {"embedding", svc->image_embedding(*ctx_, img)}});
    for (const auto& t : texts)
      data.push_back({{"object", "embedding"}, {"index", data.size()}, {"kind", "text"}, {"embedding", svc->text_embedding(*ctx_, t)}});
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  return {{"object", "list"}, {"model", id}, {"data", data}};
}

}  // namespace pj::server
