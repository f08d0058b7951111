// Opens an LLM from a GGUF file or, for a Hugging Face folder, converts it to a temporary GGUF
// (F32 weights, unlinked as soon as it is mapped, so nothing is left behind) and opens that. A bfloat16
// folder gets transformers' bfloat16-rounded RoPE frequencies (see RopeConfig::inv_freq_bf16).
#pragma once

#include "models/llm/model.h"

#include <memory>
#include <string>

namespace pj::convert {

std::unique_ptr<llm::LlmModel> load_llm(const std::string& path, llm::LlmModel::LoadOptions o = {});

}  // namespace pj::convert
