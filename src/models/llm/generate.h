// Text generation on top of a session: prompt in, tokens out through a sampler, streamed as text
// that is always whole UTF-8, until an end-of-generation token, a stop string or the token budget.
#pragma once

#include "models/llm/sampler.h"
#include "models/llm/session.h"
#include "models/tokenizer/tokenizer.h"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace pj::llm {

struct GenerateOptions {
  int max_tokens = 256;
  std::vector<std::string> stop;  // stop strings (not included in the output)
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;
  std::string finish_reason;  // "stop" (end token or stop string) or "length"
  int n_prompt = 0, n_generated = 0;
  double prompt_seconds = 0, generate_seconds = 0;
};

// Ids that end a turn: EOS, EOT, and the end markers of the common chat formats when the vocabulary
// has them (<|im_end|>, <|eot_id|>, <end_of_turn>, <|end|>, </s>).
std::vector<int32_t> end_of_generation_ids(const tok::Tokenizer& t);

// Runs `prompt` (appended to what the session already holds) and generates. on_text receives each
// piece of text as soon as it is complete; returning false stops generation.
GenerateResult generate(LlmSession& s, const tok::Tokenizer& t, Sampler& sampler,
                        const std::vector<int32_t>& prompt, const GenerateOptions& o,
                        const std::function<bool(const std::string&)>& on_text = {});

}  // namespace pj::llm
