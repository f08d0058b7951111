#include "models/whisper/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"
#include <nlohmann/json.hpp>
#include "models/tokenizer/pretokenize.h"
#include "models/whisper/model.h"

namespace pj::whisper {

const std::vector<Language>& languages() {
  // openai/whisper, whisper/tokenizer.py: LANGUAGES (insertion order = token order).
  static const std::vector<Language> kLanguages = {
      {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"}, {"ru", "russian"},
      {"ko", "korean"}, {"fr", "french"}, {"ja", "japanese"}, {"pt", "portuguese"}, {"tr", "turkish"},
      {"pl", "polish"}, {"ca", "catalan"}, {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"},
      {"it", "italian"}, {"id", "indonesian"}, {"hi", "hindi"}, {"fi", "finnish"}, {"vi", "vietnamese"},
      {"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"}, {"cs", "czech"},
      {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"}, {"ta", "tamil"}, {"no", "norwegian"},
      {"th", "thai"}, {"ur", "urdu"}, {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"},
      {"la", "latin"}, {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"},
      {"te", "telugu"}, {"fa", "persian"}, {"lv", "latvian"}, {"bn", "bengali"}, {"sr", "serbian"},
      {"az", "azerbaijani"}, {"sl", "slovenian"}, {"kn", "kannada"}, {"et", "estonian"}, {"mk", "macedonian"},
      {"br", "breton"}, {"eu", "basque"}, {"is", "icelandic"}, {"hy", "armenian"}, {"ne", "nepali"},
      {"mn", "mongolian"}, {"bs", "bosnian"}, {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"},
      {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"}, {"si", "sinhala"}, {"km", "khmer"},
      {"sn", "shona"}, {"yo", "yoruba"}, {"so", "somali"}, {"af", "afrikaans"}, {"oc", "occitan"},
      {"ka", "georgian"}, {"be", "belarusian"}, {"tg", "tajik"}, {"sd", "sindhi"}, {"gu", "gujarati"},
      {"am", "amharic"}, {"yi", "yiddish"}, {"lo", "lao"}, {"uz", "uzbek"}, {"fo", "faroese"},
      {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"}, {"nn", "nynorsk"}, {"mt", "maltese"},
      {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"}, {"bo", "tibetan"}, {"tl", "tagalog"},
      {"mg", "malagasy"}, {"as", "assamese"}, {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"},
      {"ha", "hausa"}, {"ba", "bashkir"}, {"jw", "javanese"}, {"su", "sundanese"}, {"yue", "cantonese"},
  };
  return kLanguages;
}

namespace {

constexpr int kTimestamps = 1501;  // <|0.00|> ... <|30.00|>
constexpr int kFixedSpecials = 2 + 6;  // endoftext, startoftranscript; translate ... notimestamps

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool b64_decode(std::string_view s, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    const int v = b64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return true;
}

// GPT-2's bytes_to_unicode(): printable bytes map to themselves, the rest to U+0100 onwards.
std::unordered_map<uint32_t, uint8_t> unicode_to_byte() {
  std::unordered_map<uint32_t, uint8_t> m;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    m[printable ? uint32_t(b) : uint32_t(256 + n++)] = uint8_t(b);
  }
  return m;
}

bool utf8_next(std::string_view s, size_t& i, uint32_t& cp) {
  const auto c = uint8_t(s[i]);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + size_t(len) > s.size()) return false;
  cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (uint8_t(s[i + size_t(k)]) & 0x3F);
  i += size_t(len);
  return true;
}

}  // namespace

Tokenizer::Tokenizer(std::vector<std::string> tokens, int n_vocab, std::string source)
    : tokens_(std::move(tokens)), source_(std::move(source)), n_vocab_(n_vocab) {
  eot_ = int32_t(tokens_.size());
  n_languages_ = n_vocab - eot_ - kFixedSpecials - kTimestamps;
  multilingual_ = eot_ >= 50257;
  if (n_languages_ < 1 || n_languages_ > int(languages().size()))
    fail("whisper: {}: a base vocabulary of {} tokens does not fit a model of {} tokens", source_, eot_, n_vocab);
  rank_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) rank_.emplace(tokens_[i], int32_t(i));
}

Tokenizer Tokenizer::from_tiktoken(const std::string& path, int n_vocab) {
  const std::string text = read_text_file(path);
  std::vector<std::string> tokens;
  size_t pos = 0, line_no = 0;
  std::string bytes;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) fail("whisper: {}:{}: expected 'base64 rank'", path, line_no);
    const std::string rank_s(line.substr(sp + 1));
    char* e = nullptr;
    const long rank = std::strtol(rank_s.c_str(), &e, 10);
    // (multilingual.tiktoken's last rank, 50256, is the empty string "=": kept, it never matches.)
    if (!b64_decode(line.substr(0, sp), bytes) || *e != '\0' || rank != long(tokens.size()))
      fail("whisper: {}:{}: bad token or rank (ranks must be 0, 1, 2, ...)", path, line_no);
    tokens.push_back(bytes);
  }
  return Tokenizer(std::move(tokens), n_vocab, path);
}

Tokenizer Tokenizer::from_byte_level_vocabulary(const std::string& path, int n_vocab) {
  const std::string text = read_text_file(path);
  const auto u2b = unicode_to_byte();
  std::vector<std::string> tokens;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (line == "<|endoftext|>") break;  // the specials follow the base vocabulary
    std::string bytes;
    for (size_t i = 0; i < line.size();) {
      uint32_t cp = 0;
      if (!utf8_next(line, i, cp)) fail("whisper: {}: line {}: invalid UTF-8", path, tokens.size() + 1);
      auto it = u2b.find(cp);
      if (it == u2b.end()) fail("whisper: {}: line {}: not a byte-level token", path, tokens.size() + 1);
      bytes.push_back(char(it->second));
    }
    if (bytes.empty()) fail("whisper: {}: line {}: empty token", path, tokens.size() + 1);
    tokens.push_back(std::move(bytes));
  }
  return Tokenizer(std::move(tokens), n_vocab, path);
}

namespace {
std::vector<std::string> byte_level_to_bytes(const std::vector<std::string>& pieces, const std::string& path) {
  const auto u2b = unicode_to_byte();
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (const std::string& p : pieces) {
    std::string bytes;
    for (size_t i = 0; i < p.size();) {
      uint32_t cp = 0;
      if (!utf8_next(p, i, cp)) fail("whisper: {}: token {}: invalid UTF-8", path, out.size());
      auto it = u2b.find(cp);
      if (it == u2b.end()) fail("whisper: {}: token {} is not a byte-level token", path, out.size());
      bytes.push_back(char(it->second));
    }
    if (bytes.empty()) fail("whisper: {}: token {} is empty", path, out.size());
    out.push_back(std::move(bytes));
  }
  return out;
}
}  // namespace

Tokenizer Tokenizer::from_vocab_json(const std::string& path, int n_vocab) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("whisper: {}: invalid JSON ({})", path, e.what());
  }
  if (!j.is_object()) fail("whisper: {}: expected an object of token -> id", path);
  std::vector<std::string> by_id(j.size());
  size_t n_base = j.size();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_number_integer()) fail("whisper: {}: id of '{}' is not an integer", path, it.key());
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || size_t(id) >= by_id.size()) fail("whisper: {}: id {} out of range", path, id);
    by_id[size_t(id)] = it.key();
    if (it.key() == "<|endoftext|>") n_base = size_t(id);
  }
  by_id.resize(n_base);
  return Tokenizer(byte_level_to_bytes(by_id, path), n_vocab, path);
}

bool Tokenizer::model_has_vocabulary(const Model& m) {
  if (m.format == "gguf") return gguf::File::open(m.source).has("whisper.tokenizer.tokens");
  return file_exists(m.source + "/vocabulary.txt") || file_exists(m.source + "/vocab.json");
}

Tokenizer Tokenizer::for_model(const Model& m, const std::string& vocab_override) {
  auto from_file = [&](const std::string& p) {
    return p.size() > 9 && p.substr(p.size() - 9) == ".tiktoken" ? from_tiktoken(p, m.hp.n_vocab)
                                                                 : from_byte_level_vocabulary(p, m.hp.n_vocab);
  };
  if (!vocab_override.empty()) return from_file(vocab_override);
  if (m.format == "gguf") {
    auto f = gguf::File::open(m.source);
    if (f.has("whisper.tokenizer.tokens")) {
      const auto& toks = f.get_array("whisper.tokenizer.tokens").get<std::string>();
      return Tokenizer(toks, m.hp.n_vocab, m.source);
    }
  } else if (file_exists(m.source + "/vocabulary.txt")) {
    return from_byte_level_vocabulary(m.source + "/vocabulary.txt", m.hp.n_vocab);
  } else if (file_exists(m.source + "/vocab.json")) {
    return from_vocab_json(m.source + "/vocab.json", m.hp.n_vocab);
  }
  fail("whisper: {}: no vocabulary with the model (a GGUF made by `pajamas convert` carries one; "
       "otherwise pass --vocab multilingual.tiktoken or gpt2.tiktoken)", m.source);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  std::vector<std::string_view> pieces;
  tok::pre_split(tok::PreSplit::gpt2, text, pieces);
  std::vector<std::string> parts;
  for (std::string_view piece : pieces) {
    if (auto it = rank_.find(std::string(piece)); it != rank_.end()) {
      out.push_back(it->second);
      continue;
    }
    parts.clear();
    for (char c : piece) parts.emplace_back(1, c);
    // tiktoken's byte-pair merge: repeatedly join the adjacent pair whose concatenation ranks lowest.
    for (;;) {
      int32_t best = std::numeric_limits<int32_t>::max();
      size_t at = 0;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = rank_.find(parts[i] + parts[i + 1]);
        if (it != rank_.end() && it->second < best) {
          best = it->second;
          at = i;
        }
      }
      if (best == std::numeric_limits<int32_t>::max()) break;
      parts[at] += parts[at + 1];
      parts.erase(parts.begin() + long(at) + 1);
    }
    for (const auto& p : parts) {
      auto it = rank_.find(p);
      if (it == rank_.end()) fail("whisper: {}: byte 0x{:02x} has no token", source_, uint8_t(p[0]));
      out.push_back(it->second);
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string s;
  for (int32_t id : ids)
    if (id >= 0 && id < eot_) s += tokens_[size_t(id)];
  return s;
}

std::string Tokenizer::token_text(int32_t id) const {
  if (id >= 0 && id < eot_) return tokens_[size_t(id)];
  if (id == eot_) return "<|endoftext|>";
  if (id == sot()) return "<|startoftranscript|>";
  if (!language_code(id).empty()) return "<|" + std::string(language_code(id)) + "|>";
  if (id == translate()) return "<|translate|>";
  if (id == transcribe()) return "<|transcribe|>";
  if (id == sot_lm()) return "<|startoflm|>";
  if (id == sot_prev()) return "<|startofprev|>";
  if (id == no_speech()) return "<|nospeech|>";
  if (id == no_timestamps()) return "<|notimestamps|>";
  if (is_timestamp(id)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "<|%.2f|>", (id - timestamp_begin()) * 0.02);
    return buf;
  }
  return "<|invalid|>";
}

int32_t Tokenizer::language_token(std::string_view code) const {
  const auto& langs = languages();
  for (int i = 0; i < n_languages_; ++i)
    if (langs[size_t(i)].code == code || langs[size_t(i)].name == code) return sot() + 1 + i;
  return -1;
}

std::string_view Tokenizer::language_code(int32_t token) const {
  const int i = token - sot() - 1;
  return i >= 0 && i < n_languages_ ? languages()[size_t(i)].code : std::string_view{};
}

std::vector<int32_t> Tokenizer::sot_sequence(std::string_view language, bool translate_task) const {
  std::vector<int32_t> seq{sot()};
  if (multilingual_) {
    const int32_t lt = language_token(language.empty() ? "en" : language);
    if (lt < 0) fail("whisper: unknown language '{}'", language);
    seq.push_back(lt);
    seq.push_back(translate_task ? translate() : transcribe());
  }
  return seq;
}

std::vector<int32_t> Tokenizer::non_speech_tokens() const {
  // openai/whisper, whisper/tokenizer.py: non_speech_tokens.
  static const char* kSymbols[] = {
      "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^", "_", "`", "{", "|",
      "}", "~", "\u300c", "\u300d", "\u300e", "\u300f", "<<", ">>", "<<<", ">>>", "--", "---", "-(", "-[", "('",
      "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{", "}}", "\u266a\u266a", "\u266a\u266a\u266a"};
  static const char* kMisc[] = {"\u2669", "\u266a", "\u266b", "\u266c", "\u266d", "\u266e", "\u266f"};
  std::set<int32_t> result{encode(" -")[0], encode(" '")[0]};
  for (const char* s : kSymbols) {
    for (const std::string& t : {std::string(s), " " + std::string(s)}) {
      const auto ids = encode(t);
      if (ids.size() == 1) result.insert(ids[0]);
    }
  }
  for (const char* s : kMisc) {
    for (const std::string& t : {std::string(s), " " + std::string(s)}) result.insert(encode(t)[0]);
  }
  return {result.begin(), result.end()};
}

}  // namespace pj::whisper
