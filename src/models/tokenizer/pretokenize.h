// Pre-tokenizer splits for byte-level BPE: the regular expressions that models declare, each written
// out by hand as a matcher over code points (no regex library). Supported patterns, verbatim:
//   gpt2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   llama3 (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//          \s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2  as llama3 with \p{N} instead of \p{N}{1,3}
//   digits every \p{N} character on its own (HF's Digits pre-tokenizer with individual_digits)
// Splitting follows HF tokenizers' Split(behavior = Isolated): matches and the gaps between them both
// become pieces, in order.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pj::tok {

enum class PreSplit { gpt2, llama3, qwen2, digits };

const char* pre_split_name(PreSplit s);
// The split whose regex is exactly `pattern` (as written in tokenizer.json), if it is one we know.
std::optional<PreSplit> pre_split_from_regex(std::string_view pattern);
// The stages for a llama.cpp pre-tokenizer name (`tokenizer.ggml.pre`), if known.
std::optional<std::vector<PreSplit>> pre_splits_from_gguf_name(std::string_view name);
// The regex text of a split, as tokenizer.json would hold it ("" for digits).
std::string_view pre_split_regex(PreSplit s);

// Appends the pieces of `text` (byte ranges, as views into `text`) split by `s`.
void pre_split(PreSplit s, std::string_view text, std::vector<std::string_view>& out);

// Applies the stages in order, each to every piece of the previous one.
std::vector<std::string_view> pre_split_all(const std::vector<PreSplit>& stages, std::string_view text);

}  // namespace pj::tok
