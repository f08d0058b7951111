// Hugging Face decoder LLM folder -> GGUF, with llama.cpp's architecture names, keys and tensor names,
// so that the files load in llama.cpp and in ours: Llama (1/2/3, SmolLM), Mistral (written as
// "llama"), Qwen2/2.5, Qwen3, Gemma 2, Gemma 3 (text).
#pragma once

#include "core/base/ggml_types.h"
#include "core/gguf/gguf.h"
#include "core/hf/hf_folder.h"

#include <functional>
#include <string>

namespace pj::convert {

struct ConvertOptions {
  GgmlType out_type = GgmlType::F16;  // F32, F16, BF16 or Q8_0 for 2-D weights; norms and biases stay F32
  std::string name;                   // general.name (default: folder name)
};

// Fills `w` with metadata and tensors for the LLM in `folder`; tensor bytes are produced while the
// writer streams (the folder must stay open until w.write()). Throws pj::Error for an unsupported
// architecture, naming it and what is supported.
void add_llm(const hf::Folder& folder, const ConvertOptions& o, gguf::Writer& w);

// The GGUF architecture name for a Hugging Face `architectures[0]`, or empty if unsupported.
std::string gguf_arch_for(const std::string& hf_architecture);

}  // namespace pj::convert
