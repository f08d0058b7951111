#include "models/llm/sampler.h"

#include <algorithm>
#include <cmath>

namespace pj::llm {

int32_t argmax(const float* logits, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

Sampler::Sampler(SamplerParams p) : p_(p), rng_(p.seed) {}

void Sampler::reset() {
  counts_.clear();
  rng_.seed(p_.seed);
}

void Sampler::accept(int32_t token) { ++counts_[token]; }

int32_t Sampler::sample(float* logits, int32_t n_vocab) {
  for (const auto& [tok, cnt] : counts_) {
    if (tok < 0 || tok >= n_vocab) continue;
    float& l = logits[tok];
    if (p_.repeat_penalty != 1.0f) l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
    l -= p_.presence_penalty + p_.frequency_penalty * float(cnt);
  }
  if (p_.temperature <= 0.0f) return argmax(logits, n_vocab);

  cand_.clear();
  cand_.reserve(n_vocab);
  for (int32_t i = 0; i < n_vocab; ++i) cand_.emplace_back(logits[i] / p_.temperature, i);
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first; };
  size_t keep = cand_.size();
  if (p_.top_k > 0 && size_t(p_.top_k) < keep) {
    keep = size_t(p_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + keep, cand_.end(), by_logit);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  cand_.resize(keep);
  // softmax over the kept candidates (sorted, so cand_[0] is the max)
  const float mx = cand_[0].first;
  double sum = 0;
  for (auto& c : cand_) {
    c.first = std::exp(c.first - mx);
    sum += c.first;
  }
  for (auto& c : cand_) c.first = float(c.first / sum);
  if (p_.min_p > 0.0f) {
    const float floor_p = cand_[0].first * p_.min_p;
    size_t k = 1;
    while (k < cand_.size() && cand_[k].first >= floor_p) ++k;
    cand_.resize(k);
  }
  if (p_.top_p < 1.0f) {
    double cum = 0;
    size_t k = 0;
    while (k < cand_.size()) {
      cum += cand_[k].first;
      ++k;
      if (cum >= p_.top_p) break;
    }
    cand_.resize(k);
  }
  double total = 0;
  for (const auto& c : cand_) total += c.first;
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_);
  for (const auto& c : cand_) {
    r -= c.first;
    if (r <= 0) return c.second;
  }
  return cand_.back().second;
}

}  // namespace pj::llm
