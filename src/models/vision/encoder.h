// The pre-norm transformer encoder shared by ViT and CLIP (both towers): per layer
//   h = x + O(attn(LN1(x))),  x = h + W2 act(W1 LN2(h) + b1) + b2
// with every Linear on the kernels' matmul, so any weight type works.
#pragma once

#include <string>
#include <vector>

#include "models/vision/vision_weights.h"

namespace pj {
class KernelContext;
}

namespace pj::vision {

enum class Activation { gelu, quick_gelu };
Activation parse_activation(const std::string& hidden_act, const std::string& where);

struct EncoderConfig {
  int dim = 0, n_head = 0, n_layer = 0, ffn = 0;
  float eps = 1e-5f;
  Activation act = Activation::gelu;
};

struct LayerWeights {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b, bq, bk, bv, bo, b1, b2;
  Matrix wq, wk, wv, wo, w1, w2;
};

// Tensor names of one layer relative to its prefix (ViT and CLIP spell them differently).
struct LayerNames {
  std::string ln1, ln2, q, k, v, o, fc1, fc2;  // each without ".weight"/".bias"
};
LayerNames vit_layer_names();
LayerNames clip_layer_names();

// Binds layer i's weights at "<prefix><i>." and checks their shapes against cfg.
LayerWeights load_layer(const VisionWeights& w, const std::string& prefix, const LayerNames& names,
                        const EncoderConfig& cfg);

// y (n, m.rows) = x (n, m.cols) W^T + b (b may be empty).
void linear(KernelContext& ctx, const Matrix& m, const std::vector<float>& b, const float* x, int64_t n, float* y);
void layer_norm_rows(KernelContext& ctx, const float* x, const std::vector<float>& w, const std::vector<float>& b,
                     float* out, int64_t n, int dim, float eps);

// x: (n, dim), updated in place.
void encoder_forward(KernelContext& ctx, const EncoderConfig& cfg, const std::vector<LayerWeights>& layers,
                     std::vector<float>& x, int64_t n, bool causal);

// L2-normalises v in place.
void l2_normalize(std::vector<float>& v);

}  // namespace pj::vision
