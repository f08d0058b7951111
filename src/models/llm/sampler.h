// Token sampling: greedy, or temperature with top-k / top-p / min-p, with repetition, presence and
// frequency penalties over the tokens generated so far. The RNG is owned by the sampler and seeded, so a
// run with the same seed is reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace pj::llm {

struct SamplerParams {
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off
  float repeat_penalty = 1.0f;    // divides positive logits (multiplies negative) of seen tokens
  float presence_penalty = 0.0f;  // OpenAI semantics: subtract once if seen
  float frequency_penalty = 0.0f; // subtract count * penalty
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  explicit Sampler(SamplerParams p = {});
  // Picks the next token from logits[n_vocab] (modified in place by penalties).
  int32_t sample(float* logits, int32_t n_vocab);
  // Records a token as generated (for penalties).
  void accept(int32_t token);
  void reset();
  const SamplerParams& params() const { return p_; }

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
  std::unordered_map<int32_t, int> counts_;
  std::vector<std::pair<float, int32_t>> cand_;
};

int32_t argmax(const float* logits, int32_t n);

}  // namespace pj::llm
