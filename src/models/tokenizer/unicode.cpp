#include "models/tokenizer/unicode.h"

#include <algorithm>
#include <iterator>

namespace pj::tok {
namespace {

struct CpRange {
  uint32_t first, last;
  uint8_t flag;  // 1 letter, 2 number
};

constexpr CpRange kRanges[] = {
#include "models/tokenizer/unicode_tables.inc"
};

uint8_t category_flag(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return 1;
    return (cp >= '0' && cp <= '9') ? 2 : 0;
  }
  auto it = std::upper_bound(std::begin(kRanges), std::end(kRanges), cp,
                             [](uint32_t c, const CpRange& r) { return c < r.first; });
  if (it == std::begin(kRanges)) return 0;
  --it;
  return cp <= it->last ? it->flag : 0;
}

}  // namespace

uint32_t utf8_decode(std::string_view s, size_t i, size_t& len) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  int need;
  uint32_t cp;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte (excludes overlongs/surrogates)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    len = 1;
    return kReplacementChar;
  }
  size_t k = 1;
  for (int j = 0; j < need; ++j, ++k) {
    if (i + k >= s.size()) {
      len = k;
      return kReplacementChar;
    }
    const auto b = static_cast<uint8_t>(s[i + k]);
    const uint8_t l = j == 0 ? lo : 0x80, h = j == 0 ? hi : 0xBF;
    if (b < l || b > h) {
      len = k;
      return kReplacementChar;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  len = k;
  return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string utf8_sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t len;
    const uint32_t cp = utf8_decode(bytes, i, len);
    if (cp == kReplacementChar && !(len == 3 && bytes.substr(i, 3) == "\xEF\xBF\xBD")) {
      utf8_append(out, cp);
    } else {
      out.append(bytes.substr(i, len));
    }
    i += len;
  }
  return out;
}

size_t utf8_complete_prefix(std::string_view s) {
  // Only a lead byte among the last 3 bytes can start a sequence that is still incomplete.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t i = n - back;
    const auto b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) return n;
    if (b < 0xC0) continue;  // continuation byte: look further back
    const size_t want = (b >= 0xC2 && b <= 0xDF) ? 2 : (b >= 0xE0 && b <= 0xEF) ? 3 : (b >= 0xF0 && b <= 0xF4) ? 4 : 1;
    size_t len;
    utf8_decode(s, i, len);
    // Valid so far but cut off by the end: hold it back. Complete or malformed: nothing to wait for.
    return (len == back && back < want) ? i : n;
  }
  return n;
}

bool is_letter(uint32_t cp) { return category_flag(cp) == 1; }
bool is_number(uint32_t cp) { return category_flag(cp) == 2; }

bool is_space(uint32_t cp) {
  // White_Space=yes in Unicode's PropList.txt (unchanged since Unicode 6.3).
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace pj::tok
