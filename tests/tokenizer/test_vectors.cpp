// Golden vectors: /work/shared/fixtures/tokenizers/<name>/vectors.json holds, for each test string, the
// ids that the reference library (HF tokenizers 0.23.2 for tokenizer.json, sentencepiece 0.2.2 for
// tokenizer.model) produces without BOS, and its decoding. Every id must match exactly.
#include "models/tokenizer/hf_tokenizer.h"

#include "core/base/file.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace {

using nlohmann::json;

std::string fixture_dir(const std::string& name) { return std::string(PJ_SHARED_DIR) + "/fixtures/tokenizers/" + name; }

json vectors(const std::string& name) { return json::parse(pj::read_text_file(fixture_dir(name) + "/vectors.json")); }

class Vectors : public ::testing::TestWithParam<const char*> {};

TEST_P(Vectors, EncodeAndDecodeMatchReference) {
  const json v = vectors(GetParam());
  const pj::tok::Tokenizer tok = pj::tok::load_hf_tokenizer(fixture_dir(GetParam()));
  EXPECT_EQ(tok.n_vocab(), v["vocab_size"].get<int>());
  ASSERT_GE(v["cases"].size(), 50u);
  for (const json& c : v["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<int>>();
    EXPECT_EQ(tok.encode(text, /*parse_special=*/true), want) << "text: " << text;
    EXPECT_EQ(tok.decode(want), c["decoded"].get<std::string>()) << "text: " << text;
  }
}

TEST_P(Vectors, ChatTemplateRenderingTokenizesWithSpecials) {
  const json chat = vectors(GetParam())["chat"];
  const pj::tok::Tokenizer tok = pj::tok::load_hf_tokenizer(fixture_dir(GetParam()));
  const auto want = chat["ids"].get<std::vector<int>>();
  EXPECT_EQ(tok.encode(chat["rendered"].get<std::string>(), /*parse_special=*/true), want);
  EXPECT_EQ(tok.decode(want), chat["rendered"].get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Vectors, ::testing::Values("qwen", "llama3", "gemma", "mistral"));

TEST(SpecialTokens, ParsedOnlyWhenAsked) {
  const pj::tok::Tokenizer tok = pj::tok::load_hf_tokenizer(fixture_dir("qwen"));
  const int im_start = tok.find_token("<|im_start|>");
  ASSERT_EQ(im_start, 1025);
  EXPECT_EQ(tok.encode("<|im_start|>user", true).front(), im_start);
  const auto plain = tok.encode("<|im_start|>user", false);
  EXPECT_GT(plain.size(), 2u);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), im_start), 0);
  // As ordinary text it is the same as the text "<|" + "im_start|>user" split elsewhere.
  EXPECT_EQ(tok.decode(plain), "<|im_start|>user");
  EXPECT_EQ(tok.spec().eos_id, im_start + 1);  // <|im_end|> from tokenizer_config.json
  EXPECT_EQ(tok.spec().eot_id, im_start + 1);
  EXPECT_EQ(tok.spec().bos_id, -1);
  EXPECT_FALSE(tok.spec().add_bos);
}

TEST(SpecialTokens, IdsAndFlagsFromModelFiles) {
  const auto llama3 = pj::tok::load_hf_tokenizer(fixture_dir("llama3"));
  EXPECT_EQ(llama3.token(llama3.spec().bos_id), "<|begin_of_text|>");
  EXPECT_EQ(llama3.token(llama3.spec().eos_id), "<|eot_id|>");
  EXPECT_EQ(llama3.spec().pre_name, "llama-bpe");

  const auto gemma = pj::tok::load_hf_tokenizer(fixture_dir("gemma"));
  // Gemma's layout: pad 0, eos 1, bos 2, unk 3 (trainer_spec), add_bos from tokenizer_config.json.
  EXPECT_EQ(gemma.spec().pad_id, 0);
  EXPECT_EQ(gemma.spec().eos_id, 1);
  EXPECT_EQ(gemma.spec().bos_id, 2);
  EXPECT_EQ(gemma.spec().unk_id, 3);
  EXPECT_TRUE(gemma.spec().add_bos);
  EXPECT_EQ(gemma.token(gemma.spec().eot_id), "<end_of_turn>");
  const auto ids = gemma.encode("Hello", false, /*add_special=*/true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 2);
  EXPECT_EQ(gemma.decode(ids), "Hello");  // control pieces are invisible

  const auto mistral = pj::tok::load_hf_tokenizer(fixture_dir("mistral"));
  EXPECT_EQ(mistral.spec().bos_id, 1);
  EXPECT_EQ(mistral.spec().eos_id, 2);
  EXPECT_EQ(mistral.spec().unk_id, 0);
  EXPECT_TRUE(mistral.spec().byte_fallback);
}

TEST(ByteFallback, UnknownCharactersBecomeBytePieces) {
  const auto mistral = pj::tok::load_hf_tokenizer(fixture_dir("mistral"));
  // U+10348 GOTHIC LETTER HWAIR is surely not among 1024 pieces: 4 byte pieces after the prefix.
  const auto ids = mistral.encode("\xF0\x90\x8D\x88");
  ASSERT_GE(ids.size(), 4u);
  const std::vector<std::string> want = {"<0xF0>", "<0x90>", "<0x8D>", "<0x88>"};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(mistral.token(ids[ids.size() - 4 + i]), want[i]);
  EXPECT_EQ(mistral.decode(ids), "\xF0\x90\x8D\x88");
  // A lone continuation byte piece decodes to U+FFFD.
  EXPECT_EQ(mistral.decode({mistral.find_token("<0x88>")}), "\xEF\xBF\xBD");
}

}  // namespace
