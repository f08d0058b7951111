// CLIP's byte-level BPE tokenizer (OpenAI's SimpleTokenizer, which Hugging Face's CLIPTokenizer
// reproduces): text cleaned (whitespace runs -> one space, trimmed) and lower-cased, split by
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
// each piece mapped to GPT-2's byte-to-unicode alphabet, its last symbol suffixed "</w>", then BPE merges
// by rank. Vocabulary from a Hugging Face folder (vocab.json + merges.txt) or, as OpenAI builds it, from
// the merges file alone (bpe_simple_vocab_16e6.txt[.gz]): 256 bytes, 256 bytes + "</w>", 48894 merges,
// <|startoftext|>, <|endoftext|>.
// Not done: ftfy's mojibake repair and full Unicode lower-casing (ASCII and Latin-1 only).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace pj::vision {

class ClipTokenizer {
 public:
  // A folder with vocab.json + merges.txt, or a merges file (.txt or .txt.gz) in OpenAI's layout.
  static ClipTokenizer load(const std::string& path);
  static bool folder_has_files(const std::string& folder);
  // Ids without the start/end tokens.
  std::vector<int64_t> encode(const std::string& text) const;
  // <|startoftext|> ids <|endoftext|>, truncated to max_len tokens (the end token kept), as CLIP does.
  std::vector<int64_t> encode_for_model(const std::string& text, int max_len = 77) const;
  int64_t bos() const { return bos_; }
  int64_t eos() const { return eos_; }
  size_t vocab_size() const { return vocab_.size(); }

 private:
  std::vector<std::string> bpe(const std::string& piece) const;
  std::unordered_map<std::string, int64_t> vocab_;
  std::map<std::pair<std::string, std::string>, int> ranks_;
  std::vector<std::string> byte_sym_;  // byte -> its unicode symbol (UTF-8)
  int64_t bos_ = -1, eos_ = -1;
};

}  // namespace pj::vision
