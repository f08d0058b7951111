// Perplexity and KL divergence as llama-perplexity computes them (tools/perplexity/perplexity.cpp):
// each chunk of n_ctx tokens is evaluated from an empty cache and only its second half is scored
// (positions first = n_ctx/2 .. n_ctx-2 predict the next token), so the model always has context.
//
// The KL-divergence base file is llama-perplexity's --kl-divergence-base format, so either program
// reads the other's files:
//   "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk, int32 tokens[n_chunk * n_ctx],
//   then per chunk, per scored position (n_ctx - 1 - n_ctx/2 of them) nv = 2*((n_vocab+1)/2) + 4
//   uint16: float32 scale, float32 min_log_prob, then per token round((logit - min_logit) / scale)
//   with min_logit = max(min logit, max logit - 16) and scale = (max_logit - min_logit) / 65535, so
//   log p = scale * q + min_log_prob. A log-probability is kept to 16/65535 nats within 16 nats of the
//   top token (everything below is clamped): 2 bytes per vocabulary entry instead of 4.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/file.h"

namespace pj::imatrix {

// -log p(tok) of one row of logits (llama.cpp: float max, double sum of expf).
double nll_of(const float* logits, int64_t n_vocab, int32_t tok);

struct Perplexity {
  double sum_nll = 0, sum_nll2 = 0;
  int64_t count = 0;
  std::vector<double> running;  // perplexity after each chunk
  void add_chunk(const float* logits, const std::vector<int32_t>& tokens, int64_t n_vocab);
  double ppl() const;
  double ppl_uncertainty() const;  // llama.cpp: sqrt(var(nll)/(count-1)) * ppl
};

class KldBaseWriter {
 public:
  KldBaseWriter(const std::string& path, int64_t n_ctx, int64_t n_vocab, int64_t n_chunk,
                const std::vector<int32_t>& tokens);
  // Also scores the chunk into `ppl`.
  void add_chunk(const float* logits, const std::vector<int32_t>& chunk_tokens, Perplexity& ppl);
  void commit();

 private:
  AtomicFileWriter out_;
  int64_t n_ctx_, n_vocab_;
  std::vector<uint16_t> row_;
};

class KldBase {
 public:
  explicit KldBase(const std::string& path);  // validates the header and the exact file size
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_vocab() const { return n_vocab_; }
  int64_t n_chunk() const { return n_chunk_; }
  std::vector<int32_t> tokens() const;
  // The stored row of chunk c, scored position i (0 .. n_ctx - 2 - n_ctx/2): nv uint16.
  const uint16_t* row(int64_t c, int64_t i) const;

 private:
  MappedFile map_;
  int64_t n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0, nv_ = 0;
  size_t data_offset_ = 0;
};

struct KldStats {
  double sum_nll = 0, sum_nll2 = 0, sum_nll_base = 0, sum_nll_base2 = 0, sum_nll_nll_base = 0;
  double sum_kld = 0, sum_kld2 = 0, sum_p_diff = 0, sum_p_diff2 = 0, sum_p_diff4 = 0;
  float max_p_diff = 0;
  int64_t n_same_top = 0, count = 0;
  std::vector<float> kld_values, p_diff_values;

  // One position: the quantized model's logits against the base row, next token `tok`.
  void add(const float* logits, int64_t n_vocab, const uint16_t* base_row, int32_t tok);

  struct MeanErr { double value = 0, err = 0; };
  MeanErr ppl() const;
  MeanErr ppl_base() const;
  MeanErr ln_ppl_ratio() const;
  MeanErr ppl_diff() const;
  MeanErr kld() const;
  MeanErr same_top() const;  // fraction
  MeanErr rms_p_diff() const;
  double cor_ln_ppl() const;
  // Percentile of the sorted KLD values as llama.cpp interpolates it (call finalize() first).
  double kld_percentile(double fraction) const;
  double kld_median() const;
  void finalize();
};

}  // namespace pj::imatrix
