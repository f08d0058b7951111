#include "models/vision/encoder.h"

#include <cmath>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/kernels/matmul.h"
#include "core/ops/ops_vision.h"

namespace pj::vision {

Activation parse_activation(const std::string& a, const std::string& where) {
  if (a == "gelu") return Activation::gelu;
  if (a == "quick_gelu") return Activation::quick_gelu;
  fail("vision: {}: unsupported hidden_act '{}' (gelu, quick_gelu)", where, a);
}

LayerNames vit_layer_names() {
  return {"layernorm_before", "layernorm_after", "attention.attention.query", "attention.attention.key",
          "attention.attention.value", "attention.output.dense", "intermediate.dense", "output.dense"};
}
LayerNames clip_layer_names() {
  return {"layer_norm1", "layer_norm2", "self_attn.q_proj", "self_attn.k_proj",
          "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1", "mlp.fc2"};
}

namespace {
Matrix checked(const VisionWeights& w, const std::string& name, int64_t rows, int64_t cols) {
  Matrix m = w.matrix(name);
  if (m.rows != rows || m.cols != cols)
    fail("vision: {}: tensor '{}' is {}x{}, expected {}x{}", w.path(), name, m.rows, m.cols, rows, cols);
  return m;
}
}  // namespace

LayerWeights load_layer(const VisionWeights& w, const std::string& p, const LayerNames& nm, const EncoderConfig& c) {
  LayerWeights l;
  l.ln1_w = w.f32(p + nm.ln1 + ".weight", c.dim);
  l.ln1_b = w.f32(p + nm.ln1 + ".bias", c.dim);
  l.ln2_w = w.f32(p + nm.ln2 + ".weight", c.dim);
  l.ln2_b = w.f32(p + nm.ln2 + ".bias", c.dim);
  l.wq = checked(w, p + nm.q + ".weight", c.dim, c.dim);
  l.wk = checked(w, p + nm.k + ".weight", c.dim, c.dim);
  l.wv = checked(w, p + nm.v + ".weight", c.dim, c.dim);
  l.wo = checked(w, p + nm.o + ".weight", c.dim, c.dim);
  l.w1 = checked(w, p + nm.fc1 + ".weight", c.ffn, c.dim);
  l.w2 = checked(w, p + nm.fc2 + ".weight", c.dim, c.ffn);
  l.bq = w.f32(p + nm.q + ".bias", c.dim);
  l.bk = w.f32(p + nm.k + ".bias", c.dim);
  l.bv = w.f32(p + nm.v + ".bias", c.dim);
  l.bo = w.f32(p + nm.o + ".bias", c.dim);
  l.b1 = w.f32(p + nm.fc1 + ".bias", c.ffn);
  l.b2 = w.f32(p + nm.fc2 + ".bias", c.dim);
  return l;
}

void linear(KernelContext& ctx, const Matrix& m, const std::vector<float>& b, const float* x, int64_t n, float* y) {
  matmul(ctx, m.type, m.data, m.rows, m.cols, x, n, y);
  if (!b.empty())
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m.rows; ++j) y[i * m.rows + j] += b[j];
}

void layer_norm_rows(KernelContext& ctx, const float* x, const std::vector<float>& w, const std::vector<float>& b,
                     float* out, int64_t n, int dim, float eps) {
  for (int64_t i = 0; i < n; ++i) ctx.ops().layer_norm(x + i * dim, w.data(), b.data(), out + i * dim, dim, eps);
}

void encoder_forward(KernelContext& ctx, const EncoderConfig& c, const std::vector<LayerWeights>& layers,
                     std::vector<float>& x, int64_t n, bool causal) {
  const int d = c.dim;
  const int hd = d / c.n_head;
  std::vector<float> h(size_t(n) * d), q(h.size()), k(h.size()), v(h.size()), att(h.size()), o(h.size());
  std::vector<float> ff(size_t(n) * c.ffn);
  float scale = 1.0f / std::sqrt(float(hd));
  for (const auto& l : layers) {
    layer_norm_rows(ctx, x.data(), l.ln1_w, l.ln1_b, h.data(), n, d, c.eps);
    linear(ctx, l.wq, l.bq, h.data(), n, q.data());
    linear(ctx, l.wk, l.bk, h.data(), n, k.data());
    linear(ctx, l.wv, l.bv, h.data(), n, v.data());
    ops::self_attention(ctx, q.data(), k.data(), v.data(), n, c.n_head, hd, scale, causal, att.data());
    linear(ctx, l.wo, l.bo, att.data(), n, o.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    layer_norm_rows(ctx, x.data(), l.ln2_w, l.ln2_b, h.data(), n, d, c.eps);
    linear(ctx, l.w1, l.b1, h.data(), n, ff.data());
    if (c.act == Activation::gelu) ops::gelu_exact(ff.data(), ff.data(), int64_t(ff.size()));
    else ops::quick_gelu(ff.data(), ff.data(), int64_t(ff.size()));
    linear(ctx, l.w2, l.b2, ff.data(), n, o.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
  }
}

void l2_normalize(std::vector<float>& v) {
  double s = 0;
  for (float f : v) s += double(f) * f;
  float inv = s > 0 ? float(1.0 / std::sqrt(s)) : 0.0f;
  for (float& f : v) f *= inv;
}

}  // namespace pj::vision
