// One loaded vision model (ViT, CLIP or a TFLite image classifier such as MobileNet v2) behind the
// operations the CLI and the server offer: classify an image (top-k with probabilities and real label
// names), zero-shot classify against given labels (CLIP, prompts from a template), image and text
// embeddings (CLIP).
// TFLite (a .tflite file): the image is resized to the model's input size (PIL bilinear, as the reference
// in tests/vision/test_tflite.cpp), fed as uint8 RGB to a uint8 input (its own scale/zero point) or as
// (x - 127.5) / 127.5 to a float input (TF-Slim / TF Hub's convention), run by our interpreter (fake
// quantization on); outputs of 1000/1001 classes get the ImageNet names (1001: "background" first).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/image/image.h"

namespace pj {
class KernelContext;
}

namespace pj::vision {

struct Scored {
  std::string label;
  int id = 0;
  float score = 0;  // probability
};

// OpenAI's CLIP merges file: $PAJAMAS_CLIP_BPE, else models/clip-bpe/bpe_simple_vocab_16e6.txt.gz in the
// working directory or above the binary's folder (setup.sh installs it); "" if none.
std::string find_clip_bpe(const std::string& exe_path);

// "a, b ,c" -> {"a", "b", "c"} (empty items dropped).
std::vector<std::string> split_labels(const std::string& s);

class VisionService {
 public:
  // exe_path locates the ImageNet label file (see labels.h); "/proc/self/exe" is resolved.
  VisionService(const std::string& model_path, const std::string& exe_path = "/proc/self/exe");
  ~VisionService();
  const std::string& type() const { return type_; }  // "vit", "clip" or "tflite"
  const std::string& path() const { return path_; }

  // ViT / TFLite: probabilities over its classes (labels must be empty). CLIP: zero-shot over `labels`
  // (required).
  std::vector<Scored> classify(KernelContext& ctx, const image::Image& img, const std::vector<std::string>& labels,
                               const std::string& templ, int top_k) const;
  // CLIP only: normalised embeddings.
  std::vector<float> image_embedding(KernelContext& ctx, const image::Image& img) const;
  std::vector<float> text_embedding(KernelContext& ctx, const std::string& text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string type_, path_;
};

}  // namespace pj::vision
