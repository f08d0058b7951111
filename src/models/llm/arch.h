// Per-family configuration hooks (one arch_*.cpp each), registered in arch_registry.cpp.
#pragma once

#include "core/gguf/gguf.h"
#include "models/llm/hparams.h"

namespace pj::llm {

void configure_llama(const gguf::File& f, LlmHparams& h);
void configure_qwen(const gguf::File& f, LlmHparams& h);
void configure_gemma2(const gguf::File& f, LlmHparams& h);
void configure_gemma3(const gguf::File& f, LlmHparams& h);

}  // namespace pj::llm
