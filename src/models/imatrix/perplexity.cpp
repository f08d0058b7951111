#include "models/imatrix/perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/error.h"

namespace pj::imatrix {

namespace {

int64_t row_len(int64_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }

// mean and its standard error from a sum and a sum of squares (llama.cpp's mean_and_uncertainty)
KldStats::MeanErr mean_err(double sum, double sum2, int64_t count) {
  if (count < 1) return {};
  const double f = sum / double(count);
  double df = sum2 / double(count) - f * f;
  df = df > 0 && count > 10 ? std::sqrt(df / double(count - 1)) : 0.0;
  return {f, df};
}

double covariance(double suma, double sumb, double sumab, int64_t count) {
  if (count < 10) return 0.0;
  const double n = double(count);
  return (sumab / n - (suma / n) * (sumb / n)) / (n - 1);
}

}  // namespace

double nll_of(const float* logits, int64_t n_vocab, int32_t tok) {
  float max_logit = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum_exp = 0.0;
  for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  return -(double(logits[tok] - max_logit) - std::log(sum_exp));
}

void Perplexity::add_chunk(const float* logits, const std::vector<int32_t>& tokens, int64_t n_vocab) {
  const int64_t n_ctx = int64_t(tokens.size()), first = n_ctx / 2;
  for (int64_t i = first; i < n_ctx - 1; ++i) {
    const double v = nll_of(logits + i * n_vocab, n_vocab, tokens[size_t(i + 1)]);
    sum_nll += v;
    sum_nll2 += v * v;
    ++count;
  }
  running.push_back(std::exp(sum_nll / double(count)));
}

double Perplexity::ppl() const { return count ? std::exp(sum_nll / double(count)) : 0.0; }

double Perplexity::ppl_uncertainty() const {
  if (count < 2) return 0.0;
  const double m = sum_nll / double(count);
  const double var = sum_nll2 / double(count) - m * m;
  return var > 0 ? std::sqrt(var / double(count - 1)) * ppl() : 0.0;
}

KldBaseWriter::KldBaseWriter(const std::string& path, int64_t n_ctx, int64_t n_vocab, int64_t n_chunk,
                             const std::vector<int32_t>& tokens)
    : out_(path), n_ctx_(n_ctx), n_vocab_(n_vocab), row_(size_t(row_len(n_vocab))) {
  out_.write("_logits_", 8);
  const int32_t h[3] = {int32_t(n_ctx), int32_t(n_vocab), int32_t(n_chunk)};
  out_.write(h, sizeof h);
  out_.write(tokens.data(), size_t(n_chunk * n_ctx) * sizeof(int32_t));
}

void KldBaseWriter::add_chunk(const float* logits, const std::vector<int32_t>& tokens, Perplexity& ppl) {
  const int64_t first = n_ctx_ / 2, V = n_vocab_;
  for (int64_t i = first; i < n_ctx_ - 1; ++i) {
    const float* l = logits + i * V;
    float max_logit = l[0], min_logit = l[0];
    for (int64_t k = 1; k < V; ++k) {
      max_logit = std::max(max_logit, l[k]);
      min_logit = std::min(min_logit, l[k]);
    }
    min_logit = std::max(min_logit, max_logit - 16);
    double sum_exp = 0.0;
    for (int64_t k = 0; k < V; ++k) sum_exp += std::exp(l[k] - max_logit);
    const float log_sum_exp = float(std::log(sum_exp));
    const float min_log_prob = min_logit - max_logit - log_sum_exp;
    const float scale = (max_logit - min_logit) / 65535.f;
    std::fill(row_.begin(), row_.end(), uint16_t(0));
    std::memcpy(row_.data(), &scale, 4);
    std::memcpy(row_.data() + 2, &min_log_prob, 4);
    if (scale != 0.0f) {
      const float inv_scale = 1 / scale;
      for (int64_t k = 0; k < V; ++k)
        row_[size_t(4 + k)] = l[k] > min_logit ? uint16_t(std::nearbyint(inv_scale * (l[k] - min_logit))) : 0;
    }
    out_.write(row_.data(), row_.size() * sizeof(uint16_t));
  }
  ppl.add_chunk(logits, tokens, V);
}

void KldBaseWriter::commit() { out_.commit(); }

KldBase::KldBase(const std::string& path) : map_(path) {
  const uint8_t* p = map_.data();
  const size_t size = map_.size();
  if (size < 20 || std::memcmp(p, "_logits_", 8) != 0)
    fail("perplexity: {}: not a KL-divergence base file (no '_logits_' header)", path);
  int32_t h[3];
  std::memcpy(h, p + 8, sizeof h);
  if (h[0] < 4 || h[1] < 1 || h[2] < 1)
    fail("perplexity: {}: bad header (n_ctx {}, n_vocab {}, n_chunk {})", path, h[0], h[1], h[2]);
  n_ctx_ = h[0];
  n_vocab_ = h[1];
  n_chunk_ = h[2];
  nv_ = row_len(n_vocab_);
  data_offset_ = 20 + size_t(n_ctx_ * n_chunk_) * 4;
  const uint64_t want = uint64_t(data_offset_) + uint64_t(n_chunk_) * uint64_t(n_ctx_ - 1 - n_ctx_ / 2) * uint64_t(nv_) * 2;
  if (size != want)
    fail("perplexity: {}: {} bytes, but n_ctx {}, n_vocab {}, n_chunk {} make {} bytes (truncated or not this format)",
         path, size, n_ctx_, n_vocab_, n_chunk_, want);
}

std::vector<int32_t> KldBase::tokens() const {
  std::vector<int32_t> t(size_t(n_ctx_ * n_chunk_));
  std::memcpy(t.data(), map_.data() + 20, t.size() * 4);
  return t;
}

const uint16_t* KldBase::row(int64_t c, int64_t i) const {
  const size_t idx = size_t(c * (n_ctx_ - 1 - n_ctx_ / 2) + i);
  return reinterpret_cast<const uint16_t*>(map_.data() + data_offset_ + idx * size_t(nv_) * 2);
}

void KldStats::add(const float* logits, int64_t n_vocab, const uint16_t* base_row, int32_t tok) {
  float max_logit = logits[0];
  int64_t imax = 0;
  for (int64_t i = 1; i < n_vocab; ++i)
    if (logits[i] > max_logit) {
      max_logit = logits[i];
      imax = i;
    }
  double sum_exp = 0.0;
  for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  const float log_sum_exp = float(std::log(sum_exp));
  float scale, min_log_prob;
  std::memcpy(&scale, base_row, 4);
  std::memcpy(&min_log_prob, base_row + 2, 4);
  const uint16_t* q = base_row + 4;

  const float nll = max_logit + log_sum_exp - logits[tok];
  sum_nll += nll;
  sum_nll2 += double(nll) * nll;
  const float nll_base = -(scale * q[tok] + min_log_prob);
  sum_nll_base += nll_base;
  sum_nll_base2 += double(nll_base) * nll_base;
  sum_nll_nll_base += double(nll) * nll_base;

  const float log_z = max_logit + log_sum_exp;
  double sum = 0;
  int64_t imax_base = -1;
  float p_log_base_max = 0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    const float p_log_base = scale * q[i] + min_log_prob;
    if (i == 0 || p_log_base > p_log_base_max) {
      p_log_base_max = p_log_base;
      imax_base = i;
    }
    if (p_log_base > -16.f) sum += std::exp(p_log_base) * (p_log_base - logits[i] + log_z);
  }
  sum_kld += sum;
  sum_kld2 += sum * sum;
  ++count;
  if (imax == imax_base) ++n_same_top;
  const float p_diff = std::exp(-nll) - std::exp(-nll_base);
  sum_p_diff += p_diff;
  const double p_diff2 = double(p_diff) * p_diff;
  sum_p_diff2 += p_diff2;
  sum_p_diff4 += p_diff2 * p_diff2;
  max_p_diff = std::max(max_p_diff, std::fabs(p_diff));
  kld_values.push_back(float(sum));
  p_diff_values.push_back(p_diff);
}

KldStats::MeanErr KldStats::ppl() const {
  const MeanErr l = mean_err(sum_nll, sum_nll2, count);
  return {std::exp(l.value), std::exp(l.value) * l.err};
}
KldStats::MeanErr KldStats::ppl_base() const {
  const MeanErr l = mean_err(sum_nll_base, sum_nll_base2, count);
  return {std::exp(l.value), std::exp(l.value) * l.err};
}
KldStats::MeanErr KldStats::ln_ppl_ratio() const {
  const MeanErr a = mean_err(sum_nll, sum_nll2, count), b = mean_err(sum_nll_base, sum_nll_base2, count);
  const double cov = covariance(sum_nll, sum_nll_base, sum_nll_nll_base, count);
  return {a.value - b.value, std::sqrt(std::max(0.0, a.err * a.err + b.err * b.err - 2.0 * cov))};
}
KldStats::MeanErr KldStats::ppl_diff() const {
  const MeanErr a = ppl(), b = ppl_base();
  const double cov = a.value * b.value * covariance(sum_nll, sum_nll_base, sum_nll_nll_base, count);
  return {a.value - b.value, std::sqrt(std::max(0.0, a.err * a.err + b.err * b.err - 2.0 * cov))};
}
double KldStats::cor_ln_ppl() const {
  const MeanErr a = mean_err(sum_nll, sum_nll2, count), b = mean_err(sum_nll_base, sum_nll_base2, count);
  const double d = a.err * b.err;
  return d > 0 ? covariance(sum_nll, sum_nll_base, sum_nll_nll_base, count) / d : 0.0;
}
KldStats::MeanErr KldStats::kld() const { return mean_err(sum_kld, sum_kld2, count); }
KldStats::MeanErr KldStats::same_top() const {
  const double p = count ? double(n_same_top) / double(count) : 0.0;
  return {p, count > 1 ? std::sqrt(p * (1 - p) / double(count - 1)) : 0.0};
}
KldStats::MeanErr KldStats::rms_p_diff() const {
  const MeanErr m = mean_err(sum_p_diff2, sum_p_diff4, count);
  const double rms = std::sqrt(m.value);
  return {rms, rms > 0 ? 0.5 / rms * m.err : 0.0};
}

void KldStats::finalize() {
  std::sort(kld_values.begin(), kld_values.end());
  std::sort(p_diff_values.begin(), p_diff_values.end());
}

double KldStats::kld_percentile(double fraction) const {
  if (kld_values.empty()) return 0.0;
  if (fraction <= 0) return kld_values.front();
  if (fraction >= 1) return kld_values.back();
  float p = float(fraction) * float(kld_values.size() - 1);
  const size_t ip = size_t(p);
  p -= float(ip);
  return (1 - p) * kld_values[ip] + p * kld_values[std::min(ip + 1, kld_values.size() - 1)];
}

double KldStats::kld_median() const {
  const size_t n = kld_values.size();
  if (n == 0) return 0.0;
  return n % 2 == 0 ? 0.5f * (kld_values[n / 2] + kld_values[n / 2 - 1]) : kld_values[n / 2];
}

}  // namespace pj::imatrix
