#include "models/llm/generate.h"

#include "core/base/error.h"

#include <algorithm>

namespace pj::llm {

std::vector<int32_t> end_of_generation_ids(const tok::Tokenizer& t) {
  std::vector<int32_t> ids;
  const auto& sp = t.spec();
  for (int id : {sp.eos_id, sp.eot_id})
    if (id >= 0) ids.push_back(id);
  for (const char* piece : {"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "</s>"}) {
    int id = t.find_token(piece);
    if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

GenerateResult generate(LlmSession& s, const tok::Tokenizer& t, Sampler& sampler,
                        const std::vector<int32_t>& prompt, const GenerateOptions& o,
                        const std::function<bool(const std::string&)>& on_text) {
  using clock = std::chrono::steady_clock;
  GenerateResult r;
  r.n_prompt = int(prompt.size());
  if (prompt.empty()) fail("generate: empty prompt");
  const std::vector<int32_t> eog = end_of_generation_ids(t);
  const auto t0 = clock::now();
  // Prompt in chunks so that scratch memory stays bounded for long prompts.
  constexpr size_t kBatch = 256;
  std::span<const float> logits;
  for (size_t i = 0; i < prompt.size(); i += kBatch) {
    const size_t n = std::min(kBatch, prompt.size() - i);
    logits = s.decode(std::span<const int32_t>(prompt.data() + i, n));
  }
  const auto t1 = clock::now();
  r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

  tok::StreamDecoder dec(t, /*skip_special=*/true);
  std::vector<float> work;
  std::string pending;  // text held back while it could be the start of a stop string
  r.finish_reason = "length";
  auto emit = [&](const std::string& piece) -> bool {
    if (piece.empty()) return true;
    r.text += piece;
    return !on_text || on_text(piece);
  };
  bool stopped = false, cut_at_stop_string = false;
  while (r.n_generated < o.max_tokens && !stopped) {
    work.assign(logits.begin(), logits.end());
    const int32_t tok = sampler.sample(work.data(), int32_t(work.size()));
    if (std::find(eog.begin(), eog.end(), tok) != eog.end()) {
      r.finish_reason = "stop";
      break;
    }
    sampler.accept(tok);
    r.tokens.push_back(tok);
    ++r.n_generated;
    pending += dec.push(tok);
    // stop strings: cut at the first full match; hold back a suffix that may begin one
    size_t cut = std::string::npos;
    for (const auto& st : o.stop)
      if (!st.empty()) cut = std::min(cut, pending.find(st));
    if (cut != std::string::npos) {
      emit(pending.substr(0, cut));
      pending.clear();
      r.finish_reason = "stop";
      cut_at_stop_string = true;
      break;
    }
    size_t hold = 0;
    for (const auto& st : o.stop)
      for (size_t k = std::min(st.size() - 1, pending.size()); k > hold; --k)
        if (pending.compare(pending.size() - k, k, st, 0, k) == 0) {
          hold = k;
          break;
        }
    if (!emit(pending.substr(0, pending.size() - hold))) {
      stopped = true;
      r.finish_reason = "stop";
    }
    pending.erase(0, pending.size() - hold);
    if (r.n_generated >= o.max_tokens || stopped) break;
    if (s.n_past() >= s.n_ctx()) break;
    logits = s.decode(std::span<const int32_t>(&tok, 1));
  }
  if (!cut_at_stop_string && !stopped) emit(pending + dec.flush());
  r.generate_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return r;
}

}  // namespace pj::llm
