// Per-family configuration hooks (one arch_*.cpp each), registered in arch_registry.cpp.
#pragma once

#include "core/gguf/gguf.h"
#include "models/llm/hparams.h"

namespace pj::llm {

void configure_llama(const gguf::File& f, LlmHparams& h);
void configure_qwen(const gguf::File& f, LlmHparams& h);
void configure_gemma2(const gguf::File& f, LlmHparams& h);
void configure_gemma3(const gguf::File& f, LlmHparams& h);

// Gemma's GeGLU, out = gelu_tanh(gate) * up, as ggml-cpu computes it (the Gemma families' feed-forward in
// llama.cpp): gelu read from a half-precision table, i.e. gate rounded to F16, gelu of that in float,
// the result rounded to F16 again; gate <= -10 gives 0, gate >= 10 gives gate * up. out may alias gate.
void geglu_ggml(const float* gate, const float* up, float* out, int64_t n);

}  // namespace pj::llm
