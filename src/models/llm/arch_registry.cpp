#include "models/llm/arch.h"
#include "models/llm/model.h"

namespace pj::llm {

namespace {
// general.architecture -> configuration. Mistral models are written as "llama" by llama.cpp.
constexpr ArchSpec kArchs[] = {
    {"llama", configure_llama},   {"mistral", configure_llama}, {"qwen2", configure_qwen},
    {"qwen3", configure_qwen},    {"gemma2", configure_gemma2}, {"gemma3", configure_gemma3},
};
}  // namespace

const ArchSpec* find_arch(const std::string& name) {
  for (const auto& a : kArchs)
    if (name == a.name) return &a;
  return nullptr;
}

std::vector<std::string> supported_archs() {
  std::vector<std::string> v;
  for (const auto& a : kArchs) v.emplace_back(a.name);
  return v;
}

}  // namespace pj::llm
