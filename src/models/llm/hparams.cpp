#include "models/llm/hparams.h"

#include "core/base/error.h"
#include "core/gguf/gguf.h"

#include <cmath>

namespace pj::llm {

LlmHparams read_common_hparams(const gguf::File& f, const std::string& arch) {
  LlmHparams h;
  h.arch = arch;
  auto key = [&](const char* k) { return arch + "." + k; };
  h.n_embd = f.get_u32(key("embedding_length"));
  h.n_layer = f.get_u32(key("block_count"));
  h.n_head = f.get_u32(key("attention.head_count"));
  h.n_head_kv = f.get_u32_or(key("attention.head_count_kv"), uint32_t(h.n_head));
  h.n_ff = f.get_u32(key("feed_forward_length"));
  h.n_ctx_train = f.get_u32_or(key("context_length"), 4096);
  if (h.n_head <= 0 || h.n_layer <= 0 || h.n_embd <= 0)
    fail("llm: {}: bad hyper-parameters (n_embd {}, n_layer {}, n_head {})", f.path(), h.n_embd, h.n_layer, h.n_head);
  h.head_dim = f.get_u32_or(key("attention.key_length"), uint32_t(h.n_embd / h.n_head));
  if (h.n_head_kv <= 0 || h.n_head % h.n_head_kv != 0)
    fail("llm: {}: head_count {} is not a multiple of head_count_kv {}", f.path(), h.n_head, h.n_head_kv);
  if (f.get_u32_or(key("attention.value_length"), uint32_t(h.head_dim)) != h.head_dim)
    fail("llm: {}: key_length != value_length is not supported", f.path());
  h.norm_eps = f.get_f32_or(key("attention.layer_norm_rms_epsilon"), 1e-5f);

  h.rope.n_dims = int(f.get_u32_or(key("rope.dimension_count"), uint32_t(h.head_dim)));
  if (h.rope.n_dims > h.head_dim || h.rope.n_dims % 2 != 0)
    fail("llm: {}: rope.dimension_count {} does not fit head size {}", f.path(), h.rope.n_dims, h.head_dim);
  h.rope.freq_base = f.get_f32_or(key("rope.freq_base"), 10000.0f);
  std::string scaling = f.get_string_or(key("rope.scaling.type"), "none");
  float factor = f.get_f32_or(key("rope.scaling.factor"), 0.0f);
  if (f.has(key("rope.scale_linear"))) {
    scaling = "linear";
    factor = f.get_f32(key("rope.scale_linear"));
  }
  if (scaling == "linear" && factor > 0) {
    h.rope.freq_scale = 1.0 / factor;
  } else if (scaling == "yarn" && factor > 0) {
    h.rope.freq_scale = 1.0 / factor;
    h.rope.ext_factor = 1.0;
    h.rope.n_ctx_orig = int(f.get_u32_or(key("rope.scaling.original_context_length"), uint32_t(h.n_ctx_train)));
    h.rope.beta_fast = f.get_f32_or(key("rope.scaling.yarn_beta_fast"), 32.0f);
    h.rope.beta_slow = f.get_f32_or(key("rope.scaling.yarn_beta_slow"), 1.0f);
  } else if (scaling != "none" && scaling != "llama3") {
    fail("llm: {}: rope scaling '{}' is not supported", f.path(), scaling);
  }
  h.rope_swa = h.rope;

  h.sliding_window = f.get_u32_or(key("attention.sliding_window"), 0);
  h.layer_swa.assign(size_t(h.n_layer), false);
  h.attn_scale = f.get_f32_or(key("attention.scale"), 0.0f);
  h.attn_softcap = f.get_f32_or(key("attn_logit_softcapping"), 0.0f);
  h.final_softcap = f.get_f32_or(key("final_logit_softcapping"), 0.0f);
  return h;
}

}  // namespace pj::llm
