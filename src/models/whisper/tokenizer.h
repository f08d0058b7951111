// Whisper's tokenizer: tiktoken-style byte-level BPE (the rank of a token is its id and its merge
// priority) over the GPT-2 pre-tokenizer, followed by Whisper's special tokens in openai/whisper's
// order (whisper/tokenizer.py): <|endoftext|>, <|startoftranscript|>, one <|xx|> per language,
// <|translate|>, <|transcribe|>, <|startoflm|>, <|startofprev|>, <|nospeech|>, <|notimestamps|>, then
// 1501 timestamps <|0.00|> ... <|30.00|>. The base vocabulary is gpt2.tiktoken (50256 tokens, English-only
// models) or multilingual.tiktoken (50257); large-v3 has 100 languages instead of 99.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pj::whisper {

struct Model;

// ISO codes in Whisper's token order (openai/whisper tokenizer.py LANGUAGES) and English names.
struct Language {
  std::string_view code, name;
};
const std::vector<Language>& languages();

class Tokenizer {
 public:
  // `tokens`: the base vocabulary as raw bytes, index = id = rank. n_vocab: the model's vocabulary size
  // (decides the number of languages); pj::Error if it does not fit the base vocabulary.
  Tokenizer(std::vector<std::string> tokens, int n_vocab, std::string source);

  static Tokenizer from_tiktoken(const std::string& path, int n_vocab);        // "base64 rank" lines
  static Tokenizer from_byte_level_vocabulary(const std::string& path, int n_vocab);  // CTranslate2 vocabulary.txt
  // The tokenizer that belongs to a model: the vocabulary stored in its GGUF, or vocabulary.txt /
  // vocab.json in its folder; `vocab_override` (a .tiktoken or vocabulary file) wins when given.
  static Tokenizer for_model(const Model& m, const std::string& vocab_override = "");
  static bool model_has_vocabulary(const Model& m);
  // A Hugging Face vocab.json (byte-level token -> id); the base vocabulary ends at <|endoftext|>.
  static Tokenizer from_vocab_json(const std::string& path, int n_vocab);

  std::vector<int32_t> encode(std::string_view text) const;  // plain text, no specials
  std::string decode(const std::vector<int32_t>& ids) const;  // text tokens only; specials are skipped
  std::string token_text(int32_t id) const;                    // bytes, or the special's <|name|>
  const std::vector<std::string>& base_tokens() const { return tokens_; }
  const std::string& source() const { return source_; }

  int n_vocab() const { return n_vocab_; }
  int n_languages() const { return n_languages_; }
  bool multilingual() const { return multilingual_; }
  int32_t eot() const { return eot_; }
  int32_t sot() const { return eot_ + 1; }
  int32_t language_token(std::string_view code) const;  // -1 if unknown to this model
  std::string_view language_code(int32_t token) const;   // "" if not a language token
  int32_t translate() const { return sot() + 1 + n_languages_; }
  int32_t transcribe() const { return translate() + 1; }
  int32_t sot_lm() const { return translate() + 2; }
  int32_t sot_prev() const { return translate() + 3; }
  int32_t no_speech() const { return translate() + 4; }
  int32_t no_timestamps() const { return translate() + 5; }
  int32_t timestamp_begin() const { return translate() + 6; }
  bool is_timestamp(int32_t id) const { return id >= timestamp_begin() && id < n_vocab_; }

  // <|startoftranscript|> [<|lang|> <|task|>] for multilingual models, <|startoftranscript|> alone for
  // English-only ones (as whisper does).
  std::vector<int32_t> sot_sequence(std::string_view language, bool translate) const;
  // Tokens whisper suppresses by default (suppress_tokens="-1"): symbols and the non-speech marks.
  std::vector<int32_t> non_speech_tokens() const;

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> rank_;
  std::string source_;
  int n_vocab_ = 0, n_languages_ = 0;
  bool multilingual_ = false;
  int32_t eot_ = 0;
};

}  // namespace pj::whisper
