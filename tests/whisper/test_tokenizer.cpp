// Whisper's tokenizer from the real tiktoken vocabularies (../shared/data/whisper).
#include <gtest/gtest.h>

#include <algorithm>

#include "core/base/error.h"
#include "core/base/file.h"
#include "models/whisper/tokenizer.h"

namespace {

using pj::whisper::Tokenizer;
const std::string kData = std::string(PJ_SHARED_DIR) + "/data/whisper";

TEST(WhisperTokenizer, SpecialTokenIdsMultilingual) {
  const Tokenizer t = Tokenizer::from_tiktoken(kData + "/multilingual.tiktoken", 51865);
  EXPECT_TRUE(t.multilingual());
  EXPECT_EQ(t.n_languages(), 99);
  // The fixture's decoder prompt: <|startoftranscript|><|en|><|transcribe|><|notimestamps|>.
  EXPECT_EQ(t.eot(), 50257);
  EXPECT_EQ(t.sot(), 50258);
  EXPECT_EQ(t.language_token("en"), 50259);
  EXPECT_EQ(t.language_token("english"), 50259);
  EXPECT_EQ(t.language_token("su"), 50357);
  EXPECT_EQ(t.language_token("yue"), -1);  // large-v3 only
  EXPECT_EQ(t.translate(), 50358);
  EXPECT_EQ(t.transcribe(), 50359);
  EXPECT_EQ(t.sot_lm(), 50360);
  EXPECT_EQ(t.sot_prev(), 50361);
  EXPECT_EQ(t.no_speech(), 50362);
  EXPECT_EQ(t.no_timestamps(), 50363);
  EXPECT_EQ(t.timestamp_begin(), 50364);
  EXPECT_EQ(t.token_text(50364 + 1500), "<|30.00|>");
  EXPECT_EQ(t.token_text(50364 + 57), "<|1.14|>");
  EXPECT_EQ(t.token_text(50259), "<|en|>");
  EXPECT_EQ(t.sot_sequence("en", false), (std::vector<int32_t>{50258, 50259, 50359}));
  EXPECT_EQ(t.sot_sequence("de", true), (std::vector<int32_t>{50258, 50261, 50358}));
}

TEST(WhisperTokenizer, SpecialTokenIdsEnglishOnlyAndLargeV3) {
  const Tokenizer en = Tokenizer::from_tiktoken(kData + "/gpt2.tiktoken", 51864);
  EXPECT_FALSE(en.multilingual());
  EXPECT_EQ(en.eot(), 50256);
  EXPECT_EQ(en.sot(), 50257);
  EXPECT_EQ(en.transcribe(), 50358);
  EXPECT_EQ(en.no_speech(), 50361);
  EXPECT_EQ(en.no_timestamps(), 50362);
  EXPECT_EQ(en.timestamp_begin(), 50363);
  EXPECT_EQ(en.sot_sequence("en", false), (std::vector<int32_t>{50257}));
  const Tokenizer v3 = Tokenizer::from_tiktoken(kData + "/multilingual.tiktoken", 51866);
  EXPECT_EQ(v3.n_languages(), 100);
  EXPECT_EQ(v3.language_token("yue"), 50358);
  EXPECT_EQ(v3.transcribe(), 50360);
  EXPECT_EQ(v3.timestamp_begin(), 50365);
}

TEST(WhisperTokenizer, EncodeDecode) {
  const Tokenizer en = Tokenizer::from_tiktoken(kData + "/gpt2.tiktoken", 51864);
  // gpt2.tiktoken ranks are GPT-2's ids: " Hello" 18435, " world" 995, "Hello" 15496.
  EXPECT_EQ(en.encode(" Hello world"), (std::vector<int32_t>{18435, 995}));
  EXPECT_EQ(en.encode("Hello"), (std::vector<int32_t>{15496}));
  const Tokenizer ml = Tokenizer::from_tiktoken(kData + "/multilingual.tiktoken", 51865);
  // The fixture's 8 text ids decode to text that encodes back to the same ids.
  const std::vector<int32_t> ids{440, 2068, 3699, 21831, 11, 1029, 562, 13};
  const std::string text = ml.decode(ids);
  EXPECT_EQ(text, " The strongrandBecause, ask when.");  // random ids of the random fixture
  EXPECT_EQ(ml.encode(text), ids);
  for (const char* s : {"Ça va très bien, merci !", "日本語のテキスト", "  spaces\tand\nnewlines  ", "émoji 🎙️ ok"}) {
    EXPECT_EQ(ml.decode(ml.encode(s)), s);
    EXPECT_EQ(en.decode(en.encode(s)), s);
  }
  // Specials never appear in decoded text.
  EXPECT_EQ(ml.decode({50258, 50259, 50359, 440, 50257}), " The");
}

// whisper's suppress_tokens="-1" list for English-only models: non_speech_tokens() plus the control
// tokens. Expected values: "suppress_ids" of the CTranslate2 tiny.en config (made from the Hugging Face
// generation_config of openai/whisper-tiny.en).
TEST(WhisperTokenizer, NonSpeechTokensMatchTinyEnConfig) {
  const Tokenizer en = Tokenizer::from_tiktoken(kData + "/gpt2.tiktoken", 51864);
  std::vector<int32_t> got = en.non_speech_tokens();
  for (int32_t t : {en.sot(), en.translate(), en.transcribe(), en.sot_lm(), en.sot_prev(), en.no_speech()}) got.push_back(t);
  std::sort(got.begin(), got.end());
  const std::vector<int32_t> want{
      1,     2,     7,     8,     9,     10,    14,    25,    26,    27,    28,    29,    31,    58,    59,
      60,    61,    62,    63,    90,    91,    92,    93,    357,   366,   438,   532,   685,   705,   796,
      930,   1058,  1220,  1267,  1279,  1303,  1343,  1377,  1391,  1635,  1782,  1875,  2162,  2361,  2488,
      3467,  4008,  4211,  4600,  4808,  5299,  5855,  6329,  7203,  9609,  9959,  10563, 10786, 11420, 11709,
      11907, 13163, 13697, 13700, 14808, 15306, 16410, 16791, 17992, 19203, 19510, 20724, 22305, 22935, 27007,
      30109, 30420, 33409, 34949, 40283, 40493, 40549, 47282, 49146, 50257, 50357, 50358, 50359, 50360, 50361};
  EXPECT_EQ(got, want);
}

// The CTranslate2 folder's byte-level vocabulary.txt holds the same tokens as gpt2.tiktoken.
TEST(WhisperTokenizer, ByteLevelVocabularyEqualsTiktoken) {
  const std::string vocab = std::string(PJ_SOURCE_DIR) + "/models/whisper-tiny.en/vocabulary.txt";
  if (!pj::file_exists(vocab)) GTEST_SKIP() << vocab << " not installed (./setup.sh)";
  const Tokenizer a = Tokenizer::from_byte_level_vocabulary(vocab, 51864);
  const Tokenizer b = Tokenizer::from_tiktoken(kData + "/gpt2.tiktoken", 51864);
  EXPECT_EQ(a.base_tokens(), b.base_tokens());
}

TEST(WhisperTokenizer, BadFiles) {
  EXPECT_THROW(Tokenizer::from_tiktoken(kData + "/gpt2.tiktoken", 60000), pj::Error);  // does not fit
  EXPECT_THROW(Tokenizer::from_tiktoken(kData + "/mel_filters.npz", 51865), pj::Error);
  EXPECT_THROW(Tokenizer::from_tiktoken(kData + "/missing.tiktoken", 51865), pj::Error);
}

}  // namespace
