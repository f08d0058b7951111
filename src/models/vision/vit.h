// ViT for image classification (Hugging Face ViTForImageClassification): patch embedding, [CLS] + position
// embeddings, pre-norm encoder, final layer norm, classifier on [CLS]. Pre-processing as ViTImageProcessor.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/image/image.h"
#include "models/vision/encoder.h"
#include "models/vision/vision_weights.h"

namespace pj::vision {

struct Preprocess {
  enum class Mode { resize_exact, shortest_edge_crop } mode = Mode::resize_exact;
  int size = 224, crop = 224;
  image::Filter filter = image::Filter::bilinear;
  float rescale = 1.0f / 255.0f;
  std::array<float, 3> mean{0.5f, 0.5f, 0.5f}, std{0.5f, 0.5f, 0.5f};
  // (3, crop or size, same) f32, as the Hugging Face image processor gives pixel_values.
  std::vector<float> operator()(const image::Image& img) const;
};
// From preprocessor_config.json keys found in the model config (or defaults for the model type).
Preprocess vit_preprocess(const json& preprocessor, int image_size);
Preprocess clip_preprocess(const json& preprocessor, int image_size);
// Reads "<folder>/preprocessor_config.json" for a folder, or the GGUF key copy, or {} if none.
json load_preprocessor_config(const std::string& model_path);

class VitModel {
 public:
  explicit VitModel(VisionWeights w);
  int image_size() const { return image_size_; }
  int n_labels() const { return n_labels_; }
  const Preprocess& preprocess() const { return pre_; }
  // Label names by class id from the config's id2label (may be generic "label_3"/"LABEL_3" names).
  const std::vector<std::string>& config_labels() const { return labels_; }
  // pixel_values (3, S, S) -> logits (n_labels).
  std::vector<float> logits(KernelContext& ctx, const std::vector<float>& pixels) const;
  const VisionWeights& weights() const { return w_; }

 private:
  VisionWeights w_;
  EncoderConfig cfg_;
  int image_size_ = 224, patch_ = 16, channels_ = 3, n_labels_ = 0;
  Matrix patch_w_, classifier_;
  std::vector<float> patch_b_, cls_, pos_, ln_w_, ln_b_, cls_b_;
  std::vector<LayerWeights> layers_;
  std::vector<std::string> labels_;
  Preprocess pre_;
};

}  // namespace pj::vision
