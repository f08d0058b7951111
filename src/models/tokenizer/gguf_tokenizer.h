// Tokenizers in GGUF files, under llama.cpp's keys (gguf-py constants.py, Keys.Tokenizer):
//   tokenizer.ggml.model        "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE)
//   tokenizer.ggml.pre          pre-tokenizer name for gpt2 ("llama-bpe", "qwen2", "gpt-2", "smollm", ...)
//   tokenizer.ggml.tokens       [string], tokenizer.ggml.scores [f32], tokenizer.ggml.token_type [i32]
//   tokenizer.ggml.merges       [string "left right"] for gpt2
//   tokenizer.ggml.{bos,eos,eot,unknown,padding}_token_id  u32
//   tokenizer.ggml.add_bos_token, add_eos_token, add_space_prefix, remove_extra_whitespaces  bool
// Control tokens of a SentencePiece model are never parsed from text (as sentencepiece itself); for
// byte-level BPE, control tokens are the special added tokens and user-defined ones the others.
#pragma once

#include "core/gguf/gguf.h"
#include "models/tokenizer/tokenizer.h"

#include <string>

namespace pj::tok {

// Throws pj::Error "tokenizer: <file>: ..." for missing keys, inconsistent arrays or an unknown model.
TokenizerSpec gguf_tokenizer_spec(const gguf::File& f);
inline Tokenizer load_gguf_tokenizer(const gguf::File& f) { return Tokenizer(gguf_tokenizer_spec(f)); }

// Adds the keys above for `spec` (which must be valid, e.g. taken from a constructed Tokenizer).
void add_tokenizer_kv(gguf::Writer& w, const TokenizerSpec& spec);

}  // namespace pj::tok
