#include "models/tokenizer/pretokenize.h"

#include "models/tokenizer/unicode.h"

#include <cstdint>

namespace pj::tok {
namespace {

// Regex sources: tokenizer.json of GPT-2, Meta-Llama-3 and Qwen2 (HF hub); llama.cpp's
// src/llama-vocab.cpp for the names used in `tokenizer.ggml.pre`.
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum : uint8_t { kLetter = 1, kNumber = 2, kSpace = 4, kCrLf = 8 };

// The text as code points with their byte offsets (offs has one extra entry: the text size).
struct Cps {
  std::vector<uint32_t> cp;
  std::vector<uint8_t> cls;
  std::vector<size_t> offs;
  size_t n = 0;

  explicit Cps(std::string_view t) {
    cp.reserve(t.size());
    offs.reserve(t.size() + 1);
    for (size_t i = 0; i < t.size();) {
      size_t len;
      const uint32_t c = utf8_decode(t, i, len);
      cp.push_back(c);
      uint8_t k = 0;
      if (is_letter(c)) k = kLetter;
      else if (is_number(c)) k = kNumber;
      else if (is_space(c)) k = kSpace | ((c == '\r' || c == '\n') ? kCrLf : 0);
      cls.push_back(k);
      offs.push_back(i);
      i += len;
    }
    offs.push_back(t.size());
    n = cp.size();
  }
  uint8_t at(size_t i) const { return i < n ? cls[i] : 0; }
  bool other(size_t i) const { return i < n && cls[i] == 0; }  // [^\s\p{L}\p{N}]
};

uint32_t lower_ascii(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// 's|'t|'re|'ve|'m|'ll|'d at i; returns the length in code points or 0. Case-insensitive matching
// folds like Oniguruma's (?i): ASCII case, plus U+017F LATIN SMALL LETTER LONG S, which folds to 's'.
size_t match_contraction(const Cps& c, size_t i, bool icase) {
  if (c.cp[i] != '\'' || i + 1 >= c.n) return 0;
  auto fold = [&](size_t k) -> uint32_t {
    if (k >= c.n) return 0;
    uint32_t x = c.cp[k];
    if (!icase) return x;
    if (x == 0x17F) return 's';
    return lower_ascii(x);
  };
  const uint32_t a = fold(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  const uint32_t b = fold(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

size_t run(const Cps& c, size_t i, uint8_t mask) {
  size_t j = i;
  while (j < c.n && (c.cls[j] & mask)) ++j;
  return j;
}

size_t run_other(const Cps& c, size_t i) {
  size_t j = i;
  while (j < c.n && c.cls[j] == 0) ++j;
  return j;
}

// \s+(?!\S)|\s+ at i (c[i] is a space): the whole run if it reaches the end or is one character,
// else the run minus its last character (which is left to precede the next word).
size_t match_space_tail(const Cps& c, size_t i) {
  const size_t j = run(c, i, kSpace);
  if (j == c.n || j - i == 1) return j;
  return j - 1;
}

// Returns the end (in code points) of the match starting at i; always > i.
size_t match_gpt2(const Cps& c, size_t i) {
  if (size_t k = match_contraction(c, i, false)) return i + k;
  const size_t s = (c.cp[i] == ' ') ? i + 1 : i;  // optional leading space
  if (c.at(s) & kLetter) return run(c, s, kLetter);
  if (c.at(s) & kNumber) return run(c, s, kNumber);
  if (c.other(s)) return run_other(c, s);
  if (c.at(i) & kSpace) return match_space_tail(c, i);
  return i + 1;  // unreachable: every class is covered above
}

size_t match_llama3(const Cps& c, size_t i, size_t max_digits) {
  if (size_t k = match_contraction(c, i, true)) return i + k;
  const uint8_t k0 = c.cls[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (k0 & kLetter) return run(c, i, kLetter);
  if (!(k0 & (kCrLf | kNumber)) && (c.at(i + 1) & kLetter)) return run(c, i + 1, kLetter);
  // \p{N}{1,max}
  if (k0 & kNumber) {
    size_t j = i;
    while (j < c.n && j - i < max_digits && (c.cls[j] & kNumber)) ++j;
    return j;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const size_t s = (c.cp[i] == ' ') ? i + 1 : i;
  if (c.other(s)) return run(c, run_other(c, s), kCrLf);
  // \s*[\r\n]+ : up to and including the last CR/LF of the whitespace run.
  const size_t j = run(c, i, kSpace);
  for (size_t k = j; k > i; --k) {
    if (c.cls[k - 1] & kCrLf) return k;
  }
  return match_space_tail(c, i);
}

}  // namespace

const char* pre_split_name(PreSplit s) {
  switch (s) {
    case PreSplit::gpt2: return "gpt2";
    case PreSplit::llama3: return "llama3";
    case PreSplit::qwen2: return "qwen2";
    case PreSplit::digits: return "digits";
  }
  return "?";
}

std::string_view pre_split_regex(PreSplit s) {
  switch (s) {
    case PreSplit::gpt2: return kGpt2Regex;
    case PreSplit::llama3: return kLlama3Regex;
    case PreSplit::qwen2: return kQwen2Regex;
    case PreSplit::digits: return "";
  }
  return "";
}

std::optional<PreSplit> pre_split_from_regex(std::string_view pattern) {
  if (pattern == kGpt2Regex) return PreSplit::gpt2;
  if (pattern == kLlama3Regex) return PreSplit::llama3;
  if (pattern == kQwen2Regex) return PreSplit::qwen2;
  // GPT-2's own tokenizer.json and llama.cpp's copy omit the final "|\s+"; it changes nothing, since
  // \s+(?!\S) already matches every whitespace run it can start.
  if (pattern == kGpt2Regex.substr(0, kGpt2Regex.size() - 4)) return PreSplit::gpt2;
  return std::nullopt;
}

std::optional<std::vector<PreSplit>> pre_splits_from_gguf_name(std::string_view name) {
  // Names from llama.cpp's LLAMA_VOCAB_PRE_TYPE_* mapping in src/llama-vocab.cpp.
  if (name == "llama3" || name == "llama-bpe" || name == "llama-v3" || name == "falcon3" ||
      name == "pixtral")
    return std::vector{PreSplit::llama3};
  if (name == "qwen2" || name == "deepseek-r1-qwen" || name == "qwen35") return std::vector{PreSplit::qwen2};
  if (name == "gpt-2" || name == "gpt2" || name == "mpt" || name == "olmo" || name == "jais")
    return std::vector{PreSplit::gpt2};
  if (name == "smollm" || name == "codeshell" || name == "exaone" || name == "minerva-7b")
    return std::vector{PreSplit::digits, PreSplit::gpt2};
  return std::nullopt;
}

void pre_split(PreSplit s, std::string_view text, std::vector<std::string_view>& out) {
  if (text.empty()) return;
  if (s == PreSplit::digits) {
    // HF's Digits tests Rust's char::is_numeric, i.e. the N* categories, as llama.cpp's \p{N}.
    size_t start = 0;
    for (size_t i = 0; i < text.size();) {
      size_t len;
      const uint32_t cp = utf8_decode(text, i, len);
      if (is_number(cp)) {
        if (i > start) out.push_back(text.substr(start, i - start));
        out.push_back(text.substr(i, len));
        start = i + len;
      }
      i += len;
    }
    if (start < text.size()) out.push_back(text.substr(start));
    return;
  }
  const Cps c(text);
  for (size_t i = 0; i < c.n;) {
    size_t j;
    switch (s) {
      case PreSplit::gpt2: j = match_gpt2(c, i); break;
      case PreSplit::llama3: j = match_llama3(c, i, 3); break;
      default: j = match_llama3(c, i, 1); break;
    }
    out.push_back(text.substr(c.offs[i], c.offs[j] - c.offs[i]));
    i = j;
  }
}

std::vector<std::string_view> pre_split_all(const std::vector<PreSplit>& stages, std::string_view text) {
  std::vector<std::string_view> cur{text}, next;
  if (stages.empty()) return text.empty() ? std::vector<std::string_view>{} : cur;
  for (PreSplit s : stages) {
    next.clear();
    for (std::string_view piece : cur) pre_split(s, piece, next);
    cur.swap(next);
  }
  return cur;
}

}  // namespace pj::tok
