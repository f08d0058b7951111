// Writes a loaded Whisper model (from a Hugging Face or CTranslate2 folder) as one GGUF file with our
// canonical tensor names (weights.md) and its vocabulary, so that one file carries everything.
#pragma once

#include <string>

#include "core/base/ggml_types.h"

namespace pj::whisper {

struct Model;
class Tokenizer;

// Matrices (attention, feed-forward, token embedding) are written as `wtype` (F32, F16, BF16 or a
// quantized type whose block divides the row; otherwise its fallback, see quantize.h); convolutions as F16 (F32 if wtype is
// F32); norms, biases and position tables as F32. Atomic: nothing is left at `out` on failure.
// tok may be null (no vocabulary in the source): then transcribing the file needs --vocab.
void write_gguf(const Model& m, const Tokenizer* tok, const std::string& out, GgmlType wtype, const std::string& name);

}  // namespace pj::whisper
