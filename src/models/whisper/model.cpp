// The Whisper forward pass: encoder, cross-attention keys/values, incremental decoder.
#include "models/whisper/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/kernels/context.h"
#include "core/kernels/matmul.h"
#include "core/ops/attention_full.h"
#include "core/ops/conv1d.h"
#include "core/ops/gelu.h"

namespace pj::whisper {
namespace {

// y[n][rows] = x[n][cols] W^T + b
void linear(KernelContext& ctx, const Linear& l, const float* x, int64_t n, float* y) {
  matmul(ctx, l.w.type, l.w.data, l.w.rows, l.w.cols, x, n, y);
  if (!l.b.empty()) {
    const int64_t r = l.w.rows;
    ctx.pool().parallel_for(n, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t)
        for (int64_t i = 0; i < r; ++i) y[t * r + i] += l.b[size_t(i)];
    });
  }
}

void layer_norm(KernelContext& ctx, const Norm& nm, const float* x, int64_t n, int64_t d, float* y) {
  const auto ln = ctx.ops().layer_norm;
  ctx.pool().parallel_for(n, [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) ln(x + t * d, nm.w.data(), nm.b.data(), y + t * d, d, 1e-5f);
  });
}

void gelu(KernelContext& ctx, float* x, int64_t n) {
  ctx.pool().parallel_for(n, [&](int64_t b, int64_t e, int) { ops::gelu_erf(x + b, x + b, e - b); });
}

// ----- binding -----

std::vector<float> to_f32(const RawTensor& t, const std::string& name, const std::string& src) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  std::vector<float> out(static_cast<size_t>(n));
  switch (t.type) {
    case GgmlType::F32: std::memcpy(out.data(), t.data, size_t(n) * 4); break;
    case GgmlType::F16: {
      const auto* p = static_cast<const uint16_t*>(t.data);
      for (int64_t i = 0; i < n; ++i) out[size_t(i)] = fp16_to_f32(p[i]);
      break;
    }
    case GgmlType::BF16: {
      const auto* p = static_cast<const uint16_t*>(t.data);
      for (int64_t i = 0; i < n; ++i) out[size_t(i)] = bf16_to_f32(p[i]);
      break;
    }
    default:
      fail("whisper: {}: tensor '{}' has type {}; expected F32, F16 or BF16", src, name,
           ggml_type_info(t.type).name);
  }
  return out;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

struct Binder {
  Model& m;
  const std::function<const RawTensor*(const std::string&)>& get;

  const RawTensor& need(const std::string& name, std::vector<int64_t> shape) {
    const RawTensor* t = get(name);
    if (!t) fail("whisper: {}: missing tensor '{}'", m.source, name);
    // A matrix may be stored 2-D or with its trailing dims merged; compare element counts per row too.
    if (t->shape != shape) {
      fail("whisper: {}: tensor '{}' has shape {}, expected {}", m.source, name, shape_str(t->shape),
           shape_str(shape));
    }
    return *t;
  }
  std::vector<float> vec(const std::string& name, std::vector<int64_t> shape) {
    return to_f32(need(name, shape), name, m.source);
  }
  Matrix matrix(const std::string& name, int64_t rows, int64_t cols, std::vector<int64_t> shape = {}) {
    if (shape.empty()) shape = {rows, cols};
    const RawTensor& t = need(name, shape);
    const auto* info = ggml_type_info(uint32_t(t.type));
    if (!info || cols % info->block_size != 0)
      fail("whisper: {}: tensor '{}': {} rows of {} values are not whole {} blocks", m.source, name, rows, cols,
           info ? info->name : "?");
    return Matrix{t.type, t.data, rows, cols};
  }
  Linear lin(const std::string& prefix, int64_t rows, int64_t cols, bool bias = true) {
    Linear l;
    l.w = matrix(prefix + ".weight", rows, cols);
    if (bias) {
      l.b = vec(prefix + ".bias", {rows});
    } else if (const RawTensor* b = get(prefix + ".bias")) {  // k projections: CTranslate2 stores zeros
      l.b = to_f32(*b, prefix + ".bias", m.source);
      if (int64_t(l.b.size()) != rows) fail("whisper: {}: tensor '{}.bias' has the wrong size", m.source, prefix);
    }
    return l;
  }
  Norm norm(const std::string& prefix, int64_t d) { return Norm{vec(prefix + ".weight", {d}), vec(prefix + ".bias", {d})}; }
  Attention attn(const std::string& prefix, int64_t d) {
    return Attention{lin(prefix + "_q", d, d), lin(prefix + "_k", d, d, false), lin(prefix + "_v", d, d),
                     lin(prefix + "_out", d, d)};
  }
};

}  // namespace

void bind_weights(Model& m, const std::function<const RawTensor*(const std::string&)>& get) {
  HParams& hp = m.hp;
  if (hp.n_vocab <= 0 || hp.n_mels <= 0 || hp.n_audio_state <= 0 || hp.n_text_state <= 0 || hp.n_audio_head <= 0 ||
      hp.n_text_head <= 0 || hp.n_audio_layer <= 0 || hp.n_text_layer <= 0 || hp.n_audio_ctx <= 0 ||
      hp.n_text_ctx <= 0 || hp.n_audio_ffn <= 0 || hp.n_text_ffn <= 0 || hp.n_audio_state % hp.n_audio_head ||
      hp.n_text_state % hp.n_text_head || hp.n_audio_layer > 256 || hp.n_text_layer > 256 || hp.n_text_ctx > 65536 ||
      hp.n_audio_ctx > 65536)
    fail("whisper: {}: bad hyper-parameters", m.source);
  if (hp.n_vocab < 51864) fail("whisper: {}: vocabulary of {} tokens is smaller than Whisper's", m.source, hp.n_vocab);
  Binder b{m, get};
  const int64_t da = hp.n_audio_state, dt = hp.n_text_state;
  m.conv1.w = b.matrix("encoder.conv1.weight", da, int64_t(hp.n_mels) * 3, {da, hp.n_mels, 3});
  m.conv1.b = b.vec("encoder.conv1.bias", {da});
  m.conv2.w = b.matrix("encoder.conv2.weight", da, da * 3, {da, da, 3});
  m.conv2.b = b.vec("encoder.conv2.bias", {da});
  m.enc_pos = b.vec("encoder.position_embd", {hp.n_audio_ctx, da});
  m.enc.clear();
  for (int i = 0; i < hp.n_audio_layer; ++i) {
    const std::string p = "encoder.blk." + std::to_string(i) + ".";
    EncoderLayer l;
    l.attn_norm = b.norm(p + "attn_norm", da);
    l.attn = b.attn(p + "attn", da);
    l.ffn_norm = b.norm(p + "ffn_norm", da);
    l.ffn_up = b.lin(p + "ffn_up", hp.n_audio_ffn, da);
    l.ffn_down = b.lin(p + "ffn_down", da, hp.n_audio_ffn);
    m.enc.push_back(std::move(l));
  }
  m.enc_norm = b.norm("encoder.norm", da);
  m.tok_emb = b.matrix("decoder.token_embd.weight", hp.n_vocab, dt);
  m.output = get("decoder.output.weight") ? b.matrix("decoder.output.weight", hp.n_vocab, dt) : m.tok_emb;
  m.dec_pos = b.vec("decoder.position_embd", {hp.n_text_ctx, dt});
  m.dec.clear();
  for (int i = 0; i < hp.n_text_layer; ++i) {
    const std::string p = "decoder.blk." + std::to_string(i) + ".";
    DecoderLayer l;
    l.attn_norm = b.norm(p + "attn_norm", dt);
    l.attn = b.attn(p + "attn", dt);
    l.cross_norm = b.norm(p + "cross_attn_norm", dt);
    l.cross = b.attn(p + "cross_attn", dt);
    l.ffn_norm = b.norm(p + "ffn_norm", dt);
    l.ffn_up = b.lin(p + "ffn_up", hp.n_text_ffn, dt);
    l.ffn_down = b.lin(p + "ffn_down", dt, hp.n_text_ffn);
    m.dec.push_back(std::move(l));
  }
  m.dec_norm = b.norm("decoder.norm", dt);
}

void encode(KernelContext& ctx, const Model& m, const float* mel, std::vector<float>& out) {
  const HParams& hp = m.hp;
  const int64_t n_frames = 2 * int64_t(hp.n_audio_ctx), d = hp.n_audio_state, T = hp.n_audio_ctx;
  const int n_head = hp.n_audio_head, hd = int(d / n_head);
  // mel [n_mels][n_frames] -> time-major [n_frames][n_mels]
  std::vector<float> xt(size_t(n_frames * hp.n_mels));
  for (int c = 0; c < hp.n_mels; ++c)
    for (int64_t t = 0; t < n_frames; ++t) xt[size_t(t * hp.n_mels + c)] = mel[c * n_frames + t];
  std::vector<float> cols, h1(size_t(n_frames * d));
  ops::conv1d(ctx, {hp.n_mels, d, 3, 1, 1, n_frames}, xt.data(), m.conv1.w.type, m.conv1.w.data, m.conv1.b.data(),
              h1.data(), cols);
  gelu(ctx, h1.data(), int64_t(h1.size()));
  out.assign(size_t(T * d), 0.0f);
  ops::conv1d(ctx, {d, d, 3, 2, 1, n_frames}, h1.data(), m.conv2.w.type, m.conv2.w.data, m.conv2.b.data(),
              out.data(), cols);
  gelu(ctx, out.data(), int64_t(out.size()));
  for (size_t i = 0; i < out.size(); ++i) out[i] += m.enc_pos[i];

  std::vector<float> xn(size_t(T * d)), q(size_t(T * d)), kv(size_t(T * d)), k(size_t(T * d)), vt(size_t(T * d)),
      att(size_t(T * d)), ff(size_t(T * hp.n_audio_ffn)), scratch;
  const float scale = 1.0f / std::sqrt(float(hd));
  for (const EncoderLayer& l : m.enc) {
    layer_norm(ctx, l.attn_norm, out.data(), T, d, xn.data());
    linear(ctx, l.attn.q, xn.data(), T, q.data());
    for (float& v : q) v *= scale;
    linear(ctx, l.attn.k, xn.data(), T, kv.data());
    ops::split_heads(kv.data(), T, n_head, hd, k.data());
    linear(ctx, l.attn.v, xn.data(), T, kv.data());
    ops::split_heads_transposed(kv.data(), T, n_head, hd, vt.data());
    ops::attention_full(ctx, q.data(), T, k.data(), vt.data(), T, n_head, hd, att.data(), scratch);
    linear(ctx, l.attn.o, att.data(), T, xn.data());
    for (size_t i = 0; i < out.size(); ++i) out[i] += xn[i];

    layer_norm(ctx, l.ffn_norm, out.data(), T, d, xn.data());
    linear(ctx, l.ffn_up, xn.data(), T, ff.data());
    gelu(ctx, ff.data(), int64_t(ff.size()));
    linear(ctx, l.ffn_down, ff.data(), T, xn.data());
    for (size_t i = 0; i < out.size(); ++i) out[i] += xn[i];
  }
  layer_norm(ctx, m.enc_norm, out.data(), T, d, out.data());
}

void cross_kv(KernelContext& ctx, const Model& m, const std::vector<float>& enc_out, CrossKv& out) {
  const HParams& hp = m.hp;
  const int64_t T = hp.n_audio_ctx, d = hp.n_text_state;
  if (hp.n_audio_state != hp.n_text_state) fail("whisper: {}: encoder and decoder widths differ", m.source);
  if (int64_t(enc_out.size()) != T * d) fail("whisper: encoder output has the wrong size");
  const int n_head = hp.n_text_head, hd = int(d / n_head);
  out.n_ctx = int(T);
  out.k.resize(size_t(hp.n_text_layer * T * d));
  out.vt.resize(size_t(hp.n_text_layer * T * d));
  std::vector<float> tmp(size_t(T * d));
  for (int il = 0; il < hp.n_text_layer; ++il) {
    const DecoderLayer& l = m.dec[size_t(il)];
    linear(ctx, l.cross.k, enc_out.data(), T, tmp.data());
    ops::split_heads(tmp.data(), T, n_head, hd, out.k.data() + il * T * d);
    linear(ctx, l.cross.v, enc_out.data(), T, tmp.data());
    ops::split_heads_transposed(tmp.data(), T, n_head, hd, out.vt.data() + il * T * d);
  }
}

void DecoderCache::reset(const HParams& hp) {
  n = 0;
  const size_t sz = size_t(hp.n_text_layer) * size_t(hp.n_text_ctx) * size_t(hp.n_text_state);
  if (k.size() != sz) {
    k.assign(sz, 0.0f);
    v.assign(sz, 0.0f);
  }
}

namespace {

// The decoder over rows that may belong to different sequences: row t is token tokens[t] at position
// pos[t] of cache caches[t] (positions of one cache must be consecutive and in order). Every projection
// runs once over all rows (one pass over the weights for a whole beam).
// heads/qk (optional): the scaled cross-attention scores of those (layer, head) pairs before the softmax,
// qk [heads.size()][n][n_audio_ctx].
void decode_rows(KernelContext& ctx, const Model& m, const CrossKv& xkv, DecoderCache* const* caches, const int* pos,
                 const int32_t* tokens, int n, int first_logit_row, std::vector<float>& logits,
                 const std::vector<std::pair<int, int>>* heads = nullptr, std::vector<float>* qk = nullptr) {
  const HParams& hp = m.hp;
  const int64_t d = hp.n_text_state, ctx_len = hp.n_text_ctx;
  const int n_head = hp.n_text_head, hd = int(d / n_head);
  if (xkv.n_ctx != hp.n_audio_ctx) fail("whisper: decode: no encoder output");

  std::vector<float> x(size_t(n * d)), xn(size_t(n * d)), q(size_t(n * d)), att(size_t(n * d)), kn(size_t(n * d)),
      vn(size_t(n * d)), tmp(size_t(n * d)), ff(size_t(n * hp.n_text_ffn)), row(static_cast<size_t>(d)),
      scores(static_cast<size_t>(ctx_len)), scratch;
  for (int t = 0; t < n; ++t) {
    const int32_t id = tokens[t];
    if (id < 0 || id >= hp.n_vocab) fail("whisper: decode: token id {} outside the vocabulary", id);
    ctx.dequantize_row(m.tok_emb.type,
                       static_cast<const uint8_t*>(m.tok_emb.data) + size_t(id) * ggml_row_size(m.tok_emb.type, d),
                       row.data(), d);
    for (int64_t i = 0; i < d; ++i) x[size_t(t * d + i)] = row[size_t(i)] + m.dec_pos[size_t(pos[t] * d + i)];
  }
  const float scale = 1.0f / std::sqrt(float(hd));
  const auto softmax = ctx.ops().softmax;
  for (int il = 0; il < hp.n_text_layer; ++il) {
    const DecoderLayer& l = m.dec[size_t(il)];
    // causal self-attention over each row's cache
    layer_norm(ctx, l.attn_norm, x.data(), n, d, xn.data());
    linear(ctx, l.attn.q, xn.data(), n, q.data());
    linear(ctx, l.attn.k, xn.data(), n, kn.data());
    linear(ctx, l.attn.v, xn.data(), n, vn.data());
    for (int t = 0; t < n; ++t) {
      float* kc = caches[t]->k.data() + size_t(il) * size_t(ctx_len * d);
      float* vc = caches[t]->v.data() + size_t(il) * size_t(ctx_len * d);
      std::copy_n(kn.data() + t * d, d, kc + pos[t] * d);
      std::copy_n(vn.data() + t * d, d, vc + pos[t] * d);
    }
    for (int t = 0; t < n; ++t) {
      const float* kc = caches[t]->k.data() + size_t(il) * size_t(ctx_len * d);
      const float* vc = caches[t]->v.data() + size_t(il) * size_t(ctx_len * d);
      const int n_kv = pos[t] + 1;
      for (int h = 0; h < n_head; ++h) {
        const float* qh = q.data() + t * d + h * hd;
        for (int j = 0; j < n_kv; ++j) {
          const float* kh = kc + j * d + h * hd;
          float sc = 0;
          for (int i = 0; i < hd; ++i) sc += qh[i] * kh[i];
          scores[size_t(j)] = sc * scale;
        }
        softmax(scores.data(), scores.data(), n_kv);
        float* o = att.data() + t * d + h * hd;
        std::fill(o, o + hd, 0.0f);
        for (int j = 0; j < n_kv; ++j) {
          const float p = scores[size_t(j)];
          const float* vh = vc + j * d + h * hd;
          for (int i = 0; i < hd; ++i) o[i] += p * vh[i];
        }
      }
    }
    linear(ctx, l.attn.o, att.data(), n, tmp.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];

    // cross-attention to the encoder output
    layer_norm(ctx, l.cross_norm, x.data(), n, d, xn.data());
    linear(ctx, l.cross.q, xn.data(), n, q.data());
    for (float& v : q) v *= scale;
    const int64_t T = xkv.n_ctx;
    if (heads && qk) {
      for (size_t a = 0; a < heads->size(); ++a) {
        if ((*heads)[a].first != il) continue;
        const int h = (*heads)[a].second;
        const float* kh = xkv.k.data() + il * T * d + int64_t(h) * T * hd;
        float* dst = qk->data() + a * size_t(n) * size_t(T);
        ctx.pool().parallel_for(int64_t(n) * T, [&](int64_t b, int64_t e, int) {
          for (int64_t idx = b; idx < e; ++idx) {
            const int64_t t = idx / T, j = idx % T;
            const float* qh = q.data() + t * d + h * hd;
            const float* kj = kh + j * hd;
            float sc = 0;
            for (int i = 0; i < hd; ++i) sc += qh[i] * kj[i];
            dst[idx] = sc;
          }
        });
      }
    }
    ops::attention_full(ctx, q.data(), n, xkv.k.data() + il * T * d, xkv.vt.data() + il * T * d, T, n_head, hd,
                        att.data(), scratch);
    linear(ctx, l.cross.o, att.data(), n, tmp.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];

    layer_norm(ctx, l.ffn_norm, x.data(), n, d, xn.data());
    linear(ctx, l.ffn_up, xn.data(), n, ff.data());
    gelu(ctx, ff.data(), int64_t(ff.size()));
    linear(ctx, l.ffn_down, ff.data(), n, tmp.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];
  }
  const int rows = n - first_logit_row;
  layer_norm(ctx, m.dec_norm, x.data() + first_logit_row * d, rows, d, xn.data());
  logits.resize(size_t(rows) * size_t(hp.n_vocab));
  matmul(ctx, m.output.type, m.output.data, hp.n_vocab, d, xn.data(), rows, logits.data());
}

}  // namespace

void decode(KernelContext& ctx, const Model& m, const CrossKv& xkv, DecoderCache& cache, const int32_t* tokens,
            int n, bool all_logits, std::vector<float>& logits) {
  const HParams& hp = m.hp;
  if (n <= 0) fail("whisper: decode: no tokens");
  if (cache.k.size() != size_t(hp.n_text_layer) * size_t(hp.n_text_ctx) * size_t(hp.n_text_state)) cache.reset(hp);
  if (cache.n + n > hp.n_text_ctx)
    fail("whisper: decode: {} tokens past the decoder's context of {}", cache.n + n, hp.n_text_ctx);
  std::vector<DecoderCache*> caches(size_t(n), &cache);
  std::vector<int> pos(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) pos[size_t(t)] = cache.n + t;
  decode_rows(ctx, m, xkv, caches.data(), pos.data(), tokens, n, all_logits ? 0 : n - 1, logits);
  cache.n += n;
}

void decode_cross_qk(KernelContext& ctx, const Model& m, const CrossKv& xkv, const int32_t* tokens, int n,
                     const std::vector<std::pair<int, int>>& heads, std::vector<float>& qk, std::vector<float>& logits) {
  const HParams& hp = m.hp;
  if (n <= 0) fail("whisper: decode: no tokens");
  if (n > hp.n_text_ctx) fail("whisper: decode: {} tokens past the decoder's context of {}", n, hp.n_text_ctx);
  for (auto [l, h] : heads)
    if (l < 0 || l >= hp.n_text_layer || h < 0 || h >= hp.n_text_head)
      fail("whisper: {}: alignment head ({}, {}) outside the decoder's {} layers of {} heads", m.source, l, h,
           hp.n_text_layer, hp.n_text_head);
  DecoderCache cache;
  cache.reset(hp);
  std::vector<DecoderCache*> caches(size_t(n), &cache);
  std::vector<int> pos(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) pos[size_t(t)] = t;
  qk.assign(heads.size() * size_t(n) * size_t(xkv.n_ctx), 0.0f);
  decode_rows(ctx, m, xkv, caches.data(), pos.data(), tokens, n, 0, logits, &heads, &qk);
}

void decode_batch(KernelContext& ctx, const Model& m, const CrossKv& xkv, const std::vector<DecoderCache*>& caches,
                  const int32_t* tokens, std::vector<float>& logits) {
  const HParams& hp = m.hp;
  const int n = int(caches.size());
  if (n == 0) fail("whisper: decode: no sequences");
  std::vector<int> pos(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) {
    DecoderCache& c = *caches[size_t(t)];
    if (c.k.size() != size_t(hp.n_text_layer) * size_t(hp.n_text_ctx) * size_t(hp.n_text_state)) c.reset(hp);
    if (c.n + 1 > hp.n_text_ctx) fail("whisper: decode: past the decoder's context of {}", hp.n_text_ctx);
    for (int u = 0; u < t; ++u)
      if (caches[size_t(u)] == caches[size_t(t)]) fail("whisper: decode_batch: one cache twice");
    pos[size_t(t)] = c.n;
  }
  decode_rows(ctx, m, xkv, caches.data(), pos.data(), tokens, n, 0, logits);
  for (DecoderCache* c : caches) c->n += 1;
}

}  // namespace pj::whisper
