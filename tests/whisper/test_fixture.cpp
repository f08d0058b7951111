// The Whisper graph against transformers' float64 outputs for the tiny random fixture
// (../shared/fixtures/whisper, README there): mel features, encoder output, logits, greedy ids.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/audio/audio.h"
#include "core/kernels/context.h"
#include "core/safetensors/safetensors.h"
#include "models/whisper/mel.h"
#include "models/whisper/model.h"

namespace {

using namespace pj;
const std::string kFixture = std::string(PJ_SHARED_DIR) + "/fixtures/whisper";

std::vector<float> ref_tensor(const safetensors::File& f, const char* name) {
  const auto& t = f.get(name);
  std::vector<float> v(t.n_elements());
  safetensors::to_f32(t, 0, v.size(), v.data());
  return v;
}

double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}
double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, double(std::fabs(v)));
  return m;
}

class WhisperFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ref_ = new safetensors::File(safetensors::File::open(kFixture + "/reference.safetensors"));
  }
  static void TearDownTestSuite() { delete ref_; }
  static safetensors::File* ref_;
};
safetensors::File* WhisperFixture::ref_ = nullptr;

// Tolerance 1e-4 absolute (the bar): the features are log10 values of order 1; our STFT runs in
// double and the filters are computed in double then rounded to f32 like the reference's.
TEST_F(WhisperFixture, MelFeatures80And128) {
  const auto audio = ref_tensor(*ref_, "audio");
  for (int n_mels : {80, 128}) {
    const auto want = ref_tensor(*ref_, n_mels == 80 ? "input_features" : "input_features_128");
    const auto mel = whisper::log_mel_spectrogram(audio.data(), audio.size(), n_mels,
                                                  whisper::kChunkSamples - audio.size(), nullptr);
    ASSERT_EQ(mel.n_frames, whisper::kChunkFrames);
    ASSERT_EQ(mel.data.size(), want.size());
    const double err = max_abs_diff(mel.data.data(), want.data(), want.size());
    EXPECT_LT(err, 1e-4) << n_mels << " bins";
    RecordProperty("mel_" + std::to_string(n_mels) + "_max_abs_err", std::to_string(err));
  }
}

// Our decoder reads the same WAV through FFmpeg: the samples must equal the fixture's (16-bit PCM at
// 16 kHz needs no resampling: exact up to the int16 -> float scale).
TEST_F(WhisperFixture, DecodedAudioMatchesFixture) {
  const auto want = ref_tensor(*ref_, "audio");
  const auto got = audio::decode_file(std::string(PJ_SHARED_DIR) + "/data/audio/espeak_local_models.wav");
  ASSERT_EQ(got.size(), want.size());
  EXPECT_LT(max_abs_diff(got.data(), want.data(), got.size()), 1e-6);
}

// Encoder output and logits: 1e-3 relative (max-abs error over max-abs value), the bar. The
// weights are F16 as stored and multiply f32 activations, so the only differences from the float64
// reference are f32 rounding.
TEST_F(WhisperFixture, EncoderLogitsAndGreedy) {
  KernelContext ctx;
  const whisper::Model m = whisper::Model::load(kFixture);
  EXPECT_EQ(m.hp.n_vocab, 51865);
  EXPECT_TRUE(m.hp.multilingual());
  const auto feats = ref_tensor(*ref_, "input_features");
  std::vector<float> enc;
  whisper::encode(ctx, m, feats.data(), enc);
  const auto want_enc = ref_tensor(*ref_, "encoder_out");
  ASSERT_EQ(enc.size(), want_enc.size());
  const double enc_rel = max_abs_diff(enc.data(), want_enc.data(), enc.size()) / max_abs(want_enc);
  EXPECT_LT(enc_rel, 1e-3);

  whisper::CrossKv xkv;
  whisper::cross_kv(ctx, m, enc, xkv);
  const auto ids_f = ref_tensor(*ref_, "decoder_input_ids");
  std::vector<int32_t> ids(ids_f.begin(), ids_f.end());
  whisper::DecoderCache cache;
  std::vector<float> logits;
  whisper::decode(ctx, m, xkv, cache, ids.data(), int(ids.size()), true, logits);
  const auto want_logits = ref_tensor(*ref_, "logits");
  ASSERT_EQ(logits.size(), want_logits.size());
  const double log_rel = max_abs_diff(logits.data(), want_logits.data(), logits.size()) / max_abs(want_logits);
  EXPECT_LT(log_rel, 1e-3);

  // Incremental decoding (one token at a time through the cache) gives the same logits.
  whisper::DecoderCache c2;
  std::vector<float> step;
  double inc_err = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    whisper::decode(ctx, m, xkv, c2, &ids[t], 1, false, step);
    inc_err = std::max(inc_err, max_abs_diff(step.data(), logits.data() + t * size_t(m.hp.n_vocab), step.size()));
  }
  EXPECT_LT(inc_err / max_abs(want_logits), 1e-5);

  // A batch of sequences at different lengths in one pass equals decoding each alone.
  {
    whisper::DecoderCache a, b, a1, b1;
    std::vector<float> la, lb, batch;
    whisper::decode(ctx, m, xkv, a, ids.data(), 5, false, la);
    whisper::decode(ctx, m, xkv, b, ids.data(), 8, false, lb);
    a1 = a;
    b1 = b;
    whisper::decode(ctx, m, xkv, a, &ids[5], 1, false, la);
    whisper::decode(ctx, m, xkv, b, &ids[8], 1, false, lb);
    const int32_t next[2] = {ids[5], ids[8]};
    whisper::decode_batch(ctx, m, xkv, {&a1, &b1}, next, batch);
    ASSERT_EQ(batch.size(), 2 * la.size());
    EXPECT_LT(max_abs_diff(batch.data(), la.data(), la.size()), 1e-4);
    EXPECT_LT(max_abs_diff(batch.data() + la.size(), lb.data(), lb.size()), 1e-4);
    EXPECT_EQ(a1.n, 6);
    EXPECT_EQ(b1.n, 9);
  }

  // Greedy: 12 steps after the 4 prompt tokens, plain argmax (no suppression), as the fixture made them.
  const auto greedy_f = ref_tensor(*ref_, "greedy_ids");
  std::vector<int32_t> seq(greedy_f.begin(), greedy_f.begin() + 4);
  whisper::DecoderCache c3;
  whisper::decode(ctx, m, xkv, c3, seq.data(), 4, false, step);
  while (seq.size() < greedy_f.size()) {
    const int32_t next = int32_t(std::max_element(step.begin(), step.end()) - step.begin());
    seq.push_back(next);
    whisper::decode(ctx, m, xkv, c3, &next, 1, false, step);
  }
  std::vector<int32_t> want_greedy(greedy_f.begin(), greedy_f.end());
  EXPECT_EQ(seq, want_greedy);
  std::printf("fixture: encoder_out rel err %.3g, logits rel err %.3g, incremental %.3g\n", enc_rel, log_rel,
              inc_err / max_abs(want_logits));
}

}  // namespace
