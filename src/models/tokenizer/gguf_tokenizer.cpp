#include "models/tokenizer/gguf_tokenizer.h"

#include "core/base/error.h"

#include <algorithm>

namespace pj::tok {
namespace {

int optional_id(const gguf::File& f, const char* key) {
  const gguf::Value* v = f.find(key);
  if (!v) return -1;
  auto id = v->as_int<int64_t>();
  if (!id) fail("tokenizer: {}: {} is not an integer", f.path(), key);
  // Some converters store "none" as -1 or UINT32_MAX.
  if (*id < 0 || *id == 0xFFFFFFFF) return -1;
  if (*id > INT32_MAX) fail("tokenizer: {}: {} = {} is out of range", f.path(), key, *id);
  return static_cast<int>(*id);
}

}  // namespace

TokenizerSpec gguf_tokenizer_spec(const gguf::File& f) {
  TokenizerSpec spec;
  spec.source = f.path();
  const std::string model = f.get_string("tokenizer.ggml.model");
  spec.tokens = PieceList(f.get_array("tokenizer.ggml.tokens").get<std::string>());
  const size_t n = spec.tokens.size();
  if (const gguf::Value* tt = f.find("tokenizer.ggml.token_type")) {
    const auto* arr = tt->get_if<gguf::Array>();
    if (!arr || !arr->holds<int32_t>()) fail("tokenizer: {}: tokenizer.ggml.token_type is not an int32 array", f.path());
    const auto& types = arr->get<int32_t>();
    if (types.size() != n) fail("tokenizer: {}: {} token types for {} tokens", f.path(), types.size(), n);
    for (int32_t t : types) {
      if (t < 1 || t > 6) fail("tokenizer: {}: unknown token type {}", f.path(), t);
      spec.types.push_back(static_cast<TokenType>(t));
    }
  }
  if (const gguf::Value* sc = f.find("tokenizer.ggml.scores")) {
    const auto* arr = sc->get_if<gguf::Array>();
    if (!arr || !arr->holds<float>()) fail("tokenizer: {}: tokenizer.ggml.scores is not a float32 array", f.path());
    spec.scores = arr->get<float>();
    if (spec.scores.size() != n) fail("tokenizer: {}: {} scores for {} tokens", f.path(), spec.scores.size(), n);
  }

  if (model == "gpt2") {
    spec.kind = TokenizerKind::byte_bpe;
    spec.scores.clear();
    for (const std::string& m : f.get_array("tokenizer.ggml.merges").get<std::string>()) {
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) fail("tokenizer: {}: merge '{}' is not two tokens", f.path(), m);
      spec.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    spec.pre_name = f.get_string_or("tokenizer.ggml.pre", "");
    auto splits = pre_splits_from_gguf_name(spec.pre_name);
    if (!splits) fail("tokenizer: {}: tokenizer.ggml.pre '{}' is not supported", f.path(), spec.pre_name);
    spec.pre_splits = *splits;
  } else if (model == "llama") {
    spec.kind = TokenizerKind::spm_bpe;
    if (spec.scores.empty()) fail("tokenizer: {}: tokenizer.ggml.scores is required for a llama tokenizer", f.path());
    spec.add_dummy_prefix = f.get_bool_or("tokenizer.ggml.add_space_prefix", true);
    spec.remove_extra_whitespaces = f.get_bool_or("tokenizer.ggml.remove_extra_whitespaces", false);
    // llama.cpp falls back to bytes whenever the model has byte pieces.
    spec.byte_fallback = std::count(spec.types.begin(), spec.types.end(), TokenType::byte) == 256;
  } else {
    fail("tokenizer: {}: tokenizer.ggml.model '{}' is not supported (gpt2 or llama)", f.path(), model);
  }
  // Control tokens (<|im_start|>, Gemma's <start_of_turn>) are matched in the text when parsing specials, as
  // llama.cpp does for every vocabulary kind; user-defined ones always (SentencePiece vocabularies match
  // those inside their own split, see Tokenizer::split_added).
  for (size_t i = 0; i < spec.types.size(); ++i) {
    const TokenType t = spec.types[i];
    if (t == TokenType::control || t == TokenType::user_defined)
      spec.added.push_back({static_cast<int>(i), std::string(spec.tokens[i]), t == TokenType::control, false, false});
  }
  spec.bos_id = optional_id(f, "tokenizer.ggml.bos_token_id");
  spec.eos_id = optional_id(f, "tokenizer.ggml.eos_token_id");
  spec.eot_id = optional_id(f, "tokenizer.ggml.eot_token_id");
  spec.unk_id = optional_id(f, "tokenizer.ggml.unknown_token_id");
  spec.pad_id = optional_id(f, "tokenizer.ggml.padding_token_id");
  spec.add_bos = f.get_bool_or("tokenizer.ggml.add_bos_token", false);
  spec.add_eos = f.get_bool_or("tokenizer.ggml.add_eos_token", false);
  if (spec.eot_id < 0) spec.eot_id = spec.eos_id;
  return spec;
}

void add_tokenizer_kv(gguf::Writer& w, const TokenizerSpec& spec) {
  const bool bpe = spec.kind == TokenizerKind::byte_bpe;
  w.add_kv("tokenizer.ggml.model", bpe ? "gpt2" : "llama");
  if (bpe) {
    if (spec.pre_name.empty() || !pre_splits_from_gguf_name(spec.pre_name))
      fail("tokenizer: {}: its pre-tokenizer has no llama.cpp name, so a GGUF could not state it", spec.source);
    w.add_kv("tokenizer.ggml.pre", spec.pre_name);
  }
  w.add_kv("tokenizer.ggml.tokens", gguf::Array(spec.tokens.strings()));
  if (!bpe) w.add_kv("tokenizer.ggml.scores", gguf::Array(spec.scores));
  std::vector<int32_t> types(spec.tokens.size(), static_cast<int32_t>(TokenType::normal));
  for (size_t i = 0; i < spec.types.size(); ++i) types[i] = static_cast<int32_t>(spec.types[i]);
  w.add_kv("tokenizer.ggml.token_type", gguf::Array(std::move(types)));
  if (bpe) {
    std::vector<std::string> merges;
    merges.reserve(spec.merges.size());
    for (const auto& [a, b] : spec.merges) {
      if (a.find(' ') != std::string::npos || b.find(' ') != std::string::npos)
        fail("tokenizer: {}: merge '{}' '{}' contains a space and cannot be stored in GGUF", spec.source, a, b);
      merges.push_back(a + " " + b);
    }
    w.add_kv("tokenizer.ggml.merges", gguf::Array(std::move(merges)));
  } else {
    w.add_kv("tokenizer.ggml.add_space_prefix", spec.add_dummy_prefix);
    w.add_kv("tokenizer.ggml.remove_extra_whitespaces", spec.remove_extra_whitespaces);
  }
  auto put_id = [&](const char* key, int id) {
    if (id >= 0) w.add_kv(key, static_cast<uint32_t>(id));
  };
  put_id("tokenizer.ggml.bos_token_id", spec.bos_id);
  put_id("tokenizer.ggml.eos_token_id", spec.eos_id);
  put_id("tokenizer.ggml.eot_token_id", spec.eot_id);
  put_id("tokenizer.ggml.unknown_token_id", spec.unk_id);
  put_id("tokenizer.ggml.padding_token_id", spec.pad_id);
  w.add_kv("tokenizer.ggml.add_bos_token", spec.add_bos);
  w.add_kv("tokenizer.ggml.add_eos_token", spec.add_eos);
}

}  // namespace pj::tok
