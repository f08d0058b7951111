// Importance matrices, perplexity and KL divergence: the collector's arithmetic and filters, both file
// formats written and read back (raw and averaged, as llama-quantize reads them), merging, the
// statistics, chunk planning and its refusal, the .kld format, the calibration registry, and an end-to-
// end run on the llama fixture (tests/python/test_imatrix_vs_llamacpp.py compares with llama.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "core/base/error.h"
#include "core/gguf/gguf.h"
#include "core/hf/hf_folder.h"
#include "core/kernels/context.h"
#include "models/convert/convert_llm.h"
#include "models/imatrix/calibration.h"
#include "models/imatrix/chunks.h"
#include "models/imatrix/collector.h"
#include "models/imatrix/driver.h"
#include "models/imatrix/perplexity.h"
#include "models/imatrix/statistics.h"
#include "models/llm/model.h"
#include "models/quantize/imatrix_io.h"
#include "models/tokenizer/hf_tokenizer.h"

namespace fs = std::filesystem;
using namespace pj;

namespace {

std::string tmp(const std::string& name) { return (fs::temp_directory_path() / ("pj_imatrix_" + name)).string(); }

std::vector<float> random_rows(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(size_t(n * k));
  for (float& v : x) v = d(rng);
  return x;
}

quantize::RawImatrix sample_matrix() {
  imatrix::Collector c(32, false);
  auto x = random_rows(32, 8, 1), y = random_rows(64, 16, 2);
  c.observe("blk.0.attn_q.weight", x.data(), 32, 8);
  c.observe("blk.0.ffn_down.weight", y.data(), 64, 16);
  c.observe("blk.1.attn_q.weight", x.data(), 32, 8);
  c.add_dataset("sample.txt");
  return c.data();
}

}  // namespace

TEST(Collector, SumsSquaresPerColumnAndCountsRows) {
  imatrix::Collector c(16, false);
  const int64_t n = 20, k = 5;
  auto x = random_rows(n, k, 7);
  c.observe("blk.3.ffn_up.weight", x.data(), n, k);
  c.observe("blk.3.ffn_up.weight", x.data(), n, k);
  const auto& m = c.data();
  ASSERT_EQ(m.entries.size(), 1u);
  const auto& e = m.entries.at("blk.3.ffn_up.weight");
  ASSERT_EQ(e.counts, std::vector<int64_t>{2 * n});
  for (int64_t j = 0; j < k; ++j) {
    double want = 0;
    for (int64_t r = 0; r < n; ++r) want += double(x[size_t(r * k + j)]) * x[size_t(r * k + j)];
    EXPECT_NEAR(e.sums[size_t(j)], 2 * want, 1e-5 * 2 * want);
  }
  EXPECT_EQ(m.chunk_count, 2 * n / 16);
}

TEST(Collector, FiltersLikeLlamaCpp) {
  auto x = random_rows(16, 4, 3);
  imatrix::Collector c(16, false);
  c.observe("output.weight", x.data(), 16, 4);       // only with --process-output
  c.observe("token_embd.weight", x.data(), 16, 4);   // never (tied output)
  c.observe("blk.0.attn_k.weight", x.data(), 15, 4); // fewer than 16 rows: ignored
  EXPECT_TRUE(c.data().entries.empty());
  imatrix::Collector o(16, true);
  o.observe("output.weight", x.data(), 16, 4);
  EXPECT_EQ(o.data().entries.count("output.weight"), 1u);
  std::vector<float> bad(64, 0.0f);
  bad[5] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(o.observe("blk.0.attn_q.weight", bad.data(), 16, 4), Error);
  auto y = random_rows(16, 5, 4);
  o.observe("blk.1.attn_q.weight", x.data(), 16, 4);
  EXPECT_THROW(o.observe("blk.1.attn_q.weight", y.data(), 16, 5), Error);  // width changed
}

TEST(ImatrixIo, GgufRoundTripIsExact) {
  const auto m = sample_matrix();
  const std::string p = tmp("rt.gguf");
  quantize::write_imatrix_gguf(p, m);
  const auto r = quantize::read_imatrix_raw(p, 0);
  EXPECT_EQ(r.chunk_size, 32);
  EXPECT_EQ(r.chunk_count, m.chunk_count);
  EXPECT_EQ(r.datasets, m.datasets);
  ASSERT_EQ(r.entries.size(), m.entries.size());
  for (const auto& [name, e] : m.entries) {
    EXPECT_EQ(r.entries.at(name).sums, e.sums) << name;
    EXPECT_EQ(r.entries.at(name).counts, e.counts) << name;
  }
  // The layout llama.cpp writes: general.type, [ne0, n_mat] sums and [1, n_mat] counts.
  const auto f = gguf::File::open(p);
  EXPECT_EQ(f.get_string("general.type"), "imatrix");
  EXPECT_EQ(f.get_u32("imatrix.chunk_size"), 32u);
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight.in_sum2").shape, (std::vector<uint64_t>{16, 1}));
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight.counts").shape, (std::vector<uint64_t>{1, 1}));
  // What the quantizer sees: sums / count.
  const auto q = quantize::read_imatrix(p);
  const auto& e = m.entries.at("blk.0.ffn_down.weight");
  for (size_t j = 0; j < e.sums.size(); ++j)
    EXPECT_FLOAT_EQ(q.weights.at("blk.0.ffn_down.weight")[j], e.sums[j] / float(e.counts[0]));
  fs::remove(p);
}

TEST(ImatrixIo, DatStoresAveragesTimesCalls) {
  const auto m = sample_matrix();
  const std::string p = tmp("rt.dat");
  quantize::write_imatrix_dat(p, m);
  // The quantizer's view is the average; the raw view is rebuilt with the reader's chunk size.
  const auto q = quantize::read_imatrix(p);
  EXPECT_TRUE(q.legacy);
  EXPECT_EQ(q.chunk_count, m.chunk_count);
  ASSERT_EQ(q.datasets.size(), 1u);
  EXPECT_EQ(q.datasets[0], "sample.txt");
  for (const auto& [name, e] : m.entries)
    for (size_t j = 0; j < e.sums.size(); ++j)
      EXPECT_NEAR(q.weights.at(name)[j], e.sums[j] / float(e.counts[0]), 1e-6 * (1 + e.sums[j]));
  const auto r = quantize::read_imatrix_raw(p, 32);
  const auto& e = m.entries.at("blk.0.ffn_down.weight");  // 64 rows = 2 calls of 32
  EXPECT_EQ(r.entries.at("blk.0.ffn_down.weight").counts, std::vector<int64_t>{64});
  for (size_t j = 0; j < e.sums.size(); ++j)
    EXPECT_NEAR(r.entries.at("blk.0.ffn_down.weight").sums[j], e.sums[j], 1e-5 * e.sums[j]);
  EXPECT_THROW(quantize::read_imatrix_raw(p, 0), Error);  // a .dat needs the chunk size
  fs::remove(p);
}

TEST(ImatrixIo, MergeAddsSumsAndCounts) {
  auto a = sample_matrix();
  const auto b = sample_matrix();
  quantize::merge_imatrix(a, b, "b");
  const auto& e = a.entries.at("blk.0.attn_q.weight");
  const auto& eb = b.entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(e.counts[0], 2 * eb.counts[0]);
  for (size_t j = 0; j < e.sums.size(); ++j) EXPECT_FLOAT_EQ(e.sums[j], 2 * eb.sums[j]);
  EXPECT_EQ(a.chunk_count, 4);  // 128 rows of ffn_down / 32
  EXPECT_EQ(a.datasets.size(), 2u);
  quantize::RawImatrix bad;
  bad.entries["blk.0.attn_q.weight"] = {std::vector<float>(3, 1.0f), {16}};
  EXPECT_THROW(quantize::merge_imatrix(a, bad, "bad"), Error);
}

TEST(ImatrixIo, RejectsMalformedFiles) {
  const std::string p = tmp("bad.dat");
  {
    std::ofstream f(p, std::ios::binary);
    const int32_t n = 1, len = 1000;
    f.write(reinterpret_cast<const char*>(&n), 4);
    f.write(reinterpret_cast<const char*>(&len), 4);
  }
  EXPECT_THROW(quantize::read_imatrix_raw(p, 512), Error);
  fs::remove(p);
  EXPECT_THROW(quantize::read_imatrix_raw(tmp("missing.gguf"), 512), Error);
}

TEST(Statistics, MatchHandComputedValues) {
  quantize::RawImatrix m;
  // blk.0: uniform importance 2 over 4 columns; blk.1: same direction (cosine 1), scaled.
  m.entries["blk.0.attn_q.weight"] = {{8, 8, 8, 8}, {4}};
  m.entries["blk.1.attn_q.weight"] = {{16, 16, 16, 16}, {4}};
  m.entries["blk.1.ffn_down.weight"] = {{4, 0, 0, 0}, {1}};
  const auto ts = imatrix::tensor_statistics(m);
  ASSERT_EQ(ts.size(), 3u);
  // sorted by kind, then decreasing total: attn_q (blk.1 total 16, blk.0 total 8), ffn_down
  EXPECT_EQ(ts[0].tensor, "blk.1.attn_q.weight");
  EXPECT_FLOAT_EQ(ts[0].total, 16);
  EXPECT_FLOAT_EQ(ts[0].mean, 4);
  EXPECT_FLOAT_EQ(ts[0].stddev, 0);
  EXPECT_FLOAT_EQ(ts[0].entropy, 2);  // log2(4): uniform
  EXPECT_FLOAT_EQ(ts[0].entropy_norm(), 100);
  EXPECT_NEAR(ts[0].cossim, 1.0f, 1e-6);
  EXPECT_EQ(ts[1].layer, "0");
  EXPECT_FLOAT_EQ(ts[1].cossim, 0);  // no layer -1
  EXPECT_EQ(ts[2].kind, "ffn_down");
  EXPECT_FLOAT_EQ(ts[2].active, 0.25f);
  EXPECT_FLOAT_EQ(ts[2].entropy, 0);
  EXPECT_FLOAT_EQ(ts[2].zd, 0.25f);  // one column more than one sd above the mean
  const auto ls = imatrix::layer_statistics(ts);
  ASSERT_EQ(ls.size(), 2u);
  EXPECT_FLOAT_EQ(ls[1].mean_total, (4 * 16 + 4 * 4) / 8.0f);
}

TEST(Chunks, PlanSubstitutesBosAndRefusesShortText) {
  std::vector<int32_t> t(100);
  std::iota(t.begin(), t.end(), 0);
  const auto p = imatrix::plan_chunks(t, 32, -1, 7, "x");
  EXPECT_EQ(p.n_chunk, 3);
  EXPECT_EQ(p.chunk(1)[0], 7);
  EXPECT_EQ(p.chunk(1)[1], 33);
  EXPECT_EQ(imatrix::plan_chunks(t, 32, 2, -1, "x").chunk(1)[0], 32);
  try {
    imatrix::plan_chunks(t, 32, 4, -1, "imatrix: medical");
    FAIL() << "no refusal";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("medical"), std::string::npos) << msg;
    EXPECT_NE(msg.find("100 tokens"), std::string::npos) << msg;
    EXPECT_NE(msg.find("128"), std::string::npos) << msg;
  }
  EXPECT_THROW(imatrix::plan_chunks(t, 64, -1, -1, "x"), Error);  // llama.cpp needs 2 * n_ctx
}

TEST(Perplexity, NllAndKldFileRoundTrip) {
  const int64_t V = 37, n_ctx = 16, n_chunk = 2;
  std::vector<int32_t> tokens(size_t(n_ctx * n_chunk));
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t((i * 7) % V);
  auto logits = random_rows(n_ctx, V, 9);
  for (float& l : logits) l *= 3;
  // nll against a double-precision log-softmax
  const double want = [&] {
    double mx = -1e30, s = 0;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, double(logits[size_t(i)]));
    for (int64_t i = 0; i < V; ++i) s += std::exp(double(logits[size_t(i)]) - mx);
    return -(double(logits[5]) - mx - std::log(s));
  }();
  EXPECT_NEAR(imatrix::nll_of(logits.data(), V, 5), want, 1e-5);

  const std::string p = tmp("base.kld");
  imatrix::Perplexity ppl;
  {
    imatrix::KldBaseWriter w(p, n_ctx, V, n_chunk, tokens);
    for (int64_t c = 0; c < n_chunk; ++c)
      w.add_chunk(logits.data(), std::vector<int32_t>(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx), ppl);
    w.commit();
  }
  EXPECT_EQ(ppl.count, n_chunk * (n_ctx - 1 - n_ctx / 2));
  const imatrix::KldBase b(p);
  EXPECT_EQ(b.n_ctx(), n_ctx);
  EXPECT_EQ(b.tokens(), tokens);
  // The same logits against themselves: KLD ~ 0 (16-bit log-probabilities), same top token always,
  // and the stored log-probabilities within half a quantization step of the true ones.
  imatrix::KldStats st;
  for (int64_t c = 0; c < n_chunk; ++c)
    for (int64_t i = n_ctx / 2; i < n_ctx - 1; ++i)
      st.add(logits.data() + i * V, V, b.row(c, i - n_ctx / 2), tokens[size_t(c * n_ctx + i + 1)]);
  st.finalize();
  EXPECT_EQ(st.n_same_top, st.count);
  // 16-bit storage keeps each log-probability to (max - min) / 65535 <= 2.4e-4 nats; the KLD it leaves
  // is second order in that step (~1e-6 here), against ~1e-2 for a 4-bit quantization.
  EXPECT_LT(std::fabs(st.kld().value), 1e-5);
  EXPECT_NEAR(st.ppl().value, ppl.ppl(), 1e-3 * ppl.ppl());
  EXPECT_NEAR(st.ppl_base().value, ppl.ppl(), 1e-3 * ppl.ppl());
  // A truncated file is refused with its expected size.
  fs::resize_file(p, fs::file_size(p) - 2);
  EXPECT_THROW(imatrix::KldBase{p}, Error);
  fs::remove(p);
}

TEST(Calibration, SamplesAndEmbeddedSetsMatchTheFiles) {
  const auto s = imatrix::split_samples("a\nb\n=== sample ===\n\n c \n=== sample ===\n=== sample ===\nd");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], "a\nb");
  EXPECT_EQ(s[1], "c");
  EXPECT_EQ(imatrix::join_samples(s), "a\nb\n\nc\n\nd");
  // Every text under data/calibration is compiled in, byte for byte.
  const fs::path dir = fs::path(PJ_SOURCE_DIR) / "data" / "calibration";
  const auto sets = imatrix::calibration_sets();
  size_t n_files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".txt") continue;
    ++n_files;
    const bool held = e.path().parent_path().filename() == "heldout";
    const std::string name = e.path().stem().string();
    auto it = std::find_if(sets.begin(), sets.end(), [&](const auto& x) { return x.name == name; });
    ASSERT_NE(it, sets.end()) << name;
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_EQ(held ? it->heldout : it->calibration, ss.str()) << e.path();
  }
  EXPECT_GT(n_files, 0u);
  EXPECT_THROW(imatrix::resolve_calibration("no_such_domain", false), Error);
}

TEST(EndToEnd, LlamaFixtureCollectsEveryBlockMatmul) {
  const std::string dir = std::string(PJ_SHARED_DIR) + "/fixtures/llama";
  auto folder = hf::open_folder(dir);
  gguf::Writer w;
  convert::ConvertOptions co;
  co.out_type = GgmlType::F32;
  convert::add_llm(folder, co, w);
  const std::string path = tmp("llama.gguf");
  w.write(path);
  auto model = llm::LlmModel::load(path);
  const tok::Tokenizer tk = tok::load_hf_tokenizer(dir);
  KernelContext kctx(KernelContext::Options{});
  imatrix::ImatrixRequest r;
  std::string text;
  for (int i = 0; i < 40; ++i) text += "The quick brown fox jumps over the lazy dog, sentence " + std::to_string(i) + ". ";
  r.text = text;
  r.dataset = "fox";
  r.n_ctx = 32;
  r.n_chunks = 3;
  r.progress = false;
  const auto res = imatrix::compute_imatrix(*model, tk, kctx, r);
  EXPECT_EQ(res.n_chunk, 3);
  const auto& m = res.matrix;
  const int n_layer = int(model->hparams().n_layer);
  EXPECT_EQ(m.entries.size(), size_t(7 * n_layer));  // q k v o gate up down per layer; no output
  for (const auto& [name, e] : m.entries) {
    EXPECT_EQ(e.counts, std::vector<int64_t>{96}) << name;
    for (float s : e.sums) EXPECT_GT(s, 0.0f) << name;
  }
  EXPECT_EQ(m.chunk_count, 3);
  // q, k and v see the same normalised input, as do gate and up.
  for (int l = 0; l < n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(m.entries.at(b + "attn_q.weight").sums, m.entries.at(b + "attn_k.weight").sums);
    EXPECT_EQ(m.entries.at(b + "attn_q.weight").sums, m.entries.at(b + "attn_v.weight").sums);
    EXPECT_EQ(m.entries.at(b + "ffn_gate.weight").sums, m.entries.at(b + "ffn_up.weight").sums);
  }
  EXPECT_GT(res.ppl, 1.0);
  // --process-output adds the (untied) output weight; its width is n_embd.
  r.process_output = true;
  r.compute_ppl = false;
  const auto res2 = imatrix::compute_imatrix(*model, tk, kctx, r);
  ASSERT_EQ(res2.matrix.entries.count("output.weight"), 1u);
  EXPECT_EQ(res2.matrix.entries.at("output.weight").sums.size(), size_t(model->hparams().n_embd));
  // Too short a text for the requested chunks is refused before any work.
  r.n_chunks = 1000;
  EXPECT_THROW(imatrix::compute_imatrix(*model, tk, kctx, r), Error);
  fs::remove(path);
}
