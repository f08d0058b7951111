// What the LLM commands (generate, chat, logits, bench) share: options, loading a model with its
// tokenizer and chat template, and turning a conversation into prompt tokens.
#pragma once

#include "core/kernels/context.h"
#include "models/chat/template.h"
#include "models/llm/generate.h"
#include "models/llm/model.h"
#include "models/llm/sampler.h"
#include "models/llm/session.h"
#include "models/tokenizer/tokenizer.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace pj::cli {

struct LlmOptions {
  std::string model;
  int threads = 0;
  int64_t ctx = 4096;
  std::string kv_type = "f16";
};

struct SampleOptions {
  int max_tokens = 256;
  float temperature = 0.0f, top_p = 1.0f, min_p = 0.0f;
  float repeat_penalty = 1.0f, presence_penalty = 0.0f, frequency_penalty = 0.0f;
  int top_k = 0;
  uint64_t seed = 0xC0FFEE;
  std::vector<std::string> stop;
};

void add_llm_options(CLI::App* cmd, LlmOptions& o, const char* default_kv = "f16");
void add_sample_options(CLI::App* cmd, SampleOptions& o);

struct LoadedLlm {
  std::string path;
  std::unique_ptr<llm::LlmModel> model;
  std::unique_ptr<tok::Tokenizer> tok;
  std::unique_ptr<KernelContext> kctx;
  std::unique_ptr<llm::LlmSession> session;
  std::unique_ptr<chat::Template> tmpl;  // null if the model has none
};

// Model from a GGUF file or a Hugging Face folder (converted on the fly); -m empty -> default model.
LoadedLlm load_llm(const LlmOptions& o);

llm::Sampler make_sampler(const SampleOptions& o);
llm::GenerateOptions make_generate_options(const SampleOptions& o);

// Text -> ids, adding BOS when the model asks for it and the text does not already start with it.
std::vector<int32_t> tokenize_prompt(const tok::Tokenizer& t, const std::string& text, bool parse_special);
// Renders `messages` with the model's chat template (generation prompt added).
std::string render_chat(const LoadedLlm& l, const nlohmann::ordered_json& messages, bool enable_thinking = true);

}  // namespace pj::cli
