// SentencePiece model files (tokenizer.model): the serialized ModelProto protobuf, decoded by hand (no
// protobuf library). Only what a tokenizer needs is kept: the pieces, the trainer options that change
// how text is split, and the normalizer options. Field numbers follow
// https://github.com/google/sentencepiece/blob/master/src/sentencepiece_model.proto
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pj::hf {

enum class SpmPieceType : int { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

struct SpmPiece {
  std::string piece;
  float score = 0;
  SpmPieceType type = SpmPieceType::normal;
};

struct SpmModel {
  std::vector<SpmPiece> pieces;
  int model_type = 1;  // trainer_spec.model_type: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
  int unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;  // proto defaults
  bool byte_fallback = false, split_digits = false, treat_whitespace_as_suffix = false;
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
  std::string normalizer_name;          // e.g. "nmt_nfkc", "identity"
  std::string precompiled_charsmap;     // raw bytes
};

// Decodes a serialized ModelProto. `name` (usually the file path) prefixes every error message.
// Throws pj::Error on malformed input: truncated varints, lengths past the end, wrong wire types for
// known fields, unknown piece types, out-of-range special ids.
SpmModel parse_spm_model(const uint8_t* data, size_t size, const std::string& name);

// Memory-maps `path` and parses it.
SpmModel load_spm_model(const std::string& path);

const char* spm_model_type_name(int model_type);  // "unigram", "bpe", "word", "char", "unknown"
const char* spm_piece_type_name(SpmPieceType t);  // "normal", "unknown", "control", ...

}  // namespace pj::hf
