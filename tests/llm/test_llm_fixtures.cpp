// End-to-end logits against the reference fixtures (PyTorch/transformers in float64, see
// ../shared/fixtures/README.md): each Hugging Face folder is converted to GGUF by our converter, loaded
// by our runtime and run over the reference token sequence.
//
// Tolerance: max-abs error over max-abs logit. Our F32 weights equal the stored BF16 weights exactly,
// so the only difference is float32 vs float64 arithmetic: the fixtures' README puts a correct float32
// implementation at about 1e-4; we allow 3e-4. With the default F16 KV cache, keys and values are
// rounded to 11 significant bits (relative step 2^-11 ~ 5e-4), which we allow as 3e-3.
#include "core/base/error.h"
#include "core/gguf/gguf.h"
#include "core/hf/hf_folder.h"
#include "core/kernels/context.h"
#include "core/safetensors/safetensors.h"
#include "models/convert/convert_llm.h"
#include "models/llm/model.h"
#include "models/llm/sampler.h"
#include "models/llm/session.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

const std::string kShared = PJ_SHARED_DIR;
// The references were computed by transformers from a bfloat16 model, whose RoPE inverse frequencies
// are therefore bfloat16-rounded; without reproducing that, errors grow with position (1e-2 at 50).
const pj::llm::LlmModel::LoadOptions kRef{.rope_inv_freq_bf16 = true};

std::string convert_fixture(const std::string& name, pj::GgmlType type) {
  auto folder = pj::hf::open_folder(kShared + "/fixtures/" + name);
  pj::gguf::Writer w;
  pj::convert::ConvertOptions o;
  o.out_type = type;
  pj::convert::add_llm(folder, o, w);
  std::string out = (fs::temp_directory_path() / ("pj_fixture_" + name + ".gguf")).string();
  w.write(out);
  return out;
}

struct Reference {
  std::vector<int32_t> ids;
  std::vector<float> logits;  // [T, V]
  int64_t vocab = 0;
  std::vector<int32_t> greedy;
  size_t n_prompt = 0;
};

Reference load_reference(const std::string& name) {
  Reference r;
  auto st = pj::safetensors::File::open(kShared + "/fixtures/" + name + "/reference.safetensors");
  const auto& ids = st.get("input_ids");
  std::vector<float> tmp(ids.n_elements());
  pj::safetensors::to_f32(ids, 0, ids.n_elements(), tmp.data());
  for (float f : tmp) r.ids.push_back(int32_t(f));
  const auto& lg = st.get("logits");
  r.vocab = lg.shape[1];
  r.logits.resize(lg.n_elements());
  pj::safetensors::to_f32(lg, 0, lg.n_elements(), r.logits.data());
  std::ifstream in(kShared + "/fixtures/" + name + "/reference.json");
  auto j = nlohmann::json::parse(in);
  r.n_prompt = j["prompt_ids"].size();
  for (auto& g : j["greedy_ids"]) r.greedy.push_back(g.get<int32_t>());
  return r;
}

double rel_error(const float* got, const float* want, size_t n) {
  double max_err = 0, max_ref = 0;
  for (size_t i = 0; i < n; ++i) {
    max_err = std::max(max_err, double(std::fabs(got[i] - want[i])));
    max_ref = std::max(max_ref, double(std::fabs(want[i])));
  }
  return max_err / max_ref;
}

class LlmFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(LlmFixture, FullPassMatchesReferenceLogits) {
  const std::string name = GetParam();
  const Reference ref = load_reference(name);
  const std::string path = convert_fixture(name, pj::GgmlType::F32);
  auto model = pj::llm::LlmModel::load(path, kRef);
  ASSERT_EQ(model->hparams().n_vocab, ref.vocab);
  pj::KernelContext ctx;
  auto st = pj::safetensors::File::open(kShared + "/fixtures/" + name + "/reference.safetensors");
  const int64_t n_layer = model->hparams().n_layer;
  auto on_hidden = [&](int64_t layer, const float* x, int64_t n) {
    // the reference's last hidden state is after the final norm: compare the ones before it
    if (layer >= n_layer) return;
    const auto& h = st.get("hidden_" + std::to_string(layer));
    std::vector<float> want(h.n_elements());
    pj::safetensors::to_f32(h, 0, h.n_elements(), want.data());
    ASSERT_EQ(want.size(), size_t(n * model->hparams().n_embd));
    EXPECT_LT(rel_error(x, want.data(), want.size()), 3e-4) << name << ": hidden_" << layer;
  };
  pj::llm::LlmSession s(*model, ctx, {.n_ctx = 256, .kv_type = pj::ops::KvType::f32, .on_hidden = on_hidden});
  auto logits = s.decode(ref.ids, /*all_logits=*/true);
  ASSERT_EQ(logits.size(), ref.logits.size());
  double err = rel_error(logits.data(), ref.logits.data(), logits.size());
  RecordProperty("rel_error", std::to_string(err));
  std::printf("%s: F32 full-pass logits rel. error %.3g\n", name.c_str(), err);
  // Gemma's GeGLU is computed as llama.cpp does (gelu from ggml's F16 table: input and output rounded
  // to F16, 2^-11 relative each), which transformers does not: measured 1.2e-4 (gemma2), 7e-5 (gemma3).
  const double bound = name.rfind("gemma", 0) == 0 ? 3e-4 : 1e-4;
  EXPECT_LT(err, bound) << name << ": full pass, F32 KV cache";
  const std::vector<float> full(logits.begin(), logits.end());

  // The incremental path (one token at a time through an F32 KV cache) gives the same logits: only the
  // order of float additions differs (batched vs single-row matmul, softmax over a growing prefix).
  pj::llm::LlmSession inc(*model, ctx, {.n_ctx = 256, .kv_type = pj::ops::KvType::f32});
  double worst = 0;
  for (size_t t = 0; t < ref.ids.size(); ++t) {
    auto l = inc.decode({&ref.ids[t], 1});
    worst = std::max(worst, rel_error(l.data(), full.data() + t * ref.vocab, size_t(ref.vocab)));
  }
  std::printf("%s: incremental vs full pass rel. difference %.3g\n", name.c_str(), worst);
  EXPECT_LT(worst, 1e-5) << name << ": incremental vs full";
  std::remove(path.c_str());
}

TEST_P(LlmFixture, IncrementalDecodeWithF16CacheMatchesAndGreedyAgrees) {
  const std::string name = GetParam();
  const Reference ref = load_reference(name);
  const std::string path = convert_fixture(name, pj::GgmlType::F32);
  auto model = pj::llm::LlmModel::load(path, kRef);
  pj::KernelContext ctx;
  pj::llm::LlmSession s(*model, ctx, {.n_ctx = 256});
  // prompt in one batch, then one token at a time through the KV cache
  std::vector<int32_t> prompt(ref.ids.begin(), ref.ids.begin() + ref.n_prompt);
  auto last = s.decode(prompt, true);
  double worst = rel_error(last.data(), ref.logits.data(), last.size());
  for (size_t t = ref.n_prompt; t < ref.ids.size(); ++t) {
    int32_t tok = ref.ids[t];
    auto l = s.decode({&tok, 1});
    worst = std::max(worst, rel_error(l.data(), ref.logits.data() + t * ref.vocab, size_t(ref.vocab)));
  }
  EXPECT_LT(worst, 3e-3) << name << ": incremental, F16 KV cache";

  // greedy generation from the prompt reproduces the reference continuation
  pj::llm::LlmSession g(*model, ctx, {.n_ctx = 256, .kv_type = pj::ops::KvType::f32});
  auto l = g.decode(prompt);
  std::vector<int32_t> out(prompt);
  while (out.size() < ref.greedy.size()) {
    int32_t next = pj::llm::argmax(l.data(), int32_t(l.size()));
    out.push_back(next);
    l = g.decode({&next, 1});
  }
  EXPECT_EQ(out, ref.greedy) << name;
  std::remove(path.c_str());
}

TEST_P(LlmFixture, Bf16AndF16WeightsStayClose) {
  // F16 weights: the BF16 source values fit F16's mantissa, only values below 2^-14 lose bits, and
  // activations stay F32: measured ~1e-6, allowed 3e-3 (the issue asks for 5e-3).
  // BF16 weights are exact, but the BF16 kernels round the activations to BF16 as llama.cpp does
  // (8 significant bits, 2^-9 ~ 2e-3 per element, compounding over 2 layers and 3 matmuls each):
  // measured 0.7e-2 to 1.4e-2 on these fixtures, allowed 3e-2.
  const std::string name = GetParam();
  const Reference ref = load_reference(name);
  for (auto type : {pj::GgmlType::BF16, pj::GgmlType::F16, pj::GgmlType::Q8_0}) {
    const std::string path = convert_fixture(name, type);
    auto model = pj::llm::LlmModel::load(path, kRef);
    pj::KernelContext ctx;
    pj::llm::LlmSession s(*model, ctx, {.n_ctx = 256, .kv_type = pj::ops::KvType::f32});
    auto logits = s.decode(ref.ids, true);
    // Q8_0: weights and activations both rounded to 8 bits per 32-block (relative RMS error ~0.4% each).
    // These random fixtures (initializer_range 0.1, peaked attention) amplify that: measured 0.8e-2 to
    // 9e-2 across the six, allowed 0.15. The tight check of Q8_0 is against llama.cpp on the same file
    // (tests/python/test_llm_vs_llamacpp.py).
    const double tol = type == pj::GgmlType::BF16 ? 3e-2 : type == pj::GgmlType::Q8_0 ? 0.15 : 3e-3;
    const double err = rel_error(logits.data(), ref.logits.data(), logits.size());
    std::printf("%s %s: rel. error %.3g\n", name.c_str(), pj::ggml_type_info(type).name.data(), err);
    EXPECT_LT(err, tol)
        << name << " " << pj::ggml_type_info(type).name;
    std::remove(path.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlmFixture,
                         ::testing::Values("llama", "qwen2", "qwen3", "mistral", "gemma2", "gemma3"));

}  // namespace
