// Quantized Whisper (quantize.h): every weight type on the fixture, against transformers' float64
// logits, and the tensor-type rule.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/safetensors/safetensors.h"
#include "models/whisper/model.h"
#include "models/whisper/quantize.h"

namespace {

using namespace pj;
using namespace pj::whisper;
namespace fs = std::filesystem;
const std::string kFixture = std::string(PJ_SHARED_DIR) + "/fixtures/whisper";

std::vector<float> ref_tensor(const safetensors::File& f, const char* name) {
  const auto& t = f.get(name);
  std::vector<float> v(t.n_elements());
  safetensors::to_f32(t, 0, v.size(), v.data());
  return v;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("pj_whisper_quant_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(WhisperQuant, TypeRule) {
  EXPECT_EQ(weight_type_for(GgmlType::Q8_0, 384), GgmlType::Q8_0);
  EXPECT_EQ(weight_type_for(GgmlType::Q4_K, 384), GgmlType::Q5_0);  // 384 is not whole 256-blocks
  EXPECT_EQ(weight_type_for(GgmlType::Q4_K, 1536), GgmlType::Q4_K);
  EXPECT_EQ(weight_type_for(GgmlType::Q5_K, 384), GgmlType::Q5_1);
  EXPECT_EQ(weight_type_for(GgmlType::Q6_K, 64), GgmlType::Q8_0);
  EXPECT_EQ(weight_type_for(GgmlType::Q3_K, 64), GgmlType::IQ4_NL);
  EXPECT_EQ(weight_type_for(GgmlType::Q4_0, 48), GgmlType::F16);  // nothing with 32-blocks fits
  EXPECT_EQ(parse_whisper_type("q4_k_m"), GgmlType::Q4_K);
  EXPECT_EQ(parse_whisper_type("Q5_0"), GgmlType::Q5_0);
  EXPECT_THROW(parse_whisper_type("IQ2_XXS"), Error);
  EXPECT_THROW(parse_whisper_type("Q4_Z"), Error);
}

// The fixture's logits (decoder_input_ids after the encoder on input_features) per type: max abs error
// over the largest reference logit. The bounds are the measured errors (printed) with about 2x headroom
// (the kernels differ per ISA; AVX2 and scalar quantize activations the same way): the fixture is a
// random model, whose activations are not as smooth as trained ones, and every matmul of a quantized
// type also rounds its activations to 8 bits, so errors compound over its 4 layers; real weights are
// judged by word error rate (tests/python/test_whisper_quant.py). A wrong block layout or a tensor bound
// with the wrong type gives errors of order 1 and more. The F16 file holds the source's stored F16
// weights: f32 rounding only.
TEST(WhisperQuant, FixtureLogitsPerType) {
  const auto ref = safetensors::File::open(kFixture + "/reference.safetensors");
  const auto feats = ref_tensor(ref, "input_features");
  const auto want = ref_tensor(ref, "logits");
  const auto ids_f = ref_tensor(ref, "decoder_input_ids");
  const std::vector<int32_t> ids(ids_f.begin(), ids_f.end());
  double max_ref = 0;
  for (float v : want) max_ref = std::max(max_ref, double(std::fabs(v)));
  struct Case {
    GgmlType type;
    double bound;
  };
  // measured (this machine, AVX-512): F16 1.9e-7, Q8_0 0.020, Q6_K 0.027 (Q8_0 on the 64-wide rows),
  // Q5_0 0.089, Q5_1 0.093, Q5_K 0.098, Q4_K 0.103 (Q5_0 on 64-wide rows), Q4_1 0.17, Q4_0 0.19, IQ4_NL 0.25,
  // BF16 0.0053 (8-bit mantissas of the F16 source), IQ4_XS 0.22 and Q3_K 0.22 (IQ4_NL on 64-wide rows),
  // Q2_K 0.46 (its ffn_down weights at 2.6 bits)
  const Case cases[] = {{GgmlType::F16, 1e-5},  {GgmlType::Q8_0, 0.04}, {GgmlType::Q6_K, 0.05},
                        {GgmlType::Q5_1, 0.18}, {GgmlType::Q5_0, 0.18}, {GgmlType::Q5_K, 0.18},
                        {GgmlType::Q4_1, 0.35}, {GgmlType::Q4_0, 0.35}, {GgmlType::Q4_K, 0.2},
                        {GgmlType::IQ4_NL, 0.45}, {GgmlType::BF16, 0.012}, {GgmlType::IQ4_XS, 0.45},
                        {GgmlType::Q3_K, 0.45},   {GgmlType::Q2_K, 0.9}};
  TempDir dir;
  KernelContext ctx;
  for (const Case& c : cases) {
    const std::string name(ggml_type_info(c.type).name);
    const std::string out = (dir.path / (name + ".gguf")).string();
    quantize_model(kFixture, out, c.type, false);
    const Model m = Model::load(out);
    // the rule: attention (rows of 64) and ffn_down (rows of 256) types
    EXPECT_EQ(m.enc[0].attn.q.w.type, weight_type_for(c.type, 64)) << name;
    EXPECT_EQ(m.dec[1].ffn_down.w.type, weight_type_for(c.type, 256)) << name;
    EXPECT_EQ(m.tok_emb.type, weight_type_for(c.type, 64)) << name;
    EXPECT_EQ(m.conv1.w.type, GgmlType::F16) << name;
    std::vector<float> enc, logits;
    encode(ctx, m, feats.data(), enc);
    CrossKv xkv;
    cross_kv(ctx, m, enc, xkv);
    DecoderCache cache;
    decode(ctx, m, xkv, cache, ids.data(), int(ids.size()), true, logits);
    ASSERT_EQ(logits.size(), want.size());
    double err = 0;
    for (size_t i = 0; i < want.size(); ++i) err = std::max(err, double(std::fabs(logits[i] - want[i])));
    err /= max_ref;
    std::printf("whisper fixture %-6s logits rel err %.3g (bound %.3g), file %.1f KiB\n", name.c_str(), err, c.bound,
                double(fs::file_size(out)) / 1024.0);
    EXPECT_LT(err, c.bound) << name;
  }
  // An already quantized file is refused unless asked for.
  const std::string q8 = (dir.path / "Q8_0.gguf").string();
  EXPECT_THROW(quantize_model(q8, (dir.path / "again.gguf").string(), GgmlType::Q4_0, false), Error);
  EXPECT_NO_THROW(quantize_model(q8, (dir.path / "again.gguf").string(), GgmlType::Q4_0, true));
}

}  // namespace
