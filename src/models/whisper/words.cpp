#include "models/whisper/words.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "core/base/error.h"
#include "models/whisper/tokenizer.h"

namespace pj::whisper {
namespace {

constexpr double kTokensPerSecond = 50.0;  // encoder positions per second (20 ms each)
// Python's string.punctuation; `s in kPunctuation` in timing.py is a substring test.
constexpr std::string_view kPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
// openai/whisper transcribe.py defaults (faster-whisper's are the same).
constexpr std::string_view kPrepend = "\"'\u201c\u00bf([{-";
constexpr std::string_view kAppend = "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001";
constexpr std::string_view kSentenceEnd = ".\u3002!\uff01?\uff1f";

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

std::string strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// True when s ends inside a multi-byte UTF-8 character that later bytes could still complete (the
// state in which whisper's decode shows U+FFFD and keeps adding tokens).
bool incomplete_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    size_t k = 1;
    while (k < len && i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80) ++k;
    if (k < len && i + k == s.size()) return true;  // cut short at the end
    i += k;
  }
  return false;
}

}  // namespace

void median_filter(float* x, int64_t rows, int64_t width, int filter) {
  const int pad = filter / 2;
  if (filter <= 1 || width <= pad) return;
  std::vector<float> padded(size_t(width + 2 * pad)), win(static_cast<size_t>(filter));
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * width;
    for (int64_t i = 0; i < width + 2 * pad; ++i) {
      int64_t j = i - pad;
      if (j < 0) j = -j;                          // reflect without repeating the edge
      if (j >= width) j = 2 * (width - 1) - j;
      padded[size_t(i)] = row[std::clamp<int64_t>(j, 0, width - 1)];
    }
    for (int64_t i = 0; i < width; ++i) {
      std::copy_n(padded.begin() + i, filter, win.begin());
      std::nth_element(win.begin(), win.begin() + pad, win.end());
      row[i] = win[size_t(pad)];
    }
  }
}

std::vector<std::pair<int, int>> dtw(const std::vector<float>& x, int n, int m) {
  if (n <= 0 || m <= 0 || x.size() != size_t(n) * size_t(m)) fail("whisper: dtw: bad cost matrix");
  const float inf = std::numeric_limits<float>::infinity();
  const size_t W = size_t(m) + 1;
  std::vector<float> cost((size_t(n) + 1) * W, inf);
  std::vector<int8_t> trace((size_t(n) + 1) * W, -1);
  cost[0] = 0;
  for (int j = 1; j <= m; ++j) {
    for (int i = 1; i <= n; ++i) {
      const float c0 = cost[size_t(i - 1) * W + size_t(j - 1)], c1 = cost[size_t(i - 1) * W + size_t(j)],
                  c2 = cost[size_t(i) * W + size_t(j - 1)];
      float c;
      int8_t t;
      if (c0 < c1 && c0 < c2) {
        c = c0, t = 0;
      } else if (c1 < c0 && c1 < c2) {
        c = c1, t = 1;
      } else {
        c = c2, t = 2;
      }
      cost[size_t(i) * W + size_t(j)] = x[size_t(i - 1) * size_t(m) + size_t(j - 1)] + c;
      trace[size_t(i) * W + size_t(j)] = t;
    }
  }
  for (int j = 0; j <= m; ++j) trace[size_t(j)] = 2;
  for (int i = 0; i <= n; ++i) trace[size_t(i) * W] = 1;
  std::vector<std::pair<int, int>> path;
  int i = n, j = m;
  while (i > 0 || j > 0) {
    path.emplace_back(i - 1, j - 1);
    const int8_t t = trace[size_t(i) * W + size_t(j)];
    if (t == 0) {
      --i, --j;
    } else if (t == 1) {
      --i;
    } else {
      --j;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

std::vector<std::pair<std::string, std::vector<int32_t>>> split_to_word_tokens(const Tokenizer& tok,
                                                                               const std::vector<int32_t>& tokens,
                                                                               std::string_view language) {
  // split_tokens_on_unicode: a subword ends where the bytes so far form whole characters.
  std::vector<std::pair<std::string, std::vector<int32_t>>> subwords, words;
  std::string cur;
  std::vector<int32_t> cur_tokens;
  for (int32_t t : tokens) {
    cur += tok.token_text(t);
    cur_tokens.push_back(t);
    if (!incomplete_utf8(cur)) {
      subwords.emplace_back(std::move(cur), std::move(cur_tokens));
      cur.clear();
      cur_tokens.clear();
    }
  }
  if (!cur_tokens.empty()) subwords.emplace_back(std::move(cur), std::move(cur_tokens));
  const bool per_char = language == "zh" || language == "ja" || language == "th" || language == "lo" ||
                        language == "my" || language == "yue";
  if (per_char) return subwords;
  for (auto& [sw, st] : subwords) {
    const bool special = st.front() >= tok.eot();
    const bool with_space = !sw.empty() && sw[0] == ' ';
    const bool punctuation = contains(kPunctuation, strip(sw));
    if (special || with_space || punctuation || words.empty()) {
      words.emplace_back(std::move(sw), std::move(st));
    } else {
      words.back().first += sw;
      words.back().second.insert(words.back().second.end(), st.begin(), st.end());
    }
  }
  return words;
}

void merge_punctuations(std::vector<Word>& w) {
  if (w.size() < 2) return;
  // prepended punctuation joins the following word
  for (long i = long(w.size()) - 2, j = long(w.size()) - 1; i >= 0; --i) {
    Word& prev = w[size_t(i)];
    Word& next = w[size_t(j)];
    if (!prev.word.empty() && prev.word[0] == ' ' && contains(kPrepend, strip(prev.word))) {
      next.word = prev.word + next.word;
      next.tokens.insert(next.tokens.begin(), prev.tokens.begin(), prev.tokens.end());
      prev.word.clear();
      prev.tokens.clear();
    } else {
      j = i;
    }
  }
  // appended punctuation joins the previous word
  for (size_t i = 0, j = 1; j < w.size(); ++j) {
    Word& prev = w[i];
    Word& next = w[j];
    if ((prev.word.empty() || prev.word.back() != ' ') && contains(kAppend, next.word)) {
      prev.word += next.word;
      prev.tokens.insert(prev.tokens.end(), next.tokens.begin(), next.tokens.end());
      next.word.clear();
      next.tokens.clear();
    } else {
      i = j;
    }
  }
}

std::vector<Word> find_alignment(const Tokenizer& tok, std::string_view language, const std::vector<int32_t>& text_tokens,
                                 const std::vector<float>& qk, int n_heads, int n_ctx, int sot_len,
                                 const std::vector<float>& logits, int64_t num_frames, int medfilt_width) {
  if (text_tokens.empty()) return {};
  const int n_tok = sot_len + 1 + int(text_tokens.size()) + 1;
  const int n_vocab = tok.n_vocab();
  if (n_heads <= 0 || qk.size() != size_t(n_heads) * size_t(n_tok) * size_t(n_ctx) ||
      logits.size() != size_t(n_tok) * size_t(n_vocab))
    fail("whisper: word timestamps: attention or logits of the wrong size");
  const int F = int(std::clamp<int64_t>(num_frames / 2, 1, n_ctx));

  // Softmax over the window's frames, standardise over tokens, median filter along time, mean over heads.
  std::vector<float> wts(size_t(n_heads) * size_t(n_tok) * size_t(F));
  for (int h = 0; h < n_heads; ++h) {
    for (int t = 0; t < n_tok; ++t) {
      const float* src = qk.data() + (size_t(h) * size_t(n_tok) + size_t(t)) * size_t(n_ctx);
      float* dst = wts.data() + (size_t(h) * size_t(n_tok) + size_t(t)) * size_t(F);
      float mx = -std::numeric_limits<float>::infinity();
      for (int f = 0; f < F; ++f) mx = std::max(mx, src[f]);
      double sum = 0;
      for (int f = 0; f < F; ++f) sum += std::exp(double(src[f] - mx));
      for (int f = 0; f < F; ++f) dst[f] = float(std::exp(double(src[f] - mx)) / sum);
    }
    float* hw = wts.data() + size_t(h) * size_t(n_tok) * size_t(F);
    for (int f = 0; f < F; ++f) {
      double mean = 0, var = 0;
      for (int t = 0; t < n_tok; ++t) mean += hw[size_t(t) * size_t(F) + size_t(f)];
      mean /= n_tok;
      for (int t = 0; t < n_tok; ++t) {
        const double dv = hw[size_t(t) * size_t(F) + size_t(f)] - mean;
        var += dv * dv;
      }
      const double sd = std::sqrt(var / n_tok);
      for (int t = 0; t < n_tok; ++t) {
        float& v = hw[size_t(t) * size_t(F) + size_t(f)];
        v = sd > 0 ? float((v - mean) / sd) : 0.0f;
      }
    }
    median_filter(hw, n_tok, F, medfilt_width);
  }
  // matrix rows sot_len .. n_tok - 2 (<|notimestamps|> and the text tokens: each predicts the next one).
  const int n_rows = n_tok - 1 - sot_len;
  std::vector<float> cost(size_t(n_rows) * size_t(F), 0.0f);
  for (int h = 0; h < n_heads; ++h)
    for (int r = 0; r < n_rows; ++r)
      for (int f = 0; f < F; ++f)
        cost[size_t(r) * size_t(F) + size_t(f)] -=
            wts[(size_t(h) * size_t(n_tok) + size_t(sot_len + r)) * size_t(F) + size_t(f)] / float(n_heads);
  const auto path = dtw(cost, n_rows, F);

  // Probability of each text token among the text tokens (logits below <|endoftext|>).
  std::vector<float> probs(text_tokens.size());
  for (size_t i = 0; i < text_tokens.size(); ++i) {
    const float* row = logits.data() + size_t(sot_len + int(i)) * size_t(n_vocab);
    const int eot = tok.eot();
    float mx = -std::numeric_limits<float>::infinity();
    for (int v = 0; v < eot; ++v) mx = std::max(mx, row[v]);
    double sum = 0;
    for (int v = 0; v < eot; ++v) sum += std::exp(double(row[v] - mx));
    const int32_t id = text_tokens[i];
    probs[i] = id < eot ? float(std::exp(double(row[id] - mx)) / sum) : 0.0f;
  }

  std::vector<int32_t> with_eot = text_tokens;
  with_eot.push_back(tok.eot());
  auto words = split_to_word_tokens(tok, with_eot, language);
  if (words.size() <= 1) return {};
  // jump_times: the time at which the path first reaches each row
  std::vector<double> jump_times;
  int last_row = -1;
  for (const auto& [r, f] : path) {
    if (r != last_row) jump_times.push_back(f / kTokensPerSecond);
    last_row = r;
  }
  std::vector<size_t> bounds{0};
  for (size_t i = 0; i + 1 < words.size(); ++i) bounds.push_back(bounds.back() + words[i].second.size());
  std::vector<Word> out;
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    Word w;
    w.word = words[i].first;
    w.tokens = words[i].second;
    w.start = jump_times[std::min(bounds[i], jump_times.size() - 1)];
    w.end = jump_times[std::min(bounds[i + 1], jump_times.size() - 1)];
    double p = 0;
    for (size_t k = bounds[i]; k < bounds[i + 1]; ++k) p += probs[k];
    w.probability = bounds[i + 1] > bounds[i] ? float(p / double(bounds[i + 1] - bounds[i])) : 0.0f;
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace pj::whisper
