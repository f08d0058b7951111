// The incremental decoder must give exactly decode()'s text, and never hand out part of a multi-byte
// UTF-8 character: every chunk it returns is valid UTF-8 on its own.
#include "models/tokenizer/hf_tokenizer.h"
#include "models/tokenizer/unicode.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

std::string fixture_dir(const std::string& name) { return std::string(PJ_SHARED_DIR) + "/fixtures/tokenizers/" + name; }

bool valid_utf8(const std::string& s) { return pj::tok::utf8_sanitize(s) == s; }

struct StreamResult {
  std::vector<std::string> chunks;
  std::string text;
  int split_chars = 0;  // tokens whose bytes ended inside a character (the case under test)
};

StreamResult stream(const pj::tok::Tokenizer& tok, const std::vector<int>& ids) {
  StreamResult r;
  pj::tok::StreamDecoder dec(tok);
  pj::tok::Tokenizer::DecodeState st;
  std::string raw;
  for (int id : ids) {
    tok.append_token(id, st, false, raw);
    if (pj::tok::utf8_complete_prefix(raw) != raw.size()) ++r.split_chars;
    r.chunks.push_back(dec.push(id));
    r.text += r.chunks.back();
  }
  r.chunks.push_back(dec.flush());
  r.text += r.chunks.back();
  return r;
}

class Stream : public ::testing::TestWithParam<const char*> {};

TEST_P(Stream, EmojiAndCjkSplitAcrossTokens) {
  const auto tok = pj::tok::load_hf_tokenizer(fixture_dir(GetParam()));
  // Characters that tiny vocabularies spell in bytes: rare CJK (U+2070E), Gothic (U+10348), recent
  // emoji, next to common ones that may be whole pieces.
  const std::string text = "🦙🦙 llamas in pajamas 😴🌙 你好，世界！𠜎𐍈🧬🪐 今天天气很好。こんにちは 👨‍👩‍👧 ok 👍🏽";
  const auto ids = tok.encode(text);
  const StreamResult r = stream(tok, ids);
  // With 1024-token vocabularies these characters are spelled in bytes, so some tokens must end
  // inside a character; otherwise this test would not exercise the hold-back.
  EXPECT_GT(r.split_chars, 3) << GetParam();
  EXPECT_EQ(r.text, tok.decode(ids));
  EXPECT_EQ(r.text, text);
  for (const std::string& c : r.chunks) EXPECT_TRUE(valid_utf8(c)) << GetParam();
}

// The token that stands for one raw byte: the byte's character in GPT-2's alphabet, or <0xXX>.
int byte_token(const pj::tok::Tokenizer& tok, uint8_t b) {
  if (tok.spec().kind == pj::tok::TokenizerKind::spm_bpe) return tok.find_token(fmt::format("<0x{:02X}>", b));
  std::string ch;
  pj::tok::utf8_append(ch, pj::tok::byte_to_unicode(b));
  return tok.find_token(ch);
}

TEST_P(Stream, MalformedBytesBecomeReplacementCharacters) {
  const auto tok = pj::tok::load_hf_tokenizer(fixture_dir(GetParam()));
  // "é", then the first two bytes of "你" (E4 BD A0), then "a": the cut character can never complete.
  std::vector<int> ids = tok.encode("\xC3\xA9");
  ids.push_back(byte_token(tok, 0xE4));
  ids.push_back(byte_token(tok, 0xBD));
  const auto a = tok.encode("a");
  ids.insert(ids.end(), a.begin(), a.end());
  ASSERT_GE(ids[ids.size() - a.size() - 1], 0);
  ASSERT_GE(ids[ids.size() - a.size() - 2], 0);
  pj::tok::StreamDecoder dec(tok);
  std::vector<std::string> chunks;
  for (int id : ids) chunks.push_back(dec.push(id));
  chunks.push_back(dec.flush());
  // Nothing comes out for E4 or BD: they might still become a character.
  EXPECT_EQ(chunks[ids.size() - a.size() - 2], "");
  EXPECT_EQ(chunks[ids.size() - a.size() - 1], "");
  std::string text;
  for (const auto& c : chunks) {
    text += c;
    EXPECT_TRUE(valid_utf8(c));
  }
  EXPECT_EQ(text, tok.decode(ids));
  std::string tail;  // "a" as it decodes mid-text (" a" where SentencePiece added a dummy prefix)
  for (int id : a) tail += tok.token_bytes(id, /*at_start=*/false);
  EXPECT_EQ(text, "\xC3\xA9\xEF\xBF\xBD" + tail);  // one U+FFFD for the cut character

  // Cut at the very end: flush() gives the U+FFFD.
  pj::tok::StreamDecoder dec2(tok);
  EXPECT_EQ(dec2.push(byte_token(tok, 0xF0)), "");
  EXPECT_EQ(dec2.push(byte_token(tok, 0x9F)), "");
  EXPECT_EQ(dec2.flush(), "\xEF\xBF\xBD");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Stream, ::testing::Values("qwen", "llama3", "gemma", "mistral"));

TEST(Utf8, CompletePrefix) {
  using pj::tok::utf8_complete_prefix;
  EXPECT_EQ(utf8_complete_prefix("ab"), 2u);
  EXPECT_EQ(utf8_complete_prefix("a\xE4\xBD"), 1u);          // 2 of 3 bytes: wait
  EXPECT_EQ(utf8_complete_prefix("a\xE4\xBD\xA0"), 4u);      // complete
  EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F\xA6"), 1u);      // 3 of 4 bytes
  EXPECT_EQ(utf8_complete_prefix("a\xC0"), 2u);              // never valid: do not wait
  EXPECT_EQ(utf8_complete_prefix("a\xE0\x80"), 3u);          // overlong start: malformed
  EXPECT_EQ(utf8_complete_prefix("\xBF"), 1u);               // stray continuation byte
  EXPECT_EQ(pj::tok::utf8_sanitize("a\xE4\xBD" "b"), "a\xEF\xBF\xBD" "b");  // one U+FFFD per maximal subpart
  EXPECT_EQ(pj::tok::utf8_sanitize("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
