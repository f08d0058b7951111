#include "models/convert/load_any.h"

#include "core/base/file.h"
#include "core/hf/hf_folder.h"
#include "models/convert/convert_llm.h"
#include "models/tokenizer/gguf_tokenizer.h"
#include "models/tokenizer/hf_tokenizer.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace pj::convert {

std::unique_ptr<llm::LlmModel> load_llm(const std::string& path, llm::LlmModel::LoadOptions o) {
  if (!is_directory(path)) return llm::LlmModel::load(path, o);
  auto folder = hf::open_folder(path);
  gguf::Writer w;
  ConvertOptions co;
  co.out_type = GgmlType::F32;
  add_llm(folder, co, w);
  if (folder.tokenizer.present()) tok::add_tokenizer_kv(w, tok::load_hf_tokenizer(path).spec());
  if (!folder.tokenizer.chat_template.empty()) w.add_kv("tokenizer.chat_template", folder.tokenizer.chat_template);
  const std::string tmp = (std::filesystem::temp_directory_path() /
                           ("pajamas-" + std::to_string(::getpid()) + "-" +
                            std::filesystem::path(path).filename().string() + ".gguf")).string();
  w.write(tmp);
  // transformers computes RoPE with the inv_freq buffer cast to the model's dtype; for a bfloat16
  // checkpoint run as-is from its folder we reproduce that (GGUF files follow llama.cpp, which does not).
  if (folder.config && folder.config->dtype == "bfloat16") o.rope_inv_freq_bf16 = true;
  struct Unlink {
    std::string p;
    ~Unlink() { std::remove(p.c_str()); }
  } unlink_after{tmp};
  return llm::LlmModel::load(tmp, o);
}

}  // namespace pj::convert
