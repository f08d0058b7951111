#include "models/whisper/convert_gguf.h"

#include "core/base/error.h"
#include "core/gguf/gguf.h"
#include "core/kernels/context.h"
#include "models/whisper/model.h"
#include "models/whisper/quantize.h"
#include "models/whisper/tokenizer.h"

namespace pj::whisper {
namespace {

struct Emitter {
  gguf::Writer& w;
  KernelContext& ctx;
  GgmlType wtype;

  void vec(const std::string& name, const std::vector<float>& v, std::vector<uint64_t> ne) {
    w.add_tensor(name, GgmlType::F32, std::move(ne),
                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4));
  }
  // ne: GGUF order (innermost first); the matrix is (rows, cols) row-major whatever ne's split of cols.
  void matrix(const std::string& name, const Matrix& m, GgmlType want, std::vector<uint64_t> ne) {
    want = weight_type_for(want, m.cols);  // the rule in quantize.h
    if (!ctx.table().types[size_t(want)].supported) want = GgmlType::F16;
    if (want == m.type) {
      w.add_tensor(name, want, std::move(ne),
                   std::span<const uint8_t>(static_cast<const uint8_t*>(m.data), ggml_row_size(m.type, m.cols) * size_t(m.rows)));
      return;
    }
    KernelContext* c = &ctx;
    w.add_tensor(name, want, std::move(ne), [m, want, c](gguf::TensorSink& sink) {
      std::vector<float> row(static_cast<size_t>(m.cols));
      std::vector<uint8_t> out(ggml_row_size(want, m.cols));
      const size_t in_row = ggml_row_size(m.type, m.cols);
      for (int64_t r = 0; r < m.rows; ++r) {
        c->dequantize_row(m.type, static_cast<const uint8_t*>(m.data) + size_t(r) * in_row, row.data(), m.cols);
        c->quantize_row(want, row.data(), out.data(), m.cols);
        sink.write(out.data(), out.size());
      }
    });
  }
  void linear(const std::string& p, const Linear& l) {
    matrix(p + ".weight", l.w, wtype, {uint64_t(l.w.cols), uint64_t(l.w.rows)});
    if (!l.b.empty()) vec(p + ".bias", l.b, {uint64_t(l.b.size())});
  }
  void norm(const std::string& p, const Norm& n) {
    vec(p + ".weight", n.w, {uint64_t(n.w.size())});
    vec(p + ".bias", n.b, {uint64_t(n.b.size())});
  }
  void attn(const std::string& p, const Attention& a) {
    linear(p + "_q", a.q);
    linear(p + "_k", a.k);
    linear(p + "_v", a.v);
    linear(p + "_out", a.o);
  }
};

}  // namespace

void write_gguf(const Model& m, const Tokenizer* tok, const std::string& out, GgmlType wtype, const std::string& name) {
  const HParams& hp = m.hp;
  KernelContext ctx;
  gguf::Writer w;
  w.add_kv("general.architecture", std::string("whisper"));
  w.add_kv("general.name", name);
  auto u = [&](const char* k, int v) { w.add_kv(k, uint32_t(v)); };
  u("whisper.vocab_size", hp.n_vocab);
  u("whisper.n_mels", hp.n_mels);
  u("whisper.encoder.context_length", hp.n_audio_ctx);
  u("whisper.encoder.embedding_length", hp.n_audio_state);
  u("whisper.encoder.attention.head_count", hp.n_audio_head);
  u("whisper.encoder.block_count", hp.n_audio_layer);
  u("whisper.encoder.feed_forward_length", hp.n_audio_ffn);
  u("whisper.decoder.context_length", hp.n_text_ctx);
  u("whisper.decoder.embedding_length", hp.n_text_state);
  u("whisper.decoder.attention.head_count", hp.n_text_head);
  u("whisper.decoder.block_count", hp.n_text_layer);
  u("whisper.decoder.feed_forward_length", hp.n_text_ffn);
  if (tok) w.add_kv("whisper.tokenizer.tokens", gguf::Array(tok->base_tokens()));
  if (!m.suppress_tokens.empty()) w.add_kv("whisper.suppress_tokens", gguf::Array(std::vector<int32_t>(m.suppress_tokens.begin(), m.suppress_tokens.end())));
  if (!m.alignment_heads.empty()) {
    std::vector<int32_t> flat;
    for (auto [l, h] : m.alignment_heads) {
      flat.push_back(l);
      flat.push_back(h);
    }
    w.add_kv("whisper.alignment_heads", gguf::Array(flat));
  }

  Emitter e{w, ctx, wtype};
  const GgmlType conv_type = wtype == GgmlType::F32 ? GgmlType::F32 : GgmlType::F16;
  const uint64_t da = uint64_t(hp.n_audio_state), dt = uint64_t(hp.n_text_state);
  e.matrix("encoder.conv1.weight", m.conv1.w, conv_type, {3, uint64_t(hp.n_mels), da});
  e.vec("encoder.conv1.bias", m.conv1.b, {da});
  e.matrix("encoder.conv2.weight", m.conv2.w, conv_type, {3, da, da});
  e.vec("encoder.conv2.bias", m.conv2.b, {da});
  e.vec("encoder.position_embd", m.enc_pos, {da, uint64_t(hp.n_audio_ctx)});
  for (size_t i = 0; i < m.enc.size(); ++i) {
    const std::string p = "encoder.blk." + std::to_string(i) + ".";
    const EncoderLayer& l = m.enc[i];
    e.norm(p + "attn_norm", l.attn_norm);
    e.attn(p + "attn", l.attn);
    e.norm(p + "ffn_norm", l.ffn_norm);
    e.linear(p + "ffn_up", l.ffn_up);
    e.linear(p + "ffn_down", l.ffn_down);
  }
  e.norm("encoder.norm", m.enc_norm);
  e.matrix("decoder.token_embd.weight", m.tok_emb, wtype, {dt, uint64_t(hp.n_vocab)});
  if (m.output.data != m.tok_emb.data) e.matrix("decoder.output.weight", m.output, wtype, {dt, uint64_t(hp.n_vocab)});
  e.vec("decoder.position_embd", m.dec_pos, {dt, uint64_t(hp.n_text_ctx)});
  for (size_t i = 0; i < m.dec.size(); ++i) {
    const std::string p = "decoder.blk." + std::to_string(i) + ".";
    const DecoderLayer& l = m.dec[i];
    e.norm(p + "attn_norm", l.attn_norm);
    e.attn(p + "attn", l.attn);
    e.norm(p + "cross_attn_norm", l.cross_norm);
    e.attn(p + "cross_attn", l.cross);
    e.norm(p + "ffn_norm", l.ffn_norm);
    e.linear(p + "ffn_up", l.ffn_up);
    e.linear(p + "ffn_down", l.ffn_down);
  }
  e.norm("decoder.norm", m.dec_norm);
  w.write(out);
}

}  // namespace pj::whisper
