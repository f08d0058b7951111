// Weights and configuration of a vision model, from a Hugging Face folder (config.json + safetensors) or a
// GGUF written by `pajamas convert` (tensors under their Hugging Face names, config.json kept verbatim in
// the key "vision.hf_config"). Matrices are bound without copying, in their stored type (F32, F16, BF16,
// or any quantized type the kernels have); vectors (biases, norms, embeddings) are read as f32.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/base/ggml_types.h"

namespace pj::vision {

using json = nlohmann::json;

// A matrix (rows, cols), row-major, rows of ggml_row_size(type, cols) bytes.
struct Matrix {
  GgmlType type = GgmlType::F32;
  const void* data = nullptr;
  int64_t rows = 0, cols = 0;
};

class VisionWeights {
 public:
  // A folder with config.json and model.safetensors, or a .gguf file.
  static VisionWeights open(const std::string& path);
  ~VisionWeights();
  VisionWeights(VisionWeights&&) noexcept;
  VisionWeights& operator=(VisionWeights&&) noexcept;

  const json& config() const { return config_; }
  const std::string& path() const { return path_; }
  bool is_gguf() const;
  bool has(const std::string& name) const;
  // Shape outermost first (PyTorch order), e.g. {64, 3, 16, 16}.
  std::vector<int64_t> shape(const std::string& name) const;
  // A 2-D weight [rows, cols] (or a conv weight flattened to [shape[0], rest]); pj::Error if absent.
  Matrix matrix(const std::string& name) const;
  // Any tensor as f32, checked to hold `expect` elements when expect >= 0.
  std::vector<float> f32(const std::string& name, int64_t expect = -1) const;
  // Every tensor name (for the converter).
  std::vector<std::string> names() const;

 private:
  VisionWeights() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  json config_;
  std::string path_;
};

// "vit", "clip" (model_type of config.json), or "" for others.
std::string vision_model_type(const json& config);

}  // namespace pj::vision
