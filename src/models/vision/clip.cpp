#include "models/vision/clip.h"

#include <cmath>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/ops/ops_vision.h"

namespace pj::vision {

namespace {
EncoderConfig tower_config(const json& c, const std::string& where, int def_dim) {
  auto geti = [&](const char* k, int def) { return c.contains(k) && c[k].is_number_integer() ? c[k].get<int>() : def; };
  EncoderConfig e;
  e.dim = geti("hidden_size", def_dim);
  e.n_head = geti("num_attention_heads", 8);
  e.n_layer = geti("num_hidden_layers", 12);
  e.ffn = geti("intermediate_size", 4 * e.dim);
  e.eps = c.value("layer_norm_eps", 1e-5f);
  e.act = parse_activation(c.value("hidden_act", std::string("quick_gelu")), where);
  if (e.dim <= 0 || e.n_head <= 0 || e.dim % e.n_head || e.n_layer <= 0 || e.n_layer > 1000 || e.ffn <= 0)
    fail("vision: {}: inconsistent CLIP tower config (hidden {}, heads {}, layers {})", where, e.dim, e.n_head, e.n_layer);
  return e;
}
}  // namespace

ClipModel::ClipModel(VisionWeights w) : w_(std::move(w)) {
  const json& c = w_.config();
  json vc = c.value("vision_config", json::object()), tc = c.value("text_config", json::object());
  vcfg_ = tower_config(vc, w_.path() + " vision_config", 768);
  tcfg_ = tower_config(tc, w_.path() + " text_config", 512);
  image_size_ = vc.value("image_size", 224);
  patch_ = vc.value("patch_size", 32);
  if (patch_ <= 0 || image_size_ % patch_) fail("vision: {}: image size {} is not a multiple of patch {}", w_.path(), image_size_, patch_);
  max_pos_ = tc.value("max_position_embeddings", 77);
  eos_id_ = tc.value("eos_token_id", int64_t(49407));
  bos_id_ = tc.value("bos_token_id", int64_t(49406));
  int n = (image_size_ / patch_) * (image_size_ / patch_) + 1;
  patch_w_ = w_.matrix("vision_model.embeddings.patch_embedding.weight");
  if (patch_w_.rows != vcfg_.dim || patch_w_.cols != 3 * patch_ * patch_)
    fail("vision: {}: patch embedding is {}x{}, expected {}x{}", w_.path(), patch_w_.rows, patch_w_.cols, vcfg_.dim, 3 * patch_ * patch_);
  class_emb_ = w_.f32("vision_model.embeddings.class_embedding", vcfg_.dim);
  vpos_ = w_.f32("vision_model.embeddings.position_embedding.weight", int64_t(n) * vcfg_.dim);
  pre_w_ = w_.f32("vision_model.pre_layrnorm.weight", vcfg_.dim);  // (sic) the HF name
  pre_b_ = w_.f32("vision_model.pre_layrnorm.bias", vcfg_.dim);
  post_w_ = w_.f32("vision_model.post_layernorm.weight", vcfg_.dim);
  post_b_ = w_.f32("vision_model.post_layernorm.bias", vcfg_.dim);
  for (int i = 0; i < vcfg_.n_layer; ++i)
    vlayers_.push_back(load_layer(w_, "vision_model.encoder.layers." + std::to_string(i) + ".", clip_layer_names(), vcfg_));
  for (int i = 0; i < tcfg_.n_layer; ++i)
    tlayers_.push_back(load_layer(w_, "text_model.encoder.layers." + std::to_string(i) + ".", clip_layer_names(), tcfg_));
  vproj_ = w_.matrix("visual_projection.weight");
  tproj_ = w_.matrix("text_projection.weight");
  proj_dim_ = int(vproj_.rows);
  if (vproj_.cols != vcfg_.dim || tproj_.cols != tcfg_.dim || tproj_.rows != proj_dim_)
    fail("vision: {}: projection shapes do not match the towers", w_.path());
  tok_emb_ = w_.matrix("text_model.embeddings.token_embedding.weight");
  if (tok_emb_.cols != tcfg_.dim) fail("vision: {}: token embedding width {} != {}", w_.path(), tok_emb_.cols, tcfg_.dim);
  vocab_ = int(tok_emb_.rows);
  tpos_ = w_.f32("text_model.embeddings.position_embedding.weight", int64_t(max_pos_) * tcfg_.dim);
  fin_w_ = w_.f32("text_model.final_layer_norm.weight", tcfg_.dim);
  fin_b_ = w_.f32("text_model.final_layer_norm.bias", tcfg_.dim);
  logit_scale_ = std::exp(w_.f32("logit_scale", 1)[0]);
  json pre = c.contains("preprocessor") ? c["preprocessor"] : load_preprocessor_config(w_.path());
  pre_ = clip_preprocess(pre, image_size_);
}

std::vector<float> ClipModel::image_embeds(KernelContext& ctx, const std::vector<float>& px) const {
  if (px.size() != size_t(3) * image_size_ * image_size_)
    fail("vision: CLIP expects pixel_values of 3x{}x{}, got {} values", image_size_, image_size_, px.size());
  const int d = vcfg_.dim;
  int64_t n = int64_t(image_size_ / patch_) * (image_size_ / patch_) + 1;
  std::vector<float> e(size_t(n) * d), x(size_t(n) * d);
  ops::patch_embed(ctx, px.data(), 3, image_size_, image_size_, patch_, patch_w_.type, patch_w_.data, nullptr, d,
                   e.data() + d);
  std::copy(class_emb_.begin(), class_emb_.end(), e.begin());
  for (size_t i = 0; i < e.size(); ++i) e[i] += vpos_[i];
  layer_norm_rows(ctx, e.data(), pre_w_, pre_b_, x.data(), n, d, vcfg_.eps);
  encoder_forward(ctx, vcfg_, vlayers_, x, n, /*causal=*/false);
  std::vector<float> pooled(d), out(proj_dim_);
  ctx.ops().layer_norm(x.data(), post_w_.data(), post_b_.data(), pooled.data(), d, vcfg_.eps);
  linear(ctx, vproj_, {}, pooled.data(), 1, out.data());
  l2_normalize(out);
  return out;
}

std::vector<float> ClipModel::text_embeds(KernelContext& ctx, const std::vector<int64_t>& ids) const {
  if (ids.empty()) fail("vision: CLIP text of no tokens");
  // Pooling position: the first end-of-text token (transformers, eos_token_id != 2), or the last token.
  size_t n = ids.size();
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == eos_id_) {
      n = i + 1;
      break;
    }
  if (n > size_t(max_pos_)) fail("vision: CLIP text of {} tokens is longer than the {} positions", n, max_pos_);
  const int d = tcfg_.dim;
  std::vector<float> x(n * d);
  const auto& ti = ggml_type_info(tok_emb_.type);
  size_t row_bytes = ggml_row_size(tok_emb_.type, tok_emb_.cols);
  for (size_t t = 0; t < n; ++t) {
    if (ids[t] < 0 || ids[t] >= vocab_) fail("vision: CLIP token id {} outside the vocabulary ({})", ids[t], vocab_);
    ctx.dequantize_row(tok_emb_.type, static_cast<const uint8_t*>(tok_emb_.data) + row_bytes * ids[t], &x[t * d], d);
    for (int j = 0; j < d; ++j) x[t * d + j] += tpos_[t * d + j];
  }
  (void)ti;
  encoder_forward(ctx, tcfg_, tlayers_, x, int64_t(n), /*causal=*/true);
  std::vector<float> pooled(d), out(proj_dim_);
  ctx.ops().layer_norm(&x[(n - 1) * d], fin_w_.data(), fin_b_.data(), pooled.data(), d, tcfg_.eps);
  linear(ctx, tproj_, {}, pooled.data(), 1, out.data());
  l2_normalize(out);
  return out;
}

}  // namespace pj::vision
