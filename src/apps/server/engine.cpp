#include "apps/server/engine.h"

#include "core/base/error.h"
#include "models/tokenizer/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace pj::server {

namespace {

using clock_type = std::chrono::steady_clock;

// Prompt in chunks so that scratch memory stays bounded for long prompts.
constexpr size_t kPromptBatch = 256;
// Samples drawn and rejected by the JSON constraint before the whole vocabulary is masked instead.
constexpr int kRejectionTries = 16;

std::span<const float> decode_chunks(Slot& s, const std::vector<int32_t>& toks, size_t from) {
  std::span<const float> logits;
  try {
    for (size_t i = from; i < toks.size(); i += kPromptBatch) {
      const size_t n = std::min(kPromptBatch, toks.size() - i);
      logits = s.session->decode(std::span<const int32_t>(toks.data() + i, n));
      s.history.insert(s.history.end(), toks.begin() + long(i), toks.begin() + long(i + n));
    }
  } catch (...) {
    s.session->truncate(0);
    s.history.clear();
    throw;
  }
  return logits;
}

// A token the constraint allows next, sampled from the distribution restricted to those tokens:
// rejection first (cheap when the model already wants valid JSON), then an explicit mask. -1: none.
int32_t sample_constrained(const LoadedModel& m, llm::Sampler& sampler, const JsonConstraint& c,
                           std::vector<float>& base, std::vector<float>& work) {
  const int32_t n = int32_t(base.size());
  const int32_t n_tok = int32_t(m.token_text.size());
  auto allowed = [&](int32_t id) {
    if (id < 0 || id >= n_tok) return false;
    if (std::find(m.eog.begin(), m.eog.end(), id) != m.eog.end()) return c.complete();
    return m.token_plain[size_t(id)] && c.can_feed(m.token_text[size_t(id)]);
  };
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < kRejectionTries; ++i) {
    work = base;
    const int32_t t = sampler.sample(work.data(), n);
    if (allowed(t)) return t;
    base[size_t(t)] = ninf;
  }
  bool any = false;
  for (int32_t id = 0; id < n; ++id) {
    if (base[size_t(id)] == ninf) continue;
    if (allowed(id)) any = true;
    else base[size_t(id)] = ninf;
  }
  if (!any) return -1;
  work = base;
  return sampler.sample(work.data(), n);
}

}  // namespace

GenResult generate_on(Lease& lease, GenParams& p, const std::function<bool(const std::string&)>& on_text) {
  Slot& s = lease.slot();
  LoadedModel& m = lease.model();
  llm::LlmSession& sess = *s.session;
  GenResult r;
  r.n_prompt = int(p.prompt.size());
  if (p.prompt.empty()) fail("generate: empty prompt");

  const auto t0 = clock_type::now();
  size_t common = 0;
  while (common < s.history.size() && common < p.prompt.size() && s.history[common] == p.prompt[common]) ++common;
  if (common == p.prompt.size()) --common;  // at least one token must run to get logits
  sess.truncate(int64_t(common));
  s.history.resize(common);
  r.n_cached = int(common);
  std::span<const float> logits = decode_chunks(s, p.prompt, common);
  const auto t1 = clock_type::now();
  r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

  llm::Sampler sampler(p.sampling);
  tok::StreamDecoder dec(*m.tok, /*skip_special=*/true);
  std::vector<float> base, work;
  std::string pending;  // text held back while it could be the start of a stop string
  r.finish_reason = "length";
  auto emit = [&](const std::string& piece) {
    if (piece.empty()) return true;
    r.text += piece;
    return !on_text || on_text(piece);
  };
  bool ended = false;  // the text is final (stop string, cancel, complete JSON)
  while (r.n_generated < p.max_tokens) {
    base.assign(logits.begin(), logits.end());
    int32_t tok;
    if (p.constraint) {
      tok = sample_constrained(m, sampler, *p.constraint, base, work);
    } else {
      tok = sampler.sample(base.data(), int32_t(base.size()));
    }
    if (tok < 0 || std::find(m.eog.begin(), m.eog.end(), tok) != m.eog.end()) {
      r.finish_reason = "stop";
      break;
    }
    sampler.accept(tok);
    ++r.n_generated;
    if (p.constraint) p.constraint->feed(m.token_text[size_t(tok)]);
    pending += dec.push(tok);
    size_t cut = std::string::npos;
    for (const auto& st : p.stop)
      if (!st.empty()) cut = std::min(cut, pending.find(st));
    if (cut != std::string::npos) {
      if (!emit(pending.substr(0, cut))) r.cancelled = true;
      r.finish_reason = "stop";
      ended = true;
      break;
    }
    size_t hold = 0;
    for (const auto& st : p.stop)
      for (size_t k = std::min(st.size() - 1, pending.size()); k > hold; --k)
        if (pending.compare(pending.size() - k, k, st, 0, k) == 0) {
          hold = k;
          break;
        }
    if (!emit(pending.substr(0, pending.size() - hold))) {
      r.cancelled = true;
      r.finish_reason = "stop";
      ended = true;
      break;
    }
    pending.erase(0, pending.size() - hold);
    if (p.constraint && p.constraint->complete()) {
      r.finish_reason = "stop";
      break;
    }
    if (r.n_generated >= p.max_tokens || sess.n_past() >= sess.n_ctx()) break;
    logits = decode_chunks(s, {tok}, 0);
  }
  if (!ended) {
    const std::string rest = pending + dec.flush();
    if (!emit(rest)) r.cancelled = true;
  }
  r.generate_seconds = std::chrono::duration<double>(clock_type::now() - t1).count();
  return r;
}

std::vector<float> embed_on(Lease& lease, const std::vector<int32_t>& tokens) {
  Slot& s = lease.slot();
  if (tokens.empty()) fail("embeddings: empty input");
  s.session->truncate(0);
  s.history.clear();
  s.hidden_sum.assign(size_t(lease.model().model->hparams().n_embd), 0.0f);
  s.capture = true;
  try {
    decode_chunks(s, tokens, 0);
  } catch (...) {
    s.capture = false;
    throw;
  }
  s.capture = false;
  std::vector<float> v = s.hidden_sum;
  double norm = 0;
  for (float& x : v) {
    x /= float(tokens.size());
    norm += double(x) * x;
  }
  const float inv = norm > 0 ? float(1.0 / std::sqrt(norm)) : 0.0f;
  for (float& x : v) x *= inv;
  return v;
}

}  // namespace pj::server
