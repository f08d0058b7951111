// Running requests on a leased slot: generation (reusing the cached prompt prefix, stop strings,
// constrained JSON, cancellation by the caller) and embeddings (mean of the last hidden state).
#pragma once

#include "apps/server/json_constraint.h"
#include "apps/server/model_pool.h"
#include "models/llm/sampler.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pj::server {

struct GenParams {
  std::vector<int32_t> prompt;
  llm::SamplerParams sampling;
  int max_tokens = 256;
  std::vector<std::string> stop;
  std::optional<JsonConstraint> constraint;  // set: the output must be this JSON
};

struct GenResult {
  std::string text;
  std::string finish_reason;  // "stop" or "length"
  bool cancelled = false;     // on_text returned false
  int n_prompt = 0, n_cached = 0, n_generated = 0;
  double prompt_seconds = 0, generate_seconds = 0;
};

// on_text gets each piece of text as it becomes whole UTF-8; returning false cancels.
GenResult generate_on(Lease& lease, GenParams& p, const std::function<bool(const std::string&)>& on_text);

// The L2-normalised mean over `tokens` of the final-norm hidden state (n_embd floats).
std::vector<float> embed_on(Lease& lease, const std::vector<int32_t>& tokens);

}  // namespace pj::server
