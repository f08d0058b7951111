#include "models/vision/clip_tokenizer.h"

#include <zlib.h>

#include <nlohmann/json.hpp>

#include <limits>
#include <sstream>

#include "core/base/error.h"
#include "core/base/file.h"
#include "models/tokenizer/unicode.h"

namespace pj::vision {

using tok::is_letter;
using tok::is_number;
using tok::is_space;
using tok::utf8_append;
using tok::utf8_decode;
using tok::utf8_sanitize;

namespace {

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n in order.
std::vector<uint32_t> bytes_to_unicode() {
  std::vector<uint32_t> cp(256, 0);
  std::vector<bool> direct(256, false);
  for (int b = '!'; b <= '~'; ++b) direct[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
  int n = 0;
  for (int b = 0; b < 256; ++b) cp[b] = direct[b] ? uint32_t(b) : uint32_t(256 + n++);
  return cp;
}

std::string read_maybe_gz(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) fail("clip tokenizer: {}: cannot open", path);
    std::string out;
    char buf[65536];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    int err = 0;
    const char* msg = gzerror(f, &err);
    gzclose(f);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) fail("clip tokenizer: {}: corrupt gzip data ({})", path, msg);
    return out;
  }
  return read_text_file(path);
}

std::vector<std::pair<std::string, std::string>> parse_merges(const std::string& text, const std::string& path,
                                                              size_t limit) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(text);
  std::string line;
  bool first = true;
  while (std::getline(in, line) && out.size() < limit) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first) {  // the "#version: ..." header (OpenAI's file and HF's merges.txt both have one)
      first = false;
      if (line.rfind("#version", 0) == 0 || line.rfind("\"bpe_simple_vocab", 0) == 0) continue;
    }
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size())
      fail("clip tokenizer: {}: malformed merge line '{}'", path, line);
    out.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  return out;
}

char32_t lower(uint32_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;
  return c;
}

}  // namespace

bool ClipTokenizer::folder_has_files(const std::string& f) {
  return file_exists(f + "/vocab.json") && file_exists(f + "/merges.txt");
}

ClipTokenizer ClipTokenizer::load(const std::string& path) {
  ClipTokenizer t;
  auto b2u = bytes_to_unicode();
  t.byte_sym_.resize(256);
  for (int b = 0; b < 256; ++b) utf8_append(t.byte_sym_[b], b2u[b]);
  std::vector<std::pair<std::string, std::string>> merges;
  if (is_directory(path)) {
    if (!folder_has_files(path)) fail("clip tokenizer: {}: no vocab.json and merges.txt", path);
    nlohmann::json v;
    try {
      v = nlohmann::json::parse(read_text_file(path + "/vocab.json"));
    } catch (const nlohmann::json::exception& e) {
      fail("clip tokenizer: {}/vocab.json: invalid JSON ({})", path, e.what());
    }
    if (!v.is_object()) fail("clip tokenizer: {}/vocab.json: not an object", path);
    for (const auto& [k, id] : v.items()) {
      if (!id.is_number_integer()) fail("clip tokenizer: {}/vocab.json: id of '{}' is not an integer", path, k);
      t.vocab_[k] = id.get<int64_t>();
    }
    merges = parse_merges(read_text_file(path + "/merges.txt"), path + "/merges.txt", std::numeric_limits<size_t>::max());
  } else {
    if (!file_exists(path)) fail("clip tokenizer: {}: no such file", path);
    // OpenAI's SimpleTokenizer: merges[1 : 49152 - 256 - 2 + 1] (the header line is skipped by parse_merges).
    merges = parse_merges(read_maybe_gz(path), path, 49152 - 256 - 2);
    // bytes_to_unicode()'s dict order: the printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF), then the rest.
    std::vector<int> order;
    for (int pass = 0; pass < 2; ++pass)
      for (int b = 0; b < 256; ++b)
        if ((b2u[b] == uint32_t(b)) == (pass == 0)) order.push_back(b);
    int64_t id = 0;
    for (int b : order) t.vocab_[t.byte_sym_[b]] = id++;
    for (int b : order) t.vocab_[t.byte_sym_[b] + "</w>"] = id++;
    for (const auto& m : merges) t.vocab_.emplace(m.first + m.second, id++);
    t.vocab_["<|startoftext|>"] = id++;
    t.vocab_["<|endoftext|>"] = id++;
  }
  for (size_t i = 0; i < merges.size(); ++i) t.ranks_.emplace(merges[i], int(i));
  auto sp = [&](const char* s) {
    auto it = t.vocab_.find(s);
    if (it == t.vocab_.end()) fail("clip tokenizer: {}: no '{}' token", path, s);
    return it->second;
  };
  t.bos_ = sp("<|startoftext|>");
  t.eos_ = sp("<|endoftext|>");
  return t;
}

std::vector<std::string> ClipTokenizer::bpe(const std::string& piece) const {
  // Symbols: one per byte-mapped character, the last one with "</w>".
  std::vector<std::string> w;
  for (unsigned char c : piece) w.push_back(byte_sym_[c]);
  if (w.empty()) return w;
  w.back() += "</w>";
  while (w.size() > 1) {
    int best = std::numeric_limits<int>::max();
    size_t at = 0;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      auto it = ranks_.find({w[i], w[i + 1]});
      if (it != ranks_.end() && it->second < best) best = it->second, at = i;
    }
    if (best == std::numeric_limits<int>::max()) break;
    // Merge every occurrence of the best pair, left to right (as the reference loop does).
    std::string a = w[at], b = w[at + 1];
    std::vector<std::string> nw;
    for (size_t i = 0; i < w.size();) {
      if (i + 1 < w.size() && w[i] == a && w[i + 1] == b) nw.push_back(a + b), i += 2;
      else nw.push_back(w[i]), ++i;
    }
    w.swap(nw);
  }
  return w;
}

std::vector<int64_t> ClipTokenizer::encode(const std::string& raw) const {
  // Clean: valid UTF-8, whitespace runs -> one space, trimmed, lower-cased.
  std::string text = utf8_sanitize(raw);
  std::vector<uint32_t> cps;
  bool pending_space = false;
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    uint32_t c = utf8_decode(text, i, len);
    i += len;
    if (is_space(c)) {
      pending_space = !cps.empty();
      continue;
    }
    if (pending_space) cps.push_back(' '), pending_space = false;
    cps.push_back(lower(c));
  }
  std::vector<int64_t> ids;
  auto emit = [&](size_t b, size_t e) {
    std::string piece;
    for (size_t k = b; k < e; ++k) utf8_append(piece, cps[k]);
    if (piece == "<|startoftext|>" || piece == "<|endoftext|>") {
      ids.push_back(vocab_.at(piece));
      return;
    }
    for (const auto& s : bpe(piece)) {
      auto it = vocab_.find(s);
      if (it == vocab_.end()) fail("clip tokenizer: symbol '{}' missing from the vocabulary", s);
      ids.push_back(it->second);
    }
  };
  auto match_lit = [&](size_t i, const char* lit) {
    size_t n = std::char_traits<char>::length(lit);
    if (i + n > cps.size()) return false;
    for (size_t k = 0; k < n; ++k)
      if (cps[i + k] != uint32_t(lit[k])) return false;
    return true;
  };
  for (size_t i = 0; i < cps.size();) {
    uint32_t c = cps[i];
    if (c == ' ') {
      ++i;
      continue;
    }
    size_t e = i;
    if (match_lit(i, "<|startoftext|>")) e = i + 15;
    else if (match_lit(i, "<|endoftext|>")) e = i + 13;
    else if (c == '\'' && (match_lit(i, "'s") || match_lit(i, "'t") || match_lit(i, "'m") || match_lit(i, "'d"))) e = i + 2;
    else if (c == '\'' && (match_lit(i, "'re") || match_lit(i, "'ve") || match_lit(i, "'ll"))) e = i + 3;
    else if (is_letter(c)) {
      while (e < cps.size() && is_letter(cps[e])) ++e;
    } else if (is_number(c)) {
      e = i + 1;
    } else {
      while (e < cps.size() && !is_space(cps[e]) && !is_letter(cps[e]) && !is_number(cps[e])) ++e;
    }
    emit(i, e);
    i = e;
  }
  return ids;
}

std::vector<int64_t> ClipTokenizer::encode_for_model(const std::string& text, int max_len) const {
  std::vector<int64_t> ids = encode(text);
  if (int(ids.size()) > max_len - 2) ids.resize(size_t(std::max(0, max_len - 2)));
  ids.insert(ids.begin(), bos_);
  ids.push_back(eos_);
  return ids;
}

}  // namespace pj::vision
