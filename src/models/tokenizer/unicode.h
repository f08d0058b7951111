// UTF-8 and the few Unicode properties the tokenizers need: general category classes L and N
// (generated table, unicode_tables.inc) and the White_Space property.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pj::tok {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Decodes one code point at s[i]; sets `len` to the bytes consumed (>= 1). A malformed or truncated
// sequence decodes as U+FFFD with len = the length of its maximal valid prefix (at least 1), the
// "maximal subpart" rule that Rust's from_utf8_lossy and Python's decode(errors="replace") follow.
uint32_t utf8_decode(std::string_view s, size_t i, size_t& len);

void utf8_append(std::string& out, uint32_t cp);

// Replaces every malformed sequence by U+FFFD (maximal subparts, as above).
std::string utf8_sanitize(std::string_view bytes);

// Length of the longest prefix of `s` that ends on a character boundary when `s` may continue: a
// trailing incomplete but so far valid multi-byte sequence is excluded; malformed bytes are included
// (they can never become valid).
size_t utf8_complete_prefix(std::string_view s);

bool is_letter(uint32_t cp);  // \p{L}
bool is_number(uint32_t cp);  // \p{N}
bool is_space(uint32_t cp);   // \s: the Unicode White_Space property

}  // namespace pj::tok
