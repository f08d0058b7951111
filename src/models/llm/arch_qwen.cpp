// Qwen 2 / 2.5 (q/k/v biases) and Qwen 3 (per-head RMS norms on q and k): the Llama layout with NeoX
// RoPE (pairs i, i + d/2) and no row permutation.
#include "models/llm/arch.h"

namespace pj::llm {

void configure_qwen(const gguf::File& f, LlmHparams& h) {
  h.rope.style = ops::RopeStyle::neox;
  h.rope_swa = h.rope;
  h.act = Activation::silu;
  if (h.sliding_window > 0) h.layer_swa.assign(size_t(h.n_layer), true);
}

}  // namespace pj::llm
