// Quantized Whisper files: which tensor gets which type, and `pajamas quantize` of a Whisper model.
//
// The rule (the same for every size): the linear weights - encoder and decoder self-attention q/k/v/out,
// cross-attention q/k/v/out, feed-forward up/down - and the token embedding (which is also the logit
// projection) get the requested type when their row length is a multiple of its block size; a K-quant
// (256-wide blocks) falls back to a 32-wide type of at least as many bits (Q2_K/Q3_K -> IQ4_NL, Q4_K ->
// Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL: llama.cpp's fallbacks), and to F16 if even that
// does not divide the row. conv1/conv2 stay F16 (F32 for an F32 file), norms, biases and the positional
// tables stay F32. Whisper tiny (width 384) therefore has K-quant blocks only in the ffn_down weights
// (rows of 1536); base (512), small (768), medium (1024) and large (1280) take them everywhere.
#pragma once

#include <string>

#include "core/base/ggml_types.h"

namespace pj {
class KernelContext;
}

namespace pj::whisper {

// Types a Whisper weight may be written as (pj::Error otherwise, naming the type and the list).
bool is_whisper_weight_type(GgmlType t);
std::string whisper_weight_types();  // "F32, F16, ..." for messages

// The type a matrix with rows of `cols` values gets when `want` is asked for (rule above).
GgmlType weight_type_for(GgmlType want, int64_t cols);

// A type name as `pajamas quantize` takes it: a ggml type (q5_0, Q4_K...) or a llama.cpp file type of
// one (Q4_K_M, Q4_K_S -> Q4_K; the mixes do not apply to Whisper). pj::Error for anything else.
GgmlType parse_whisper_type(const std::string& name);

// Reads a Whisper GGUF, Hugging Face folder or CTranslate2 folder and writes `out` (atomically) with its
// matrices as `type`. A model whose matrices are already quantized (not F32/F16/BF16) is refused unless
// allow_requantize. Returns a one-line summary (sizes, tensor types).
std::string quantize_model(const std::string& in, const std::string& out, GgmlType type, bool allow_requantize);

}  // namespace pj::whisper
