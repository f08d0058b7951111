#include "models/llm/model.h"

#include "core/base/error.h"

#include <fmt/ranges.h>

namespace pj::llm {

Weight LlmModel::weight(const std::string& name, std::initializer_list<int64_t> shape,
                        bool required) const {
  const gguf::Tensor* t = file_.find_tensor(name);
  if (!t) {
    if (required) fail("llm: {}: missing tensor '{}'", file_.path(), name);
    return {};
  }
  std::vector<int64_t> want(shape);
  bool ok = t->shape.size() <= want.size();
  for (size_t i = 0; ok && i < want.size(); ++i) ok = int64_t(t->ne(i)) == want[i];
  if (!ok)
    fail("llm: {}: tensor '{}' has shape [{}], expected [{}]", file_.path(), name,
         fmt::join(t->shape, ", "), fmt::join(want, ", "));
  Weight w;
  w.t = t;
  w.type = t->type;
  w.cols = int64_t(t->ne(0));
  w.rows = int64_t(t->ne(1));
  w.data = t->data;
  return w;
}

struct ArchLoader {
  static std::unique_ptr<LlmModel> load(const std::string& path, const LlmModel::LoadOptions& o) {
    auto m = std::unique_ptr<LlmModel>(new LlmModel(gguf::File::open(path)));
    const gguf::File& f = m->file_;
    const std::string arch = f.get_string("general.architecture");
    const ArchSpec* spec = find_arch(arch);
    if (!spec)
      fail("llm: {}: architecture '{}' is not supported (supported: {})", path, arch,
           fmt::join(supported_archs(), ", "));
    LlmHparams& h = m->hp_;
    h = read_common_hparams(f, arch);
    const gguf::Tensor* emb = f.find_tensor("token_embd.weight");
    if (!emb) fail("llm: {}: missing tensor 'token_embd.weight'", path);
    h.n_vocab = int64_t(emb->ne(1));
    spec->configure(f, h);
    if (const gguf::Tensor* rf = f.find_tensor("rope_freqs.weight")) {
      if (rf->type != GgmlType::F32 || int64_t(rf->n_elements) != h.rope.n_dims / 2)
        fail("llm: {}: rope_freqs.weight must be F32 with {} values", path, h.rope.n_dims / 2);
      const float* p = reinterpret_cast<const float*>(rf->data);
      h.rope.freq_factors.assign(p, p + h.rope.n_dims / 2);
    }
    h.rope.inv_freq_bf16 = h.rope_swa.inv_freq_bf16 = o.rope_inv_freq_bf16;

    const int64_t E = h.n_embd, Q = h.q_dim(), KV = h.kv_dim(), F = h.n_ff, D = h.head_dim;
    m->token_embd_ = m->weight("token_embd.weight", {E, h.n_vocab});
    m->output_norm_ = m->weight("output_norm.weight", {E});
    m->output_ = m->weight("output.weight", {E, h.n_vocab}, false);
    if (!m->output_) m->output_ = m->token_embd_;
    m->layers_.resize(size_t(h.n_layer));
    for (int64_t i = 0; i < h.n_layer; ++i) {
      auto n = [&](const char* s) { return fmt::format("blk.{}.{}", i, s); };
      LayerWeights& L = m->layers_[size_t(i)];
      L.attn_norm = m->weight(n("attn_norm.weight"), {E});
      L.wq = m->weight(n("attn_q.weight"), {E, Q});
      L.wk = m->weight(n("attn_k.weight"), {E, KV});
      L.wv = m->weight(n("attn_v.weight"), {E, KV});
      L.wo = m->weight(n("attn_output.weight"), {Q, E});
      L.bq = m->weight(n("attn_q.bias"), {Q}, false);
      L.bk = m->weight(n("attn_k.bias"), {KV}, false);
      L.bv = m->weight(n("attn_v.bias"), {KV}, false);
      L.q_norm = m->weight(n("attn_q_norm.weight"), {D}, false);
      L.k_norm = m->weight(n("attn_k_norm.weight"), {D}, false);
      L.post_attn_norm = m->weight(n("post_attention_norm.weight"), {E}, false);
      L.ffn_norm = m->weight(n("ffn_norm.weight"), {E});
      L.ffn_gate = m->weight(n("ffn_gate.weight"), {E, F});
      L.ffn_up = m->weight(n("ffn_up.weight"), {E, F});
      L.ffn_down = m->weight(n("ffn_down.weight"), {F, E});
      L.post_ffw_norm = m->weight(n("post_ffw_norm.weight"), {E}, false);
      for (const Weight* w : {&L.attn_norm, &L.q_norm, &L.k_norm, &L.post_attn_norm, &L.ffn_norm,
                              &L.post_ffw_norm, &L.bq, &L.bk, &L.bv})
        if (*w && w->type != GgmlType::F32)
          fail("llm: {}: tensor '{}' must be F32, is {}", path, w->t->name, ggml_type_info(w->type).name);
    }
    if (m->output_norm_.type != GgmlType::F32)
      fail("llm: {}: tensor 'output_norm.weight' must be F32", path);
    return m;
  }
};

std::unique_ptr<LlmModel> LlmModel::load(const std::string& path, LoadOptions o) {
  return ArchLoader::load(path, o);
}

}  // namespace pj::llm
