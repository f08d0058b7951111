// Tokenizers from a Hugging Face model folder: tokenizer.json (byte-level BPE), or tokenizer.model
// (SentencePiece BPE) with tokenizer_config.json for the special tokens and add-BOS/EOS flags.
#pragma once

#include "models/tokenizer/tokenizer.h"

#include <string>

namespace pj::tok {

// Reads the folder's tokenizer files into a TokenizerSpec; throws pj::Error naming the file and the
// problem for missing, malformed or unsupported tokenizers.
TokenizerSpec load_hf_tokenizer_spec(const std::string& dir);

inline Tokenizer load_hf_tokenizer(const std::string& dir) { return Tokenizer(load_hf_tokenizer_spec(dir)); }

// The end-of-turn token of a chat model, found by name (<|eot_id|>, <|im_end|>, <end_of_turn>, ...);
// -1 if none of the known names is in the vocabulary.
int find_eot_token(const TokenizerSpec& spec);

}  // namespace pj::tok
