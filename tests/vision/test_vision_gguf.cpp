// pajamas convert for vision models: every weight type the kernels can quantize to, written to GGUF, read
// back and run, against the transformers reference logits/embeddings. The fixture's rows are 64 or 128
// wide (the patch embeddings 768 and 3072), so types with 256-wide blocks (K-quants, most IQ types) reach
// only the patch embeddings and fall back elsewhere to llama.cpp's 32-wide replacement (Q4_K -> Q5_0,
// Q6_K -> Q8_0, ...: vision_weight_type in convert_vision.h; fallbacks counted and printed); the 32-wide
// block types (Q4_0..Q8_0, IQ4_NL, MXFP4...) are quantized everywhere; types that need an importance
// matrix are skipped (printed). Bounds by bits per weight, from the measured errors with about 2x margin
// (random weights with peaked attention amplify quantization error; measured: Q8_0 2e-2, Q5 0.09-0.14,
// Q4 0.1-0.21, Q6_K 2e-2): F32/F16 1e-5 (same fp16 values), BF16/8-bit 5e-2, 5-6 bit 3e-1, 4-bit 5e-1,
// fewer bits 1.5 (only "ran and is finite").
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/safetensors/safetensors.h"
#include "models/vision/clip.h"
#include "models/vision/convert_vision.h"
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
  double m = 0, e = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    m = std::max(m, double(std::fabs(want[i])));
    e = std::max(e, double(std::fabs(got[i] - want[i])));
    if (!std::isfinite(got[i])) return 1e30;
  }
  return e / m;
}

double bound(GgmlType t) {
  const auto& info = ggml_type_info(t);
  double bpw = 8.0 * info.type_size / info.block_size;
  if (t == GgmlType::F32 || t == GgmlType::F16) return 1e-5;
  if (bpw >= 8) return 5e-2;
  if (bpw >= 5) return 3e-1;
  if (bpw >= 4) return 5e-1;
  return 1.5;
}

std::vector<GgmlType> quantizable(KernelContext& ctx) {
  std::vector<GgmlType> out;
  for (const auto& ti : kGgmlTypes) {
    try {
      const auto& tr = ctx.traits(ti.type);
      if (tr.supported && tr.vec_dot && (tr.from_float_ref || tr.quantize_rows)) out.push_back(ti.type);
    } catch (const Error&) {
    }
  }
  return out;
}
}  // namespace

TEST(VisionGguf, EveryWeightTypeRunsWithinItsBound) {
  KernelContext ctx;
  auto types = quantizable(ctx);
  ASSERT_GE(types.size(), 5u);
  std::string dir = testing::TempDir();
  auto vit_px = ref("vit", "pixel_values_image"), vit_logits = ref("vit", "logits_image");
  auto clip_px = ref("clip", "pixel_values_image"), clip_emb = ref("clip", "image_embeds_image");
  auto text_emb = ref("clip", "text_embeds");
  std::vector<int64_t> ids = {49406, 320, 1125, 539, 320, 2368, 49407};
  for (GgmlType t : types) {
    std::string name(ggml_type_info(t).name);
    // IQ1..IQ3 and TQ types reach only the patch embeddings here (everything else takes their Q4_0 /
    // IQ4_NL fallback, tested on its own): skipped to keep the sanitizer run short unless PJ_VISION_ALL_TYPES.
    const bool low_iq = t == GgmlType::IQ1_S || t == GgmlType::IQ1_M || t == GgmlType::IQ2_XXS ||
                        t == GgmlType::IQ2_XS || t == GgmlType::IQ2_S || t == GgmlType::IQ3_XXS ||
                        t == GgmlType::IQ3_S || t == GgmlType::TQ1_0 || t == GgmlType::TQ2_0;
    if (low_iq && !std::getenv("PJ_VISION_ALL_TYPES")) continue;
    std::string vp = dir + "/pj_vit_" + name + ".gguf", cp = dir + "/pj_clip_" + name + ".gguf";
    int fv = 0, fc = 0;
    try {
      fv = write_vision_gguf(ctx, kFix + "vit", vp, t, "vit-fixture");
      fc = write_vision_gguf(ctx, kFix + "clip", cp, t, "clip-fixture");
    } catch (const Error& e) {
      if (std::string(e.what()).find("importance matrix") == std::string::npos) throw;
      std::printf("%-8s skipped: needs an importance matrix\n", name.c_str());
      continue;
    }
    VitModel vit(VisionWeights::open(vp));
    double ev = rel_err(vit.logits(ctx, vit_px), vit_logits);
    ClipModel clip(VisionWeights::open(cp));
    double ec = rel_err(clip.image_embeds(ctx, clip_px), clip_emb);
    auto te = clip.text_embeds(ctx, ids);
    double et = rel_err(te, std::vector<float>(text_emb.begin(), text_emb.begin() + 32));
    std::printf("%-8s vit logits %.2e  clip image %.2e  text %.2e  (fallbacks: vit %d, clip %d)\n", name.c_str(),
                ev, ec, et, fv, fc);
    EXPECT_LT(ev, bound(t)) << name;
    EXPECT_LT(ec, bound(t)) << name;
    EXPECT_LT(et, bound(t)) << name;
    // The GGUF carries the pre-processing too.
    EXPECT_EQ(vit.preprocess().filter, image::Filter::bilinear);
    EXPECT_EQ(clip.preprocess().mode, Preprocess::Mode::shortest_edge_crop);
    std::remove(vp.c_str());
    std::remove(cp.c_str());
  }
}

// `pajamas quantize` of vision models (quantize_vision_model): from a folder, from a GGUF of it, YOLO from
// its state_dict; an already quantized input is refused unless allow_requantize; is_vision_model says
// which inputs it takes. Outputs against the references with the same bounds as above.
TEST(VisionGguf, QuantizeVisionModels) {
  KernelContext ctx;
  const std::string dir = testing::TempDir();
  const std::string f16 = dir + "/pj_q_vit_f16.gguf", q4 = dir + "/pj_q_vit_q4_0.gguf", q8 = dir + "/pj_q_vit_q8.gguf";
  EXPECT_TRUE(is_vision_model(kFix + "vit"));
  EXPECT_TRUE(is_vision_model(kFix + "clip"));
  EXPECT_TRUE(is_vision_model(std::string(PJ_SOURCE_DIR) + "/tests/fixtures_yolo/model.safetensors"));
  EXPECT_FALSE(is_vision_model(std::string(PJ_SHARED_DIR) + "/data/images/dog.jpg"));
  std::string line = quantize_vision_model(kFix + "vit", f16, GgmlType::F16, false);
  std::printf("%s\n", line.c_str());
  EXPECT_TRUE(is_vision_model(f16));
  line = quantize_vision_model(f16, q4, GgmlType::Q4_0, false);  // GGUF -> GGUF keeps config and preprocessing
  std::printf("%s\n", line.c_str());
  EXPECT_NE(line.find("Q4_0"), std::string::npos);
  VitModel vit(VisionWeights::open(q4));
  EXPECT_LT(rel_err(vit.logits(ctx, ref("vit", "pixel_values_image")), ref("vit", "logits_image")), bound(GgmlType::Q4_0));
  EXPECT_EQ(vit.preprocess().filter, image::Filter::bilinear);
  EXPECT_THROW(quantize_vision_model(q4, q8, GgmlType::Q8_0, false), Error);  // already quantized
  EXPECT_NO_THROW(quantize_vision_model(q4, q8, GgmlType::Q8_0, true));
  // CLIP from its folder to a K-quant (patch embedding in Q4_K, the 64/128-wide rows in Q5_0).
  const std::string cq = dir + "/pj_q_clip_q4_k.gguf";
  line = quantize_vision_model(kFix + "clip", cq, GgmlType::Q4_K, false);
  std::printf("%s\n", line.c_str());
  EXPECT_NE(line.find("Q4_K"), std::string::npos);
  EXPECT_NE(line.find("Q5_0"), std::string::npos);
  ClipModel clip(VisionWeights::open(cq));
  EXPECT_LT(rel_err(clip.image_embeds(ctx, ref("clip", "pixel_values_image")), ref("clip", "image_embeds_image")),
            bound(GgmlType::Q4_K));
  // YOLO from its state_dict.
  const std::string yq = dir + "/pj_q_yolo_q5_k.gguf";
  line = quantize_vision_model(std::string(PJ_SOURCE_DIR) + "/tests/fixtures_yolo/model.safetensors", yq, GgmlType::Q5_K, false);
  std::printf("%s\n", line.c_str());
  EXPECT_NE(line.find("yolov8"), std::string::npos);
  EXPECT_TRUE(is_vision_model(yq));
  EXPECT_THROW(quantize_vision_model(kFix + "vit/config.json", q8, GgmlType::Q8_0, false), Error);
  for (const auto& p : {f16, q4, q8, cq, yq}) std::remove(p.c_str());
}
