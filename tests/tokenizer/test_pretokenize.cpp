// The hand-written pre-tokenizer matchers, on cases where the regexes' look-ahead, optional prefixes
// and case-insensitive contractions decide. Expected splits worked out from the regex semantics (and
// confirmed against HF tokenizers by tests/python/test_tokenize_cli.py, which does it on random text).
#include "models/tokenizer/pretokenize.h"
#include "models/tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using pj::tok::PreSplit;

std::vector<std::string> split(PreSplit s, const std::string& text) {
  std::vector<std::string> out;
  for (auto v : pj::tok::pre_split_all({s}, text)) out.emplace_back(v);
  return out;
}

using V = std::vector<std::string>;

TEST(PreSplit, Gpt2) {
  EXPECT_EQ(split(PreSplit::gpt2, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(split(PreSplit::gpt2, "hello  world"), (V{"hello", " ", " world"}));  // \s+(?!\S) leaves one space
  EXPECT_EQ(split(PreSplit::gpt2, "don't DON'T"), (V{"don", "'t", " DON", "'", "T"}));  // case-sensitive
  EXPECT_EQ(split(PreSplit::gpt2, "abc123 4567"), (V{"abc", "123", " 4567"}));
  EXPECT_EQ(split(PreSplit::gpt2, "x  \n\n"), (V{"x", "  \n\n"}));  // trailing run kept whole
  EXPECT_EQ(split(PreSplit::gpt2, "a ?!b"), (V{"a", " ?!", "b"}));
}

TEST(PreSplit, Llama3) {
  EXPECT_EQ(split(PreSplit::llama3, "DON'T we'LL"), (V{"DON", "'T", " we", "'LL"}));  // (?i:...)
  EXPECT_EQ(split(PreSplit::llama3, "1234567"), (V{"123", "456", "7"}));
  EXPECT_EQ(split(PreSplit::llama3, "(hello"), (V{"(hello"}));  // [^\r\n\p{L}\p{N}]?\p{L}+
  EXPECT_EQ(split(PreSplit::llama3, "\thello"), (V{"\thello"}));
  EXPECT_EQ(split(PreSplit::llama3, "\nhello"), (V{"\n", "hello"}));
  EXPECT_EQ(split(PreSplit::llama3, "a  \n\n  b"), (V{"a", "  \n\n", " ", " b"}));  // \s*[\r\n]+
  EXPECT_EQ(split(PreSplit::llama3, "x;\r\n\r\ny"), (V{"x", ";\r\n\r\n", "y"}));     //  ?[^\s\p{L}\p{N}]+[\r\n]*
  EXPECT_EQ(split(PreSplit::llama3, "end   "), (V{"end", "   "}));
  EXPECT_EQ(split(PreSplit::llama3, "\xC5\xBF's"), (V{"\xC5\xBF", "'s"}));  // U+017F is a letter
  EXPECT_EQ(split(PreSplit::llama3, "it'\xC5\xBF"), (V{"it", "'\xC5\xBF"}));  // and folds to s
  EXPECT_EQ(split(PreSplit::llama3, "\xC2\xA0nbsp"), (V{"\xC2\xA0nbsp"}));    // NBSP is \s, not \r\n
}

TEST(PreSplit, Qwen2DigitsOneByOne) {
  EXPECT_EQ(split(PreSplit::qwen2, "x 123"), (V{"x", " ", "1", "2", "3"}));
  EXPECT_EQ(split(PreSplit::digits, "ab12c"), (V{"ab", "1", "2", "c"}));
  EXPECT_EQ(split(PreSplit::digits, "a \xC2\xBD"), (V{"a ", "\xC2\xBD"}));  // U+00BD is N (No), as in HF
}

TEST(PreSplit, PiecesCoverTheText) {
  const std::string text = "Héllo wörld — 你好，世界！ 🦙\r\n\t 42 it's\xE2\x80\x89x \xFF bad";
  for (PreSplit s : {PreSplit::gpt2, PreSplit::llama3, PreSplit::qwen2, PreSplit::digits}) {
    std::string joined;
    for (const auto& p : split(s, text)) {
      EXPECT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text) << pj::tok::pre_split_name(s);
  }
}

TEST(PreSplit, KnownRegexesAndNames) {
  for (PreSplit s : {PreSplit::gpt2, PreSplit::llama3, PreSplit::qwen2})
    EXPECT_EQ(pj::tok::pre_split_from_regex(pj::tok::pre_split_regex(s)), s);
  EXPECT_FALSE(pj::tok::pre_split_from_regex("\\p{L}+"));
  EXPECT_EQ(*pj::tok::pre_splits_from_gguf_name("llama-bpe"), std::vector{PreSplit::llama3});
  EXPECT_EQ(*pj::tok::pre_splits_from_gguf_name("qwen2"), std::vector{PreSplit::qwen2});
  EXPECT_EQ(*pj::tok::pre_splits_from_gguf_name("gpt-2"), std::vector{PreSplit::gpt2});
  EXPECT_EQ(*pj::tok::pre_splits_from_gguf_name("smollm"), (std::vector{PreSplit::digits, PreSplit::gpt2}));
  EXPECT_FALSE(pj::tok::pre_splits_from_gguf_name("made-up"));
}

TEST(Unicode, Categories) {
  EXPECT_TRUE(pj::tok::is_letter(U'é'));
  EXPECT_TRUE(pj::tok::is_letter(U'你'));
  EXPECT_TRUE(pj::tok::is_number(U'٣'));   // ARABIC-INDIC DIGIT THREE (Nd)
  EXPECT_TRUE(pj::tok::is_number(U'½'));   // No
  EXPECT_TRUE(pj::tok::is_number(U'Ⅷ'));   // Nl
  EXPECT_FALSE(pj::tok::is_letter(U'🦙'));
  EXPECT_TRUE(pj::tok::is_space(0x2009));
  EXPECT_FALSE(pj::tok::is_space(0x200B));  // ZERO WIDTH SPACE is not White_Space
  EXPECT_FALSE(pj::tok::is_space(0x1C));    // Python's isspace() says yes; White_Space says no
}

}  // namespace
