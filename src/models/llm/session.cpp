// The shared decoder forward pass. Shapes: n tokens per call, E = n_embd, Q = n_head * head_dim,
// KV = n_head_kv * head_dim, F = n_ff, V = n_vocab.
#include "models/llm/session.h"
#include "models/llm/arch.h"

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/kernels/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pj::llm {

namespace {
size_t kv_elem_size(ops::KvType t) { return t == ops::KvType::f32 ? 4 : 2; }
}  // namespace

LlmSession::LlmSession(const LlmModel& model, KernelContext& ctx, SessionOptions opts)
    : model_(model), ctx_(ctx), opts_(opts) {
  const LlmHparams& h = model.hparams();
  n_ctx_ = std::max<int64_t>(1, std::min(opts.n_ctx, h.n_ctx_train > 0 ? h.n_ctx_train : opts.n_ctx));
  const size_t bytes = size_t(h.n_layer) * size_t(n_ctx_) * size_t(h.kv_dim()) * kv_elem_size(opts.kv_type);
  k_cache_.assign(bytes, 0);
  v_cache_.assign(bytes, 0);
}

void LlmSession::truncate(int64_t n) {
  if (n < 0 || n > n_past_) fail("llm: cannot truncate the cache to {} positions (it holds {})", n, n_past_);
  n_past_ = n;
}

void LlmSession::matmul(const Weight& w, const float* x, int64_t n, float* y) {
  if (opts_.on_matmul) opts_.on_matmul(w.t ? std::string_view(w.t->name) : std::string_view(), x, n, w.cols);
  pj::matmul(ctx_, w.type, w.data, w.rows, w.cols, x, n, y);
}

void LlmSession::add_bias(const Weight& b, float* y, int64_t n) {
  if (!b) return;
  const float* bias = static_cast<const float*>(b.data);
  const int64_t d = b.cols;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < d; ++i) y[t * d + i] += bias[i];
}

void LlmSession::rms_norm_rows(const float* x, const Weight& w, float* out, int64_t n_rows, int64_t n) {
  const float* wd = static_cast<const float*>(w.data);
  const float eps = model_.hparams().norm_eps;
  const auto norm = ctx_.ops().rms_norm_rows;
  if (n_rows < 8) return norm(x, wd, out, n_rows, n, eps);  // one token: not worth waking the pool
  ctx_.pool().parallel_for(n_rows, [&](int64_t b, int64_t e, int) { norm(x + b * n, wd, out + b * n, e - b, n, eps); });
}

void LlmSession::attention_layer(int64_t il, int64_t n) {
  const LlmHparams& h = model_.hparams();
  const LayerWeights& L = model_.layers()[size_t(il)];
  const int64_t Q = h.q_dim(), KV = h.kv_dim(), D = h.head_dim;

  matmul(L.wq, h_.data(), n, q_.data());
  matmul(L.wk, h_.data(), n, k_.data());
  matmul(L.wv, h_.data(), n, v_.data());
  add_bias(L.bq, q_.data(), n);
  add_bias(L.bk, k_.data(), n);
  add_bias(L.bv, v_.data(), n);
  if (L.q_norm) rms_norm_rows(q_.data(), L.q_norm, q_.data(), n * h.n_head, D);
  if (L.k_norm) rms_norm_rows(k_.data(), L.k_norm, k_.data(), n * h.n_head_kv, D);

  const bool swa = h.layer_swa[size_t(il)];
  const ops::RopeConfig& rope = swa ? h.rope_swa : h.rope;
  cos_.resize(size_t(rope.n_dims / 2));
  sin_.resize(size_t(rope.n_dims / 2));
  const size_t es = kv_elem_size(opts_.kv_type);
  uint8_t* kc = k_cache_.data() + size_t(il) * size_t(n_ctx_) * size_t(KV) * es;
  uint8_t* vc = v_cache_.data() + size_t(il) * size_t(n_ctx_) * size_t(KV) * es;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t pos = n_past_ + t;
    ops::rope_cos_sin(rope, pos, cos_.data(), sin_.data());
    ops::rope_apply(rope, cos_.data(), sin_.data(), q_.data() + t * Q, int(h.n_head), int(D));
    ops::rope_apply(rope, cos_.data(), sin_.data(), k_.data() + t * KV, int(h.n_head_kv), int(D));
    const float* kt = k_.data() + t * KV;
    const float* vt = v_.data() + t * KV;
    if (opts_.kv_type == ops::KvType::f32) {
      std::memcpy(kc + size_t(pos) * KV * es, kt, size_t(KV) * es);
      std::memcpy(vc + size_t(pos) * KV * es, vt, size_t(KV) * es);
    } else {
      uint16_t* kd = reinterpret_cast<uint16_t*>(kc) + size_t(pos) * KV;
      uint16_t* vd = reinterpret_cast<uint16_t*>(vc) + size_t(pos) * KV;
      for (int64_t i = 0; i < KV; ++i) {
        kd[i] = f32_to_fp16(kt[i]);
        vd[i] = f32_to_fp16(vt[i]);
      }
    }
  }

  ops::AttentionParams ap;
  ap.n_head = int(h.n_head);
  ap.n_head_kv = int(h.n_head_kv);
  ap.head_dim = int(D);
  ap.scale = h.attn_scale > 0 ? h.attn_scale : 1.0f / std::sqrt(float(D));
  ap.softcap = h.attn_softcap;
  ap.window = swa ? int(h.sliding_window) : 0;
  ops::KvView kv{kc, vc, opts_.kv_type, KV};
  const int64_t n_threads = ctx_.pool().size();
  const int64_t span = ops::attention_scratch_floats(ap, int(n), n_past_ + n);
  scratch_.resize(size_t(n_threads) * size_t(span));
  ctx_.pool().parallel_for(h.n_head, [&](int64_t b, int64_t e, int tid) {
    ops::attention_heads(ctx_.ops(), ap, q_.data(), int(n), n_past_, kv, att_.data(), int(b), int(e),
                         scratch_.data() + size_t(tid) * size_t(span));
  });
  matmul(L.wo, att_.data(), n, o_.data());
  if (L.post_attn_norm) rms_norm_rows(o_.data(), L.post_attn_norm, o_.data(), n, h.n_embd);
}

std::span<const float> LlmSession::decode(std::span<const int32_t> tokens, bool all_logits) {
  const LlmHparams& h = model_.hparams();
  const int64_t n = int64_t(tokens.size());
  if (n == 0) fail("llm: decode called with no tokens");
  if (n_past_ + n > n_ctx_)
    fail("llm: context is full ({} positions; {} in use, {} more requested)", n_ctx_, n_past_, n);
  const int64_t E = h.n_embd, F = h.n_ff, V = h.n_vocab;
  x_.resize(size_t(n * E));
  h_.resize(size_t(n * E));
  q_.resize(size_t(n * h.q_dim()));
  att_.resize(size_t(n * h.q_dim()));
  k_.resize(size_t(n * h.kv_dim()));
  v_.resize(size_t(n * h.kv_dim()));
  o_.resize(size_t(n * E));
  gate_.resize(size_t(n * F));
  up_.resize(size_t(n * F));

  // x: (n, E) embeddings
  const Weight& emb = model_.token_embd();
  const size_t row_bytes = ggml_row_size(emb.type, uint64_t(E));
  const float escale = h.embed_scale ? std::sqrt(float(E)) : 1.0f;
  for (int64_t t = 0; t < n; ++t) {
    const int32_t id = tokens[size_t(t)];
    if (id < 0 || id >= V) fail("llm: token id {} is outside the vocabulary (0..{})", id, V - 1);
    ctx_.dequantize_row(emb.type, static_cast<const uint8_t*>(emb.data) + size_t(id) * row_bytes,
                        x_.data() + t * E, E);
    if (escale != 1.0f)
      for (int64_t i = 0; i < E; ++i) x_[size_t(t * E + i)] *= escale;
  }

  if (opts_.on_hidden) opts_.on_hidden(0, x_.data(), n);
  for (int64_t il = 0; il < h.n_layer; ++il) {
    const LayerWeights& L = model_.layers()[size_t(il)];
    rms_norm_rows(x_.data(), L.attn_norm, h_.data(), n, E);
    attention_layer(il, n);
    for (int64_t i = 0; i < n * E; ++i) x_[size_t(i)] += o_[size_t(i)];

    rms_norm_rows(x_.data(), L.ffn_norm, h_.data(), n, E);
    matmul(L.ffn_gate, h_.data(), n, gate_.data());
    matmul(L.ffn_up, h_.data(), n, up_.data());
    if (h.act == Activation::silu) {
      ctx_.ops().swiglu(gate_.data(), up_.data(), gate_.data(), n * F);  // llama.cpp's fused op
    } else {
      geglu_ggml(gate_.data(), up_.data(), gate_.data(), n * F);  // llama.cpp's fused op (F16 gelu table)
    }
    matmul(L.ffn_down, gate_.data(), n, o_.data());
    if (L.post_ffw_norm) rms_norm_rows(o_.data(), L.post_ffw_norm, o_.data(), n, E);
    for (int64_t i = 0; i < n * E; ++i) x_[size_t(i)] += o_[size_t(i)];
    if (opts_.on_hidden) opts_.on_hidden(il + 1, x_.data(), n);
  }
  n_past_ += n;

  // Only the rows whose logits are wanted go through the output layer.
  const int64_t first = all_logits ? 0 : n - 1;
  const int64_t m = n - first;
  rms_norm_rows(x_.data() + first * E, model_.output_norm(), h_.data(), m, E);
  logits_.resize(size_t(m * V));
  matmul(model_.output(), h_.data(), m, logits_.data());
  if (h.final_softcap > 0)
    for (float& l : logits_) l = h.final_softcap * std::tanh(l / h.final_softcap);
  return {logits_.data(), logits_.size()};
}

}  // namespace pj::llm
