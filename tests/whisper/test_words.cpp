// Word-timestamp building blocks (words.h) on hand-made inputs whose answers follow from timing.py's
// definitions, plus the forced-decode attention on the fixture. The end-to-end check against
// faster-whisper's word times on real speech is tests/python/test_whisper_words.py.
#include <gtest/gtest.h>

#include <cmath>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/safetensors/safetensors.h"
#include "models/whisper/model.h"
#include "models/whisper/tokenizer.h"
#include "models/whisper/words.h"

namespace {

using namespace pj;
using namespace pj::whisper;
const std::string kShared = PJ_SHARED_DIR;

// torch's reflect padding then the median of 5: [1 9 2 8 3] padded is [2 9 | 1 9 2 8 3 | 8 2].
TEST(WhisperWords, MedianFilterReflects) {
  std::vector<float> x = {1, 9, 2, 8, 3};
  median_filter(x.data(), 1, 5, 5);
  // windows: [2 9 1 9 2] -> 2, [9 1 9 2 8] -> 8, [1 9 2 8 3] -> 3, [9 2 8 3 8] -> 8, [2 8 3 8 2] -> 3
  EXPECT_EQ(x, (std::vector<float>{2, 8, 3, 8, 3}));
  std::vector<float> short_row = {5, 1};  // width <= filter / 2: unchanged
  median_filter(short_row.data(), 1, 2, 7);
  EXPECT_EQ(short_row, (std::vector<float>{5, 1}));
}

// A cost matrix with a cheap staircase: the path must follow it, start at (0, 0), end at (n-1, m-1)
// and move by one row and/or one column per step.
TEST(WhisperWords, DtwFollowsTheCheapPath) {
  const int n = 3, m = 6;
  std::vector<float> x(n * m, 1.0f);
  // row 0 cheap on columns 0-1, row 1 on 2-3, row 2 on 4-5
  for (int j = 0; j < m; ++j) x[size_t((j / 2) * m + j)] = -1.0f;
  const auto path = dtw(x, n, m);
  ASSERT_EQ(path.front(), std::make_pair(0, 0));
  ASSERT_EQ(path.back(), std::make_pair(n - 1, m - 1));
  for (size_t k = 1; k < path.size(); ++k) {
    const int di = path[k].first - path[k - 1].first, dj = path[k].second - path[k - 1].second;
    EXPECT_TRUE((di == 0 || di == 1) && (dj == 0 || dj == 1) && di + dj > 0);
  }
  // every visited cell is a cheap one
  for (const auto& [i, j] : path) EXPECT_EQ(x[size_t(i * m + j)], -1.0f) << i << "," << j;
  EXPECT_EQ(path.size(), size_t(m));
}

TEST(WhisperWords, SplitAndMergePunctuation) {
  const Tokenizer tok = Tokenizer::from_tiktoken(kShared + "/data/whisper/gpt2.tiktoken", 51864);
  std::vector<int32_t> ids = tok.encode(" And so, my fellow \"Americans\"");
  ids.push_back(tok.eot());
  const auto words = split_to_word_tokens(tok, ids, "en");
  std::vector<std::string> texts;
  size_t n_tokens = 0;
  for (const auto& [w, t] : words) {
    texts.push_back(w);
    n_tokens += t.size();
  }
  EXPECT_EQ(n_tokens, ids.size());  // every token in exactly one word
  EXPECT_EQ(texts.back(), "<|endoftext|>");
  // punctuation is a word of its own before merging
  EXPECT_NE(std::find(texts.begin(), texts.end(), ","), texts.end());

  std::vector<Word> ws;
  for (size_t i = 0; i + 1 < words.size(); ++i) ws.push_back(Word{words[i].first, double(i), double(i + 1), 1.0f, words[i].second});
  merge_punctuations(ws);
  std::vector<std::string> merged;
  for (const Word& w : ws)
    if (!w.word.empty()) merged.push_back(w.word);
  EXPECT_EQ(merged, (std::vector<std::string>{" And", " so,", " my", " fellow", " \"Americans\""}));
}

// Multi-byte characters split across tokens stay whole: a word never ends inside a UTF-8 sequence.
TEST(WhisperWords, SplitKeepsUtf8Whole) {
  const Tokenizer tok = Tokenizer::from_tiktoken(kShared + "/data/whisper/multilingual.tiktoken", 51865);
  const std::vector<int32_t> ids = tok.encode(" 日本語のテキスト über");
  for (const auto& [w, t] : split_to_word_tokens(tok, ids, "ja")) {
    ASSERT_FALSE(w.empty());
    const auto c = static_cast<unsigned char>(w[0]);
    EXPECT_NE(c & 0xC0, 0x80) << "word starts with a continuation byte";
  }
}

// The forced decode that keeps cross-attention scores gives the same logits as a plain decode, and
// its scores, softmaxed, are the attention weights (rows sum to one, finite).
TEST(WhisperWords, CrossQkOnFixture) {
  KernelContext ctx;
  const Model m = Model::load(kShared + "/fixtures/whisper");
  auto ref = safetensors::File::open(kShared + "/fixtures/whisper/reference.safetensors");
  const auto& ft = ref.get("input_features");
  std::vector<float> feats(ft.n_elements());
  safetensors::to_f32(ft, 0, feats.size(), feats.data());
  std::vector<float> enc;
  encode(ctx, m, feats.data(), enc);
  CrossKv xkv;
  cross_kv(ctx, m, enc, xkv);
  const std::vector<int32_t> ids = {50258, 50259, 50359, 50363, 400, 370, 11, 452};
  const std::vector<std::pair<int, int>> heads = {{1, 0}, {1, 3}, {0, 2}};
  std::vector<float> qk, logits, plain;
  decode_cross_qk(ctx, m, xkv, ids.data(), int(ids.size()), heads, qk, logits);
  DecoderCache c;
  decode(ctx, m, xkv, c, ids.data(), int(ids.size()), true, plain);
  ASSERT_EQ(logits.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) ASSERT_EQ(logits[i], plain[i]);
  ASSERT_EQ(qk.size(), heads.size() * ids.size() * size_t(xkv.n_ctx));
  for (float v : qk) ASSERT_TRUE(std::isfinite(v));
  // heads at different layers see different queries: the scores differ
  double diff = 0;
  for (size_t i = 0; i < ids.size() * size_t(xkv.n_ctx); ++i) diff += std::fabs(qk[i] - qk[2 * ids.size() * size_t(xkv.n_ctx) + i]);
  EXPECT_GT(diff, 0);
  EXPECT_THROW(decode_cross_qk(ctx, m, xkv, ids.data(), int(ids.size()), {{2, 0}}, qk, logits), Error);
}

}  // namespace
