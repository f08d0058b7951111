#include "models/tokenizer/tokenizer.h"

#include "core/base/error.h"
#include "models/tokenizer/unicode.h"

#include <algorithm>
#include <cstring>
#include <queue>
#include <stdexcept>

namespace pj::tok {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";        // U+2581 LOWER ONE EIGHTH BLOCK
constexpr std::string_view kSpmUnkSurface = " \xE2\x81\x87 ";  // sentencepiece's " ⁇ "

std::string byte_piece_name(uint8_t b) {
  static const char* hex = "0123456789ABCDEF";
  return std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
}

}  // namespace

uint32_t byte_to_unicode(uint8_t b) {
  // Printable Latin-1 bytes stand for themselves; the other 68 take code points 256.. in byte order.
  auto printable = [](int x) { return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174; };
  if (printable(b)) return b;
  uint32_t n = 0;
  for (int x = 0; x < b; ++x) n += !printable(x);
  return 256 + n;
}

PieceList::PieceList(const std::vector<std::string>& pieces) {
  size_t total = 0;
  for (const std::string& p : pieces) total += p.size();
  bytes_.reserve(total);
  ends_.reserve(pieces.size());
  for (const std::string& p : pieces) push_back(p);
}

void PieceList::push_back(std::string_view piece) {
  if (piece.size() > UINT32_MAX - bytes_.size()) fail("tokenizer: the vocabulary's pieces exceed 4 GiB");
  bytes_.append(piece);
  ends_.push_back(static_cast<uint32_t>(bytes_.size()));
}

std::string_view PieceList::at(size_t i) const {
  if (i >= ends_.size()) throw std::out_of_range("PieceList::at");
  return (*this)[i];
}

std::vector<std::string> PieceList::strings() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (size_t i = 0; i < size(); ++i) out.emplace_back((*this)[i]);
  return out;
}

Tokenizer::Tokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {
  const std::string& src = spec_.source;
  const size_t n = spec_.tokens.size();
  if (n == 0) fail("tokenizer: {}: empty vocabulary", src);
  if (n > static_cast<size_t>(INT32_MAX)) fail("tokenizer: {}: vocabulary too large ({})", src, n);
  if (!spec_.types.empty() && spec_.types.size() != n)
    fail("tokenizer: {}: {} token types for {} tokens", src, spec_.types.size(), n);
  if (spec_.kind == TokenizerKind::spm_bpe && spec_.scores.size() != n)
    fail("tokenizer: {}: {} scores for {} tokens (SentencePiece BPE merges by score)", src,
         spec_.scores.size(), n);
  if (spec_.treat_whitespace_as_suffix)
    fail("tokenizer: {}: treat_whitespace_as_suffix is not supported", src);
  for (auto [name, id] : {std::pair{"bos", spec_.bos_id}, {"eos", spec_.eos_id}, {"eot", spec_.eot_id},
                          {"pad", spec_.pad_id}, {"unk", spec_.unk_id}}) {
    if (id < -1 || id >= static_cast<int>(n))
      fail("tokenizer: {}: {} id {} out of range (vocabulary size {})", src, name, id, n);
  }
  if (spec_.add_bos && spec_.bos_id < 0) fail("tokenizer: {}: add_bos is set but there is no BOS token", src);
  if (spec_.add_eos && spec_.eos_id < 0) fail("tokenizer: {}: add_eos is set but there is no EOS token", src);

  // Open addressing, linear probing, at most half full: 4 bytes a slot (2 MiB for Gemma's 262k pieces,
  // where a node-based hash map of string_views took ~16 MiB).
  size_t slots = 16;
  while (slots < 2 * n) slots *= 2;
  piece_slots_.assign(slots, -1);
  for (size_t i = 0; i < n; ++i) {
    // SentencePiece only merges into (and looks up) normal, user-defined and unused pieces.
    if (spec_.kind == TokenizerKind::spm_bpe && !spec_.types.empty()) {
      TokenType t = spec_.types[i];
      if (t == TokenType::control || t == TokenType::unknown || t == TokenType::byte) continue;
    }
    const std::string_view piece = spec_.tokens[i];
    const size_t mask = slots - 1;
    for (size_t h = std::hash<std::string_view>{}(piece) & mask;; h = (h + 1) & mask) {
      const int32_t at = piece_slots_[h];
      if (at < 0) {
        piece_slots_[h] = static_cast<int32_t>(i);
        break;
      }
      if (spec_.tokens[static_cast<size_t>(at)] == piece) break;  // the first of duplicates wins
    }
  }

  std::fill(std::begin(byte_to_id_), std::end(byte_to_id_), -1);
  std::fill(std::begin(char_to_byte_), std::end(char_to_byte_), int16_t{-1});
  if (spec_.kind == TokenizerKind::byte_bpe) {
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = byte_to_unicode(static_cast<uint8_t>(b));
      char_to_byte_[cp] = static_cast<int16_t>(b);
      std::string ch;
      utf8_append(ch, cp);
      byte_to_id_[b] = lookup_piece(ch);
    }
    merges_.reserve(spec_.merges.size() * 2);
    for (size_t r = 0; r < spec_.merges.size(); ++r) {
      const auto& [a, b] = spec_.merges[r];
      const int ia = lookup_piece(a), ib = lookup_piece(b), im = lookup_piece(a + b);
      if (ia < 0 || ib < 0 || im < 0)
        fail("tokenizer: {}: merge {} '{} {}' uses a token that is not in the vocabulary", src, r, a, b);
      const uint64_t key = (static_cast<uint64_t>(ia) << 32) | static_cast<uint32_t>(ib);
      merges_.emplace(key, std::pair{static_cast<int>(r), im});  // the lowest rank wins
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (!spec_.types.empty() && spec_.types[i] == TokenType::byte) {
        const std::string p(spec_.tokens[i]);
        unsigned v;
        if (p.size() == 6 && std::sscanf(p.c_str(), "<0x%2X>", &v) == 1 && byte_piece_name(v) == p)
          byte_to_id_[v] = static_cast<int>(i);
        else
          fail("tokenizer: {}: byte token {} is '{}', expected <0xXX>", src, i, p);
      }
    }
    if (spec_.byte_fallback) {
      for (int b = 0; b < 256; ++b) {
        if (byte_to_id_[b] < 0)
          fail("tokenizer: {}: byte_fallback is set but piece {} is missing", src, byte_piece_name(b));
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (!spec_.types.empty() && spec_.types[i] == TokenType::user_defined && !spec_.tokens[i].empty())
        spm_user_[static_cast<uint8_t>(spec_.tokens[i][0])].push_back(static_cast<int>(i));
    }
    for (auto& bucket : spm_user_) {
      std::stable_sort(bucket.begin(), bucket.end(), [&](int a, int b) { return token(a).size() > token(b).size(); });
    }
  }

  added_by_id_.assign(n, -1);
  for (size_t i = 0; i < spec_.added.size(); ++i) {
    const AddedToken& a = spec_.added[i];
    if (a.id < 0 || a.id >= static_cast<int>(n))
      fail("tokenizer: {}: added token '{}' has id {} outside the vocabulary ({})", src, a.content, a.id, n);
    if (a.content.empty()) fail("tokenizer: {}: added token {} is empty", src, a.id);
    added_by_id_[a.id] = static_cast<int>(i);
    added_by_byte_[static_cast<uint8_t>(a.content[0])].push_back(i);
  }
  // Longest first, so that the first candidate that matches at a position is the leftmost-longest one.
  for (auto& bucket : added_by_byte_) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](size_t a, size_t b) {
      return spec_.added[a].content.size() > spec_.added[b].content.size();
    });
  }
}

int Tokenizer::lookup_piece(std::string_view piece) const {
  const size_t mask = piece_slots_.size() - 1;
  for (size_t h = std::hash<std::string_view>{}(piece) & mask;; h = (h + 1) & mask) {
    const int32_t at = piece_slots_[h];
    if (at < 0 || spec_.tokens[static_cast<size_t>(at)] == piece) return at;
  }
}

int Tokenizer::find_token(std::string_view piece) const {
  if (const int id = lookup_piece(piece); id >= 0) return id;
  for (size_t i = 0; i < spec_.tokens.size(); ++i) {
    if (spec_.tokens[i] == piece) return static_cast<int>(i);  // control/byte pieces (SentencePiece)
  }
  return -1;
}

TokenType Tokenizer::type(int id) const {
  check_id(id);
  return spec_.types.empty() ? TokenType::normal : spec_.types[static_cast<size_t>(id)];
}

bool Tokenizer::is_control(int id) const { return type(id) == TokenType::control; }

void Tokenizer::check_id(int id) const {
  if (id < 0 || id >= n_vocab())
    fail("tokenizer: {}: token id {} out of range (vocabulary size {})", spec_.source, id, n_vocab());
}

std::vector<Tokenizer::Segment> Tokenizer::split_added(std::string_view text, bool parse_special) const {
  std::vector<Segment> segs;
  const bool spm = spec_.kind == TokenizerKind::spm_bpe;
  auto usable = [&](const AddedToken& a) {
    // SentencePiece matches its user-defined pieces itself, inside the BPE split.
    if (spm && !a.special) return false;
    return parse_special || !a.special;
  };
  size_t start = 0, i = 0;
  while (i < text.size()) {
    const AddedToken* hit = nullptr;
    for (size_t k : added_by_byte_[static_cast<uint8_t>(text[i])]) {
      const AddedToken& a = spec_.added[k];
      if (usable(a) && text.compare(i, a.content.size(), a.content) == 0) {
        hit = &a;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t lo = i, hi = i + hit->content.size();
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    if (hit->lstrip) while (lo > start && ws(text[lo - 1])) --lo;
    if (hit->rstrip) while (hi < text.size() && ws(text[hi])) ++hi;
    if (lo > start) segs.push_back({text.substr(start, lo - start), -1});
    segs.push_back({text.substr(lo, hi - lo), hit->id});
    start = i = hi;
  }
  if (start < text.size()) segs.push_back({text.substr(start), -1});
  return segs;
}

std::vector<int> Tokenizer::encode(std::string_view text, bool parse_special, bool add_special) const {
  std::vector<int> out;
  if (add_special && spec_.add_bos) out.push_back(spec_.bos_id);
  bool at_start = true;
  for (const Segment& s : split_added(text, parse_special)) {
    if (s.id >= 0) {
      out.push_back(s.id);
    } else if (spec_.kind == TokenizerKind::byte_bpe) {
      encode_byte_bpe(s.text, out);
    } else {
      encode_spm(s.text, at_start, out);
    }
    at_start = false;
  }
  if (add_special && spec_.add_eos) out.push_back(spec_.eos_id);
  return out;
}

// ---- byte-level BPE ----

void Tokenizer::encode_byte_bpe(std::string_view text, std::vector<int>& out) const {
  std::string prefixed;
  if (spec_.add_prefix_space && !text.empty() && text[0] != ' ') {
    prefixed = " " + std::string(text);
    text = prefixed;
  }
  for (std::string_view word : pre_split_all(spec_.pre_splits, text)) bpe_word(word, out);
}

// HF tokenizers' Word::merge_all: repeatedly merge the adjacent pair of lowest rank (leftmost first).
void Tokenizer::bpe_word(std::string_view word, std::vector<int>& out) const {
  struct Sym {
    int id, prev, next;
  };
  std::vector<Sym> syms;
  syms.reserve(word.size());
  for (char ch : word) {
    const int id = byte_to_id_[static_cast<uint8_t>(ch)];
    if (id < 0) {
      // No token for this byte: HF's BPE without unk_token drops it.
      if (spec_.unk_id >= 0) syms.push_back({spec_.unk_id, 0, 0});
      continue;
    }
    syms.push_back({id, 0, 0});
  }
  const int n = static_cast<int>(syms.size());
  for (int i = 0; i < n; ++i) syms[i].prev = i - 1, syms[i].next = i + 1 < n ? i + 1 : -1;

  struct Cand {
    int rank, pos, merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> q;
  auto lookup = [&](int a, int b) -> const std::pair<int, int>* {
    auto it = merges_.find((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  auto push = [&](int pos) {
    if (pos < 0 || syms[pos].next < 0) return;
    if (auto* m = lookup(syms[pos].id, syms[syms[pos].next].id)) q.push({m->first, pos, m->second});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!q.empty()) {
    const Cand c = q.top();
    q.pop();
    Sym& l = syms[c.pos];
    if (l.id < 0 || l.next < 0) continue;
    const auto* m = lookup(l.id, syms[l.next].id);
    if (!m || m->second != c.merged || m->first != c.rank) continue;  // stale entry
    Sym& r = syms[l.next];
    l.id = c.merged;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.pos;
    r.id = -1;
    push(l.prev);
    push(c.pos);
  }
  for (int i = n > 0 ? 0 : -1; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

// ---- SentencePiece BPE ----

// sentencepiece normalizer.cc with an identity character map: optional removal of leading, trailing
// and repeated spaces, the dummy-prefix space, and spaces written as U+2581.
std::string Tokenizer::spm_normalize(std::string_view text, bool at_start) const {
  std::string out;
  out.reserve(text.size() + text.size() / 2 + 3);
  if (spec_.remove_extra_whitespaces) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  }
  if (text.empty()) return out;
  const std::string_view space = spec_.escape_whitespaces ? kSpmSpace : std::string_view(" ");
  if (spec_.add_dummy_prefix && at_start) out += space;
  bool prev_space = false;
  for (char ch : text) {
    if (ch == ' ') {
      if (!(spec_.remove_extra_whitespaces && prev_space)) out += space;
      prev_space = true;
    } else {
      out += ch;
      prev_space = false;
    }
  }
  if (spec_.remove_extra_whitespaces) {
    while (out.size() >= space.size() && std::string_view(out).substr(out.size() - space.size()) == space)
      out.resize(out.size() - space.size());
  }
  return out;
}

// sentencepiece bpe_model.cc Model::Encode: start from characters (user-defined pieces kept whole),
// merge the adjacent pair whose result has the highest score (leftmost on ties) until none is in the
// vocabulary, split results that are "unused" pieces back into their parts, and spell unknown pieces
// as <0xXX> bytes when byte_fallback is on.
void Tokenizer::encode_spm(std::string_view raw, bool at_start, std::vector<int>& out) const {
  const std::string norm = spm_normalize(raw, at_start);
  const std::string_view text = norm;
  struct Sym {
    size_t begin, len;
    int prev, next;
    bool frozen;  // a user-defined piece: never merged
  };
  std::vector<Sym> syms;
  for (size_t i = 0; i < text.size();) {
    size_t len = 0;
    bool frozen = false;
    for (int id : spm_user_[static_cast<uint8_t>(text[i])]) {
      const std::string_view p = token(id);
      if (text.compare(i, p.size(), p) == 0) {
        len = p.size(), frozen = true;
        break;
      }
    }
    if (!frozen) utf8_decode(text, i, len);
    syms.push_back({i, len, 0, 0, frozen});
    i += len;
  }
  const int n = static_cast<int>(syms.size());
  for (int i = 0; i < n; ++i) syms[i].prev = i - 1, syms[i].next = i + 1 < n ? i + 1 : -1;

  struct Cand {
    float score;
    int left, right;
    size_t size;
    bool operator<(const Cand& o) const { return score != o.score ? score < o.score : left > o.left; }
  };
  std::priority_queue<Cand> q;
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;
  auto push = [&](int l, int r) {
    if (l < 0 || r < 0 || syms[l].frozen || syms[r].frozen) return;
    const std::string_view piece = text.substr(syms[l].begin, syms[l].len + syms[r].len);
    const int id = lookup_piece(piece);
    if (id < 0) return;
    q.push({spec_.scores[static_cast<size_t>(id)], l, r, piece.size()});
    if (type(id) == TokenType::unused)
      rev_merge[piece] = {text.substr(syms[l].begin, syms[l].len), text.substr(syms[r].begin, syms[r].len)};
  };
  for (int i = 0; i + 1 < n; ++i) push(i, i + 1);
  while (!q.empty()) {
    const Cand c = q.top();
    q.pop();
    Sym &l = syms[c.left], &r = syms[c.right];
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.len + r.len != c.size) continue;  // stale
    l.len += r.len;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.left;
    r.len = 0;
    push(l.prev, c.left);
    push(c.left, l.next);
  }

  bool prev_unk = false;
  auto emit = [&](auto&& self, std::string_view piece) -> void {
    const int id = lookup_piece(piece);
    if (id >= 0 && type(id) == TokenType::unused) {
      auto rm = rev_merge.find(piece);
      if (rm != rev_merge.end()) {
        self(self, rm->second.first);
        self(self, rm->second.second);
        return;
      }
    }
    if (id >= 0) {
      out.push_back(id);
      prev_unk = false;
    } else if (spec_.byte_fallback) {
      for (char ch : piece) out.push_back(byte_to_id_[static_cast<uint8_t>(ch)]);
      prev_unk = false;
    } else if (!prev_unk) {  // runs of unknown pieces become one <unk>, as sentencepiece does
      if (spec_.unk_id < 0) fail("tokenizer: {}: text has characters outside the vocabulary and no <unk>", spec_.source);
      out.push_back(spec_.unk_id);
      prev_unk = true;
    }
  };
  for (int i = n > 0 ? 0 : -1; i >= 0; i = syms[i].next) emit(emit, text.substr(syms[i].begin, syms[i].len));
}

// ---- decoding ----

void Tokenizer::append_token(int id, DecodeState& st, bool skip_special, std::string& out) const {
  check_id(id);
  const TokenType t = type(id);
  const std::string_view p = token(id);
  if (spec_.kind == TokenizerKind::byte_bpe) {
    if (skip_special && t == TokenType::control) return;
    if (added_by_id_[id] >= 0) {
      out += spec_.added[added_by_id_[id]].content;
    } else {
      for (size_t i = 0; i < p.size();) {
        size_t len;
        const uint32_t cp = utf8_decode(p, i, len);
        if (cp < 324 && char_to_byte_[cp] >= 0)
          out += static_cast<char>(char_to_byte_[cp]);
        else
          out.append(p, i, len);
        i += len;
      }
    }
    st.at_start = false;
    return;
  }
  // sentencepiece_processor.cc Decode: control pieces are invisible, <unk> shows as " ⁇ ", byte
  // pieces are raw bytes, and the first piece loses the leading space the dummy prefix put there.
  if (t == TokenType::control) return;
  if (t == TokenType::unknown) {
    out += kSpmUnkSurface;
    st.at_start = false;
    return;
  }
  if (t == TokenType::byte) {
    out += static_cast<char>(std::find(byte_to_id_, byte_to_id_ + 256, id) - byte_to_id_);
    st.at_start = false;
    return;
  }
  std::string_view piece = p;
  bool consumed = false;
  if (st.at_start && (spec_.add_dummy_prefix || spec_.remove_extra_whitespaces) &&
      piece.substr(0, kSpmSpace.size()) == kSpmSpace) {
    piece.remove_prefix(kSpmSpace.size());
    consumed = !spec_.remove_extra_whitespaces;
  }
  const size_t before = out.size();
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
      out += ' ';
      i += kSpmSpace.size();
    } else {
      out += piece[i++];
    }
  }
  if (consumed || out.size() > before) st.at_start = false;
}

std::string Tokenizer::token_bytes(int id, bool at_start, bool skip_special) const {
  DecodeState st{at_start};
  std::string out;
  append_token(id, st, skip_special, out);
  return out;
}

std::string Tokenizer::decode(const std::vector<int>& ids, bool skip_special) const {
  DecodeState st;
  std::string bytes;
  for (int id : ids) append_token(id, st, skip_special, bytes);
  return utf8_sanitize(bytes);
}

std::string StreamDecoder::push(int id) {
  tok_.append_token(id, state_, skip_, pending_);
  const size_t n = utf8_complete_prefix(pending_);
  std::string ready = utf8_sanitize(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return ready;
}

std::string StreamDecoder::flush() {
  std::string rest = utf8_sanitize(pending_);
  pending_.clear();
  return rest;
}

}  // namespace pj::tok
