// Tokenizers that reproduce the reference implementations id for id:
//   byte_bpe  GPT-2 style byte-level BPE (HF tokenizers' BPE + ByteLevel): text split by the model's
//             pre-tokenizer regex, bytes mapped to printable characters, merges applied by rank.
//   spm_bpe   SentencePiece BPE (Llama 2, Mistral, Gemma): spaces as U+2581, optional dummy prefix,
//             merges by piece score (highest first), unknown characters as <0xXX> byte pieces.
//
// A Tokenizer is built from a TokenizerSpec, a neutral description that every loader fills in (an HF
// folder here: tokenizer.json or tokenizer.model + tokenizer_config.json; a GGUF file in
// gguf_tokenizer.h) and that the GGUF writer stores. A Tokenizer is immutable after construction, so
// one instance can encode from many threads.
//
//   auto tok = pj::tok::load_hf_tokenizer("models/qwen2");
//   std::vector<int> ids = tok.encode("<|im_start|>user\nhi", /*parse_special=*/true);
//   std::string text = tok.decode(ids);
#pragma once

#include "models/tokenizer/pretokenize.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pj::tok {

enum class TokenizerKind { byte_bpe, spm_bpe };

// Numbering shared by SentencePiece's piece types and GGUF's tokenizer.ggml.token_type.
enum class TokenType : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

// A token matched in the input text before any model-specific splitting (HF "added tokens").
struct AddedToken {
  int id = -1;
  std::string content;
  bool special = true;       // matched only when encoding with parse_special; else always matched
  bool lstrip = false, rstrip = false;  // the match swallows whitespace on that side
};

// id -> piece, every piece in one buffer: 4 bytes of end offset per piece plus its bytes. (A
// std::vector<std::string> takes 32 bytes per piece before any heap string: 8 MiB for Gemma-3's 262k.)
class PieceList {
 public:
  PieceList() = default;
  explicit PieceList(const std::vector<std::string>& pieces);
  void push_back(std::string_view piece);  // throws pj::Error past 4 GiB of piece bytes

  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  std::string_view operator[](size_t i) const {
    const uint32_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(bytes_).substr(begin, ends_[i] - begin);
  }
  std::string_view at(size_t i) const;     // throws std::out_of_range
  std::vector<std::string> strings() const;  // a copy in the usual form (for writers)
  bool operator==(const PieceList&) const = default;

 private:
  std::string bytes_;
  std::vector<uint32_t> ends_;  // piece i is bytes_[ends_[i - 1] (0 for i = 0), ends_[i])
};

struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::byte_bpe;
  std::string source;  // where it came from, for error messages

  // id -> piece. byte_bpe: in GPT-2's byte-to-unicode alphabet; spm_bpe: with U+2581 for spaces.
  PieceList tokens;
  std::vector<float> scores;     // spm_bpe merge priorities (empty for byte_bpe)
  std::vector<TokenType> types;  // empty = all normal

  // byte_bpe
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<PreSplit> pre_splits;
  std::string pre_name;  // llama.cpp's name for pre_splits (tokenizer.ggml.pre), "" if none fits
  bool add_prefix_space = false;

  // spm_bpe normalizer and model options (sentencepiece_model.proto)
  bool add_dummy_prefix = true, remove_extra_whitespaces = false, escape_whitespaces = true;
  bool treat_whitespace_as_suffix = false, byte_fallback = false;

  std::vector<AddedToken> added;

  int bos_id = -1, eos_id = -1, eot_id = -1, pad_id = -1, unk_id = -1;
  bool add_bos = false, add_eos = false;
};

class Tokenizer {
 public:
  // Validates the spec (ids in range, merges naming known tokens, byte pieces present when needed);
  // throws pj::Error "tokenizer: <source>: <problem>".
  explicit Tokenizer(TokenizerSpec spec);

  // Token ids for `text`. parse_special: special added tokens written in the text (<|im_start|>)
  // become their ids; otherwise they are ordinary text. add_special: prepend BOS / append EOS as the
  // model's flags say.
  std::vector<int> encode(std::string_view text, bool parse_special = false, bool add_special = false) const;

  // The text of `ids`; malformed UTF-8 (from partial byte tokens) becomes U+FFFD. skip_special drops
  // control tokens (SentencePiece always drops them).
  std::string decode(const std::vector<int>& ids, bool skip_special = false) const;

  // The raw bytes one token stands for. `at_start`: nothing has been decoded before it (SentencePiece
  // then drops the dummy-prefix space).
  std::string token_bytes(int id, bool at_start, bool skip_special = false) const;

  // Decoding one token at a time (decode() and StreamDecoder): appends the bytes of `id` to `out`.
  struct DecodeState {
    bool at_start = true;  // no text yet: SentencePiece drops the dummy-prefix space of the next piece
  };
  void append_token(int id, DecodeState& st, bool skip_special, std::string& out) const;

  const TokenizerSpec& spec() const { return spec_; }
  int n_vocab() const { return static_cast<int>(spec_.tokens.size()); }
  std::string_view token(int id) const { return spec_.tokens.at(static_cast<size_t>(id)); }
  int find_token(std::string_view piece) const;  // -1 if absent
  TokenType type(int id) const;
  bool is_control(int id) const;

 private:
  struct Segment {
    std::string_view text;
    int id = -1;  // >= 0: an added token
  };
  std::vector<Segment> split_added(std::string_view text, bool parse_special) const;
  void encode_byte_bpe(std::string_view text, std::vector<int>& out) const;
  void bpe_word(std::string_view word, std::vector<int>& out) const;
  void encode_spm(std::string_view text, bool at_start, std::vector<int>& out) const;
  std::string spm_normalize(std::string_view text, bool at_start) const;
  void check_id(int id) const;

  TokenizerSpec spec_;
  int lookup_piece(std::string_view piece) const;  // the id of a mergeable piece, or -1

  // piece -> id hash table: each slot an id into spec_.tokens or -1 (power-of-two size, linear probing)
  std::vector<int32_t> piece_slots_;
  // byte_bpe: (left id << 32 | right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int, int>> merges_;
  int byte_to_id_[256];   // byte_bpe: the token of each byte's character; spm: <0xXX> pieces or -1
  int16_t char_to_byte_[324];  // byte_bpe: inverse of the byte-to-unicode map by code point, or -1
  std::vector<size_t> added_by_byte_[256];  // indices into spec_.added by first byte, longest first
  std::vector<int> added_by_id_;     // id -> index into spec_.added or -1
  std::vector<int> spm_user_[256];  // spm: user-defined token ids by first byte, longest first
};

// Turns ids into text as they arrive, never splitting a multi-byte UTF-8 character: bytes of an
// incomplete character are held until the token that completes it.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false) : tok_(tok), skip_(skip_special) {}
  std::string push(int id);  // the text that became complete; may be empty
  std::string flush();       // whatever is held back, malformed bytes as U+FFFD

 private:
  const Tokenizer& tok_;
  bool skip_;
  std::string pending_;
  Tokenizer::DecodeState state_;
};

// GPT-2's reversible byte -> printable code point map (openai/gpt-2 encoder.py, bytes_to_unicode).
uint32_t byte_to_unicode(uint8_t b);

}  // namespace pj::tok
