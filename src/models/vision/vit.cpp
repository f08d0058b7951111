#include "models/vision/vit.h"

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/kernels/context.h"
#include "core/ops/ops_vision.h"

namespace pj::vision {

std::vector<float> Preprocess::operator()(const image::Image& img) const {
  if (mode == Mode::resize_exact) return image::to_chw(image::resize(img, size, size, filter), mean, std, rescale);
  image::Image r = image::resize_shortest_edge(img, size, filter);
  return image::to_chw(image::center_crop(r, crop, crop), mean, std, rescale);
}

namespace {
image::Filter pil_filter(int resample, image::Filter fallback) {
  switch (resample) {  // PIL.Image.Resampling ids
    case 0: return image::Filter::nearest;
    case 2: return image::Filter::bilinear;
    case 3: return image::Filter::bicubic;
    default: return fallback;
  }
}
void read_norm(const json& p, Preprocess& out) {
  auto arr = [&](const char* key, std::array<float, 3>& dst) {
    if (p.contains(key) && p[key].is_array() && p[key].size() == 3)
      for (int i = 0; i < 3; ++i) dst[i] = p[key][i].get<float>();
  };
  arr("image_mean", out.mean);
  arr("image_std", out.std);
  if (p.contains("rescale_factor") && p["rescale_factor"].is_number()) out.rescale = p["rescale_factor"].get<float>();
}
int size_key(const json& p, const char* key, const char* sub, int fallback) {
  if (!p.contains(key)) return fallback;
  const auto& v = p[key];
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_object() && v.contains(sub) && v[sub].is_number_integer()) return v[sub].get<int>();
  return fallback;
}
}  // namespace

Preprocess vit_preprocess(const json& p, int image_size) {
  Preprocess out;
  out.mode = Preprocess::Mode::resize_exact;
  out.size = out.crop = size_key(p, "size", "height", image_size);
  out.filter = pil_filter(p.value("resample", 2), image::Filter::bilinear);
  read_norm(p, out);
  return out;
}

Preprocess clip_preprocess(const json& p, int image_size) {
  Preprocess out;
  out.mode = Preprocess::Mode::shortest_edge_crop;
  out.size = size_key(p, "size", "shortest_edge", image_size);
  out.crop = size_key(p, "crop_size", "height", image_size);
  out.filter = pil_filter(p.value("resample", 3), image::Filter::bicubic);
  out.mean = {0.48145466f, 0.4578275f, 0.40821073f};  // OpenAI CLIP's defaults (CLIPImageProcessor)
  out.std = {0.26862954f, 0.26130258f, 0.27577711f};
  read_norm(p, out);
  return out;
}

json load_preprocessor_config(const std::string& path) {
  if (is_directory(path)) {
    std::string f = path + "/preprocessor_config.json";
    if (!file_exists(f)) return json::object();
    try {
      return json::parse(read_text_file(f));
    } catch (const json::exception& e) {
      fail("vision: {}: invalid JSON ({})", f, e.what());
    }
  }
  return json::object();
}

VitModel::VitModel(VisionWeights w) : w_(std::move(w)) {
  const json& c = w_.config();
  auto geti = [&](const char* k, int def) { return c.contains(k) && c[k].is_number_integer() ? c[k].get<int>() : def; };
  cfg_.dim = geti("hidden_size", 768);
  cfg_.n_head = geti("num_attention_heads", 12);
  cfg_.n_layer = geti("num_hidden_layers", 12);
  cfg_.ffn = geti("intermediate_size", 3072);
  cfg_.eps = c.value("layer_norm_eps", 1e-12f);
  cfg_.act = parse_activation(c.value("hidden_act", std::string("gelu")), w_.path());
  image_size_ = geti("image_size", 224);
  patch_ = geti("patch_size", 16);
  channels_ = geti("num_channels", 3);
  if (cfg_.dim <= 0 || cfg_.n_head <= 0 || cfg_.dim % cfg_.n_head || patch_ <= 0 || image_size_ % patch_ ||
      cfg_.n_layer <= 0 || cfg_.n_layer > 1000)
    fail("vision: {}: inconsistent ViT config (hidden {}, heads {}, image {}, patch {}, layers {})", w_.path(),
         cfg_.dim, cfg_.n_head, image_size_, patch_, cfg_.n_layer);
  int n_patch = (image_size_ / patch_) * (image_size_ / patch_);
  patch_w_ = w_.matrix("vit.embeddings.patch_embeddings.projection.weight");
  if (patch_w_.rows != cfg_.dim || patch_w_.cols != int64_t(channels_) * patch_ * patch_)
    fail("vision: {}: patch embedding is {}x{}, expected {}x{}", w_.path(), patch_w_.rows, patch_w_.cols, cfg_.dim,
         channels_ * patch_ * patch_);
  patch_b_ = w_.f32("vit.embeddings.patch_embeddings.projection.bias", cfg_.dim);
  cls_ = w_.f32("vit.embeddings.cls_token", cfg_.dim);
  pos_ = w_.f32("vit.embeddings.position_embeddings", int64_t(n_patch + 1) * cfg_.dim);
  for (int i = 0; i < cfg_.n_layer; ++i)
    layers_.push_back(load_layer(w_, "vit.encoder.layer." + std::to_string(i) + ".", vit_layer_names(), cfg_));
  ln_w_ = w_.f32("vit.layernorm.weight", cfg_.dim);
  ln_b_ = w_.f32("vit.layernorm.bias", cfg_.dim);
  classifier_ = w_.matrix("classifier.weight");
  if (classifier_.cols != cfg_.dim) fail("vision: {}: classifier has {} columns, expected {}", w_.path(), classifier_.cols, cfg_.dim);
  n_labels_ = int(classifier_.rows);
  cls_b_ = w_.f32("classifier.bias", n_labels_);
  labels_.resize(n_labels_);
  if (c.contains("id2label") && c["id2label"].is_object())
    for (const auto& [k, v] : c["id2label"].items()) {
      int id = std::atoi(k.c_str());
      if (id >= 0 && id < n_labels_ && v.is_string()) labels_[id] = v.get<std::string>();
    }
  json pre = c.contains("preprocessor") ? c["preprocessor"] : load_preprocessor_config(w_.path());
  pre_ = vit_preprocess(pre, image_size_);
}

std::vector<float> VitModel::logits(KernelContext& ctx, const std::vector<float>& px) const {
  if (px.size() != size_t(channels_) * image_size_ * image_size_)
    fail("vision: ViT expects pixel_values of 3x{}x{} ({} values), got {}", image_size_, image_size_,
         size_t(channels_) * image_size_ * image_size_, px.size());
  const int d = cfg_.dim;
  int64_t np = int64_t(image_size_ / patch_) * (image_size_ / patch_), n = np + 1;
  std::vector<float> x(size_t(n) * d);  // (n, d): [CLS], patches
  ops::patch_embed(ctx, px.data(), channels_, image_size_, image_size_, patch_, patch_w_.type, patch_w_.data,
                   patch_b_.data(), d, x.data() + d);
  std::copy(cls_.begin(), cls_.end(), x.begin());
  for (size_t i = 0; i < x.size(); ++i) x[i] += pos_[i];
  encoder_forward(ctx, cfg_, layers_, x, n, /*causal=*/false);
  std::vector<float> h(d), out(n_labels_);
  ctx.ops().layer_norm(x.data(), ln_w_.data(), ln_b_.data(), h.data(), d, cfg_.eps);
  linear(ctx, classifier_, cls_b_, h.data(), 1, out.data());
  return out;
}

}  // namespace pj::vision
