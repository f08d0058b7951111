// CLIP (Hugging Face CLIPModel): a vision tower (patch embedding without bias, class embedding, position
// embeddings, pre-layernorm, encoder, post-layernorm of [CLS], visual projection) and a text tower (token +
// position embeddings, causal encoder, final layer norm, the end-of-text position, text projection).
// Embeddings are L2-normalised; logits = exp(logit_scale) * cos similarity.
#pragma once

#include <string>
#include <vector>

#include "models/vision/encoder.h"
#include "models/vision/vit.h"

namespace pj::vision {

class ClipModel {
 public:
  explicit ClipModel(VisionWeights w);
  int image_size() const { return image_size_; }
  int projection_dim() const { return proj_dim_; }
  int max_positions() const { return max_pos_; }
  int64_t eos_token_id() const { return eos_id_; }
  int64_t bos_token_id() const { return bos_id_; }
  float logit_scale() const { return logit_scale_; }  // exp(logit_scale), the multiplier
  const Preprocess& preprocess() const { return pre_; }
  const VisionWeights& weights() const { return w_; }

  // pixel_values (3, S, S) -> normalised image embedding (projection_dim).
  std::vector<float> image_embeds(KernelContext& ctx, const std::vector<float>& pixels) const;
  // Token ids (start, text, end; anything after the first end token is ignored, as the causal mask makes
  // it irrelevant) -> normalised text embedding (projection_dim).
  std::vector<float> text_embeds(KernelContext& ctx, const std::vector<int64_t>& ids) const;

 private:
  VisionWeights w_;
  EncoderConfig vcfg_, tcfg_;
  int image_size_ = 224, patch_ = 32, proj_dim_ = 512, max_pos_ = 77, vocab_ = 0;
  int64_t eos_id_ = 49407, bos_id_ = 49406;
  float logit_scale_ = 1.0f;
  Matrix patch_w_, vproj_, tproj_, tok_emb_;
  std::vector<float> class_emb_, vpos_, pre_w_, pre_b_, post_w_, post_b_, tpos_, fin_w_, fin_b_;
  std::vector<LayerWeights> vlayers_, tlayers_;
  Preprocess pre_;
};

}  // namespace pj::vision
