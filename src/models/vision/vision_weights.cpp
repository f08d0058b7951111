#include "models/vision/vision_weights.h"

#include <fstream>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/base/half.h"
#include "core/gguf/gguf.h"
#include "core/safetensors/safetensors.h"

namespace pj::vision {

struct VisionWeights::Impl {
  std::optional<safetensors::Checkpoint> st;
  std::optional<gguf::File> gg;
};

VisionWeights::~VisionWeights() = default;
VisionWeights::VisionWeights(VisionWeights&&) noexcept = default;
VisionWeights& VisionWeights::operator=(VisionWeights&&) noexcept = default;

std::string vision_model_type(const json& c) {
  if (!c.is_object()) return "";
  std::string t = c.value("model_type", "");
  if (t == "vit" || t == "clip") return t;
  return "";
}

VisionWeights VisionWeights::open(const std::string& path) {
  VisionWeights w;
  w.path_ = path;
  w.impl_ = std::make_unique<Impl>();
  if (is_directory(path)) {
    std::string cfg = path + "/config.json";
    if (!file_exists(cfg)) fail("vision: {}: no config.json in the folder", path);
    try {
      w.config_ = json::parse(read_text_file(cfg));
    } catch (const json::exception& e) {
      fail("vision: {}: invalid JSON ({})", cfg, e.what());
    }
    w.impl_->st.emplace(safetensors::Checkpoint::open(path));
  } else {
    w.impl_->gg.emplace(gguf::File::open(path));
    const auto* v = w.impl_->gg->find("vision.hf_config");
    if (!v || !v->get_if<std::string>()) fail("vision: {}: GGUF has no vision.hf_config key (not a vision model)", path);
    try {
      w.config_ = json::parse(*v->get_if<std::string>());
    } catch (const json::exception& e) {
      fail("vision: {}: vision.hf_config is not valid JSON ({})", path, e.what());
    }
    const auto* pre = w.impl_->gg->find("vision.hf_preprocessor");
    if (pre && pre->get_if<std::string>()) {
      try {
        w.config_["preprocessor"] = json::parse(*pre->get_if<std::string>());
      } catch (const json::exception& e) {
        fail("vision: {}: vision.hf_preprocessor is not valid JSON ({})", path, e.what());
      }
    }
  }
  if (vision_model_type(w.config_).empty())
    fail("vision: {}: model_type '{}' is not a supported vision model (vit, clip)", path,
         w.config_.value("model_type", std::string("?")));
  return w;
}

bool VisionWeights::is_gguf() const { return impl_->gg.has_value(); }

bool VisionWeights::has(const std::string& name) const {
  return impl_->st ? impl_->st->find(name) != nullptr : impl_->gg->find_tensor(name) != nullptr;
}

std::vector<std::string> VisionWeights::names() const {
  std::vector<std::string> out;
  if (impl_->st)
    for (const auto* t : impl_->st->tensors()) out.push_back(t->name);
  else
    for (const auto& t : impl_->gg->tensors()) out.push_back(t.name);
  return out;
}

std::vector<int64_t> VisionWeights::shape(const std::string& name) const {
  if (impl_->st) {
    const auto* t = impl_->st->find(name);
    if (!t) fail("vision: {}: missing tensor '{}'", path_, name);
    return t->shape;
  }
  const auto* t = impl_->gg->find_tensor(name);
  if (!t) fail("vision: {}: missing tensor '{}'", path_, name);
  std::vector<int64_t> s(t->shape.rbegin(), t->shape.rend());
  return s;
}

Matrix VisionWeights::matrix(const std::string& name) const {
  auto s = shape(name);
  if (s.size() < 2) fail("vision: {}: tensor '{}' is not a matrix", path_, name);
  Matrix m;
  m.rows = s[0];
  m.cols = 1;
  for (size_t i = 1; i < s.size(); ++i) m.cols *= s[i];
  if (impl_->st) {
    const auto& t = impl_->st->get(name);
    switch (t.dtype) {
      case safetensors::Dtype::F32: m.type = GgmlType::F32; break;
      case safetensors::Dtype::F16: m.type = GgmlType::F16; break;
      case safetensors::Dtype::BF16: m.type = GgmlType::BF16; break;
      default:
        fail("vision: {}: tensor '{}' has dtype {} (F32, F16 or BF16 expected)", path_, name,
             safetensors::dtype_name(t.dtype));
    }
    m.data = t.data;
  } else {
    const auto& t = impl_->gg->tensor(name);
    m.type = t.type;
    m.data = t.data;
  }
  return m;
}

std::vector<float> VisionWeights::f32(const std::string& name, int64_t expect) const {
  std::vector<float> out;
  if (impl_->st) {
    const auto* t = impl_->st->find(name);
    if (!t) fail("vision: {}: missing tensor '{}'", path_, name);
    out.resize(t->n_elements());
    safetensors::to_f32(*t, 0, out.size(), out.data());
  } else {
    const auto* t = impl_->gg->find_tensor(name);
    if (!t) fail("vision: {}: missing tensor '{}'", path_, name);
    out.resize(t->n_elements);
    const auto& info = ggml_type_info(t->type);
    if (t->type == GgmlType::F32) {
      std::memcpy(out.data(), t->data, out.size() * 4);
    } else if (t->type == GgmlType::F16) {
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, t->data + i * 2, 2);
        out[i] = fp16_to_f32(h);
      }
    } else {
      fail("vision: {}: tensor '{}' is {}; vectors must be F32 or F16", path_, name, info.name);
    }
  }
  if (expect >= 0 && int64_t(out.size()) != expect)
    fail("vision: {}: tensor '{}' has {} elements, expected {}", path_, name, out.size(), expect);
  return out;
}

}  // namespace pj::vision
