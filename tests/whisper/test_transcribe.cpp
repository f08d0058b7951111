// Decoding rules and output formats. The decoding runs on the random fixture model (its text is
// gibberish), so these tests check the invariants openai/whisper's logit filters guarantee rather than
// words; real words are checked with real weights in tests/python/test_whisper_cli.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/safetensors/safetensors.h"
#include "models/whisper/transcribe.h"

namespace {

using namespace pj;
using namespace pj::whisper;
const std::string kShared = PJ_SHARED_DIR;

TEST(WhisperFormat, Timestamps) {
  EXPECT_EQ(format_timestamp(3661.5, true, ','), "01:01:01,500");
  EXPECT_EQ(format_timestamp(65.25, false, '.'), "01:05.250");
  EXPECT_EQ(format_timestamp(0, true, ','), "00:00:00,000");
}

// Expected values: Python's len(b) / len(zlib.compress(b)) (level 6, the default, as whisper computes it).
TEST(WhisperFormat, CompressionRatioLikeZlib) {
  EXPECT_NEAR(compression_ratio("hello hello hello hello hello hello hello hello"), 2.764705882352941, 1e-6);
  EXPECT_NEAR(compression_ratio("And so, my fellow Americans ask not what your country can do for you"),
              0.9855072463768116, 1e-6);
}

TEST(WhisperFormat, SrtVttJson) {
  Transcript t;
  t.language = "en";
  t.duration = 5;
  Segment a;
  a.start = 0;
  a.end = 2.5;
  a.text = " Hello there.";
  Segment b;
  b.start = 2.5;
  b.end = 4.0;
  b.text = " Bye.";
  t.segments = {a, b};
  t.text = a.text + b.text;
  EXPECT_EQ(format_transcript(t, "srt"), "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:02,500 --> 00:00:04,000\nBye.\n\n");
  EXPECT_EQ(format_transcript(t, "vtt"), "WEBVTT\n\n00:00.000 --> 00:02.500\nHello there.\n\n00:02.500 --> 00:04.000\nBye.\n\n");
  EXPECT_EQ(format_transcript(t, "txt"), "Hello there.\nBye.\n");
  const auto j = nlohmann::json::parse(format_transcript(t, "verbose_json"));
  EXPECT_EQ(j["language"], "english");
  EXPECT_EQ(j["segments"].size(), 2u);
  EXPECT_EQ(j["segments"][1]["start"], 2.5);
  EXPECT_THROW(format_transcript(t, "docx"), pj::Error);
}

class WhisperDecodeRules : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_unique<Model>(Model::load(kShared + "/fixtures/whisper"));
    tok_ = std::make_unique<Tokenizer>(Tokenizer::from_tiktoken(kShared + "/data/whisper/multilingual.tiktoken", 51865));
    auto ref = safetensors::File::open(kShared + "/fixtures/whisper/reference.safetensors");
    const auto& f = ref.get("input_features");
    mel_.resize(f.n_elements());
    safetensors::to_f32(f, 0, mel_.size(), mel_.data());
  }
  KernelContext ctx_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tok_;
  std::vector<float> mel_;
};

// Whatever the model says, the timestamp rules hold: the first token is a timestamp no later than
// max_initial_timestamp, timestamps never go backwards, suppressed tokens never appear.
TEST_F(WhisperDecodeRules, TimestampRulesAndSuppressionHold) {
  Transcriber tr(ctx_, *model_, *tok_);
  tr.set_window(mel_.data());
  const auto suppressed = tok_->non_speech_tokens();
  for (int beam : {1, 3}) {
    for (float temp : {0.0f, 0.7f}) {
      TranscribeOptions o;
      o.beam_size = beam;
      o.best_of = 2;
      o.seed = 7;
      o.sample_len = 24;  // the random model never ends by itself; 24 steps show the rules
      const WindowResult r = tr.decode_window({}, "en", temp, o);
      ASSERT_FALSE(r.tokens.empty());
      const int32_t tb = tok_->timestamp_begin();
      EXPECT_GE(r.tokens[0], tb) << "beam " << beam << " T " << temp;
      EXPECT_LE(r.tokens[0], tb + 50);
      int32_t last_ts = -1;
      for (int32_t t : r.tokens) {
        EXPECT_NE(t, tok_->eot());
        EXPECT_NE(t, tok_->no_timestamps());
        EXPECT_FALSE(std::binary_search(suppressed.begin(), suppressed.end(), t)) << t;
        if (t >= tb) {
          EXPECT_GE(t, last_ts);
          last_ts = t;
        }
      }
      EXPECT_LE(r.avg_logprob, 0.0f);
      EXPECT_GE(r.no_speech_prob, 0.0f);
      EXPECT_LE(r.no_speech_prob, 1.0f);
    }
  }
  // Without timestamps no timestamp token appears; a prompt goes in front without breaking anything.
  TranscribeOptions o;
  o.beam_size = 1;
  o.timestamps = false;
  o.sample_len = 24;
  const WindowResult r = tr.decode_window(tok_->encode(" Hello there."), "en", 0.0f, o);
  for (int32_t t : r.tokens) EXPECT_LT(t, tok_->eot());
  // Language detection returns a distribution over the 99 languages.
  const auto probs = tr.detect_language();
  ASSERT_EQ(probs.size(), 99u);
  float sum = 0;
  for (const auto& p : probs) sum += p.second;
  EXPECT_NEAR(sum, 1.0f, 1e-4);
  EXPECT_GE(probs[0].second, probs[1].second);
}

}  // namespace
