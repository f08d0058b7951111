// ViT and CLIP against ../shared/fixtures/{vit,clip} (transformers 5.17, float64 reference from the fp16
// weights, stored as float32).
//   * pixel_values from our pre-processing of the fixture images vs the reference: within 2e-2 absolute
//     (the bound). Our resize is bit-exact with Pillow (tests/python/test_vision_image.py); the
//     measured difference is printed.
//   * logits / embeddings when fed the reference pixel_values: within 1e-3 relative (max-abs error over
//     the max-abs reference value). Our weights are the same fp16 values; the error is float32 rounding
//     in two layers (measured ~1e-6).
#include <gtest/gtest.h>

#include <cmath>

#include "core/base/error.h"
#include "core/image/image.h"
#include "core/kernels/context.h"
#include "core/safetensors/safetensors.h"
#include "core/base/file.h"
#include "models/vision/clip.h"
#include "models/vision/clip_tokenizer.h"
#include "models/vision/labels.h"
#include "models/vision/vit.h"

using namespace pj;
using namespace pj::vision;

namespace {
const std::string kFix = std::string(PJ_SHARED_DIR) + "/fixtures/";

std::vector<float> ref(const std::string& model, const std::string& name) {
  auto f = safetensors::File::open(kFix + model + "/reference.safetensors");
  const auto& t = f.get(name);
  std::vector<float> v(t.n_elements());
  safetensors::to_f32(t, 0, v.size(), v.data());
  return v;
}

double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  double m = 0, e = 0;
  for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
    m = std::max(m, double(std::fabs(want[i])));
    e = std::max(e, double(std::fabs(got[i] - want[i])));
  }
  return e / m;
}

double max_abs(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); ++i) e = std::max(e, double(std::fabs(a[i] - b[i])));
  return e;
}
}  // namespace

TEST(VitFixture, PixelValuesMatchViTImageProcessor) {
  VitModel m(VisionWeights::open(kFix + "vit"));
  for (const char* img : {"image", "image2"}) {
    auto px = m.preprocess()(image::load(kFix + "inputs/" + img + ".png"));
    double d = max_abs(px, ref("vit", std::string("pixel_values_") + img));
    std::printf("vit %s pixel_values max abs diff %.3g\n", img, d);
    EXPECT_LT(d, 2e-2);
  }
}

TEST(VitFixture, LogitsMatchTransformers) {
  KernelContext ctx;
  VitModel m(VisionWeights::open(kFix + "vit"));
  EXPECT_EQ(m.n_labels(), 1000);
  for (const char* img : {"image", "image2"}) {
    auto logits = m.logits(ctx, ref("vit", std::string("pixel_values_") + img));
    double e = rel_err(logits, ref("vit", std::string("logits_") + img));
    std::printf("vit %s logits rel err %.3g\n", img, e);
    EXPECT_LT(e, 1e-3);
  }
}

TEST(ClipFixture, PixelValuesMatchCLIPImageProcessor) {
  ClipModel m(VisionWeights::open(kFix + "clip"));
  for (const char* img : {"image", "image2"}) {
    auto px = m.preprocess()(image::load(kFix + "inputs/" + img + ".png"));
    double d = max_abs(px, ref("clip", std::string("pixel_values_") + img));
    std::printf("clip %s pixel_values max abs diff %.3g\n", img, d);
    EXPECT_LT(d, 2e-2);
  }
}

TEST(ClipFixture, EmbeddingsAndLogitsMatchTransformers) {
  KernelContext ctx;
  ClipModel m(VisionWeights::open(kFix + "clip"));
  auto ids = ref("clip", "input_ids");  // (3, 9) as floats
  std::vector<std::vector<float>> texts;
  std::vector<float> all_text;
  for (int t = 0; t < 3; ++t) {
    std::vector<int64_t> row;
    for (int j = 0; j < 9; ++j) row.push_back(int64_t(ids[t * 9 + j]));
    texts.push_back(m.text_embeds(ctx, row));
    all_text.insert(all_text.end(), texts.back().begin(), texts.back().end());
  }
  double et = rel_err(all_text, ref("clip", "text_embeds"));
  std::printf("clip text_embeds rel err %.3g\n", et);
  EXPECT_LT(et, 1e-3);
  for (const char* img : {"image", "image2"}) {
    auto emb = m.image_embeds(ctx, ref("clip", std::string("pixel_values_") + img));
    double e = rel_err(emb, ref("clip", std::string("image_embeds_") + img));
    std::vector<float> logits;
    for (const auto& t : texts) {
      double dot = 0;
      for (size_t i = 0; i < t.size(); ++i) dot += double(t[i]) * emb[i];
      logits.push_back(float(dot * m.logit_scale()));
    }
    double el = rel_err(logits, ref("clip", std::string("logits_per_image_") + img));
    std::printf("clip %s image_embeds rel err %.3g, logits_per_image rel err %.3g\n", img, e, el);
    EXPECT_LT(e, 1e-3);
    EXPECT_LT(el, 1e-3);
  }
}

TEST(VisionLabels, ImageNetNamesReplaceGenericOnes) {
  std::string f = std::string(PJ_SHARED_DIR) + "/data/labels/imagenet_labels_1001.txt";
  std::vector<std::string> generic(1000);
  for (int i = 0; i < 1000; ++i) generic[i] = "LABEL_" + std::to_string(i);
  auto l = resolve_labels(generic, 1000, f);
  EXPECT_EQ(l[0], "tench, Tinca tinca");
  EXPECT_EQ(l[339], "sorrel");
  auto real = resolve_labels({"cat", "dog"}, 2, f);
  EXPECT_EQ(real[1], "dog");
  auto other = resolve_labels({"label_0", "label_1", "label_2"}, 3, f);
  EXPECT_EQ(other[2], "label_2");  // not ImageNet-sized: the config's own names stay
}

TEST(VisionErrors, BadModelFoldersAreClearErrors) {
  EXPECT_THROW(VisionWeights::open(kFix + "llama"), Error);  // not a vision model
  EXPECT_THROW(VisionWeights::open("/nonexistent"), Error);
  KernelContext ctx;
  VitModel m(VisionWeights::open(kFix + "vit"));
  EXPECT_THROW(m.logits(ctx, std::vector<float>(10)), Error);
}

// The fixture's input_ids were made by transformers' CLIPTokenizer with OpenAI's vocabulary; setup.sh
// installs OpenAI's merges file (models/clip-bpe) from which we build the same vocabulary.
TEST(ClipTokenizerTest, MatchesFixtureIds) {
  std::string bpe = std::string(PJ_SOURCE_DIR) + "/models/clip-bpe/bpe_simple_vocab_16e6.txt.gz";
  if (!file_exists(bpe)) GTEST_SKIP() << bpe << " missing: run ./setup.sh";
  ClipTokenizer t = ClipTokenizer::load(bpe);
  EXPECT_EQ(t.vocab_size(), 49408u);
  EXPECT_EQ(t.bos(), 49406);
  EXPECT_EQ(t.eos(), 49407);
  EXPECT_EQ(t.encode_for_model("a photo of a cat"), (std::vector<int64_t>{49406, 320, 1125, 539, 320, 2368, 49407}));
  EXPECT_EQ(t.encode_for_model("a photo of a dog in ripe"),
            (std::vector<int64_t>{49406, 320, 1125, 539, 320, 1929, 530, 22832, 49407}));
  EXPECT_EQ(t.encode_for_model("writers"), (std::vector<int64_t>{49406, 7307, 49407}));
  EXPECT_EQ(t.encode("it's 2 cats!!"), t.encode("It's 2 CATS!!"));
  // Case and whitespace are normalised.
  EXPECT_EQ(t.encode("  A   Photo\tOF a CAT "), t.encode("a photo of a cat"));
  auto long_ids = t.encode_for_model(std::string(500, 'x') + " y", 77);
  EXPECT_EQ(long_ids.size(), 77u);
  EXPECT_EQ(long_ids.back(), 49407);
}
