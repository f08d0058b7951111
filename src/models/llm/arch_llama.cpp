// Llama family (Llama 2/3, Mistral, SmolLM, ...): pre-norm decoder, SwiGLU, RoPE on adjacent pairs
// (llama.cpp's converter permutes the Q/K rows so that this equals Hugging Face's rotate_half), optional
// rope_freqs for llama3 scaling, optional sliding window (Mistral v0.1).
#include "models/llm/arch.h"

namespace pj::llm {

void configure_llama(const gguf::File& f, LlmHparams& h) {
  h.rope.style = ops::RopeStyle::normal;
  h.rope_swa = h.rope;
  h.act = Activation::silu;
  if (h.sliding_window > 0) h.layer_swa.assign(size_t(h.n_layer), true);
}

}  // namespace pj::llm
