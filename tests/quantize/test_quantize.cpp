// The quantize component: file-type table, llama.cpp's per-tensor rules on a model of known shape,
// imatrix reading (both formats), and the driver's errors and output on small synthetic GGUFs.
// Byte-for-byte agreement with llama.cpp is judged in tests/python/test_quantize_vs_llamacpp.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/base/error.h"
#include "core/gguf/gguf.h"
#include "models/quantize/file_types.h"
#include "models/quantize/imatrix_io.h"
#include "models/quantize/quantize.h"

namespace pj::quantize {
namespace {

namespace fs = std::filesystem;
using G = GgmlType;

fs::path tmp_dir() {
  fs::path p = fs::temp_directory_path() / ("pj_quantize_test_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}

std::vector<std::string> layer_names(int n_layer, bool with_output) {
  std::vector<std::string> names = {"token_embd.weight", "output_norm.weight"};
  if (with_output) names.push_back("output.weight");
  for (int i = 0; i < n_layer; ++i)
    for (const char* t : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "attn_norm"})
      names.push_back("blk." + std::to_string(i) + "." + t + ".weight");
  return tensor_order(names);
}

// Types chosen for every tensor of a 16-layer llama-like model (n_embd 512, GQA 4) in llama.cpp's
// order. Returns name -> type.
std::map<std::string, G> choose_all(FileType ft, ModelInfo m, bool with_output, Options o = {}) {
  o.ftype = ft;
  const auto names = layer_names(m.n_layer, with_output);
  TypeChooser c(m, o, names);
  std::map<std::string, G> out;
  for (const auto& n : names) {
    const bool norm = n.find("_norm") != std::string::npos;
    const std::vector<uint64_t> ne = norm ? std::vector<uint64_t>{512} : std::vector<uint64_t>{512, 512};
    out[n] = c.choose(n, G::F32, ne);
  }
  return out;
}

ModelInfo llama16(int n_head_kv = 2) { return ModelInfo{"llama", 16, 8, n_head_kv, 0}; }

TEST(FileTypes, TableHasLlamaCppIdsAndNames) {
  EXPECT_EQ(uint32_t(find_file_type("q4_k_m")->id), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  EXPECT_EQ(uint32_t(find_file_type("Q2_K_S")->id), 21u);
  EXPECT_EQ(uint32_t(find_file_type("BF16")->id), 32u);
  EXPECT_EQ(find_file_type("Q4_K_M")->default_type, G::Q4_K);
  EXPECT_EQ(find_file_type("IQ2_M")->default_type, G::IQ2_S);
  EXPECT_EQ(find_file_type("Q7_K"), nullptr);
}

// Q4_K_M: attn_v and ffn_down get Q6_K in the first/last eighth and every third layer between
// (use_more_bits), output Q6_K, tied/untied embeddings, norms untouched.
TEST(Rules, Q4KMUsesMoreBitsByLayerPosition) {
  const auto t = choose_all(FileType::Q4_K_M, llama16(), true);
  // use_more_bits(i, 16): i < 2 || i >= 14 || (i - 2) % 3 == 2  -> layers 0 1 4 7 10 13 14 15
  for (int i = 0; i < 16; ++i) {
    const bool more = i < 2 || i >= 14 || (i - 2) % 3 == 2;
    EXPECT_EQ(t.at("blk." + std::to_string(i) + ".attn_v.weight"), more ? G::Q6_K : G::Q4_K) << i;
    EXPECT_EQ(t.at("blk." + std::to_string(i) + ".ffn_down.weight"), more ? G::Q6_K : G::Q4_K) << i;
    EXPECT_EQ(t.at("blk." + std::to_string(i) + ".attn_q.weight"), G::Q4_K);
    EXPECT_EQ(t.at("blk." + std::to_string(i) + ".attn_norm.weight"), G::F32);
  }
  EXPECT_EQ(t.at("output.weight"), G::Q6_K);
  EXPECT_EQ(t.at("token_embd.weight"), G::Q4_K);  // untied: the default type
  const auto tied = choose_all(FileType::Q4_K_M, llama16(), false);
  EXPECT_EQ(tied.at("token_embd.weight"), G::Q6_K);  // tied: quantized as the output
}

TEST(Rules, Q2KAndQ3KMixesDependOnGqaAndPosition) {
  auto t = choose_all(FileType::Q2_K, llama16(2), true);  // GQA 4
  EXPECT_EQ(t.at("blk.3.attn_v.weight"), G::Q4_K);
  EXPECT_EQ(t.at("blk.3.ffn_down.weight"), G::Q3_K);
  EXPECT_EQ(t.at("blk.3.attn_output.weight"), G::Q3_K);
  t = choose_all(FileType::Q2_K, llama16(8), true);  // no GQA
  EXPECT_EQ(t.at("blk.3.attn_v.weight"), G::Q3_K);
  t = choose_all(FileType::Q3_K_M, llama16(), true);
  EXPECT_EQ(t.at("blk.0.attn_v.weight"), G::Q5_K);  // the first two attn_v
  EXPECT_EQ(t.at("blk.1.attn_v.weight"), G::Q5_K);
  EXPECT_EQ(t.at("blk.2.attn_v.weight"), G::Q4_K);
  EXPECT_EQ(t.at("blk.0.ffn_down.weight"), G::Q5_K);  // i < n/16
  EXPECT_EQ(t.at("blk.5.ffn_down.weight"), G::Q4_K);
  EXPECT_EQ(t.at("blk.5.attn_output.weight"), G::Q4_K);
  t = choose_all(FileType::Q3_K_S, llama16(), true);
  EXPECT_EQ(t.at("blk.5.ffn_down.weight"), G::Q3_K);
}

TEST(Rules, OverridesPureAndFallbacks) {
  Options o;
  o.pure = true;
  auto t = choose_all(FileType::Q4_K_M, llama16(), true, o);
  EXPECT_EQ(t.at("blk.0.attn_v.weight"), G::Q4_K);
  EXPECT_EQ(t.at("output.weight"), G::Q4_K);
  o = {};
  o.tensor_types = {{"attn_q", G::Q8_0}};
  o.output_tensor_type = G::F16;
  o.token_embedding_type = G::Q5_0;
  t = choose_all(FileType::Q4_K_M, llama16(), true, o);
  EXPECT_EQ(t.at("blk.3.attn_q.weight"), G::Q8_0);
  EXPECT_EQ(t.at("output.weight"), G::F16);
  EXPECT_EQ(t.at("token_embd.weight"), G::Q5_0);
  o = {};
  o.quantize_output = false;
  t = choose_all(FileType::Q4_K_M, llama16(), true, o);
  EXPECT_EQ(t.at("output.weight"), G::F32);  // --leave-output-tensor

  // Rows not a multiple of 256: K types fall back to 32-element types, then F16.
  Options q;
  q.ftype = FileType::Q4_K_S;
  TypeChooser c(llama16(), q, {"blk.0.ffn_up.weight", "blk.0.ffn_down.weight", "blk.0.attn_q.weight"});
  EXPECT_EQ(c.choose("blk.0.ffn_up.weight", G::F32, {96, 256}), G::Q5_0);
  EXPECT_EQ(c.choose("blk.0.attn_q.weight", G::F32, {100, 256}), G::F16);
  EXPECT_EQ(c.n_fallback(), 2);
  q.ftype = FileType::Q6_K;
  TypeChooser c6(llama16(), q, {"blk.0.ffn_up.weight"});
  EXPECT_EQ(c6.choose("blk.0.ffn_up.weight", G::F32, {96, 256}), G::Q8_0);
}

TEST(Rules, ImatrixRequirement) {
  Options o;
  o.ftype = FileType::Q2_K_S;
  TypeChooser c(llama16(), o, {"blk.0.ffn_up.weight"});
  EXPECT_TRUE(c.requires_imatrix("blk.0.ffn_up.weight", G::Q2_K));
  EXPECT_FALSE(c.requires_imatrix("token_embd.weight", G::Q2_K));
  o.ftype = FileType::Q2_K;
  TypeChooser c2(llama16(), o, {"blk.0.ffn_up.weight"});
  EXPECT_FALSE(c2.requires_imatrix("blk.0.ffn_up.weight", G::Q2_K));
}

TEST(Rules, BadTensorTypePatternIsAnError) {
  Options o;
  o.tensor_types = {{"attn_(", G::Q8_0}};
  EXPECT_THROW(TypeChooser(llama16(), o, {}), Error);
}

// A tiny llama-like GGUF: 2 layers, n_embd 256, with F32 weights.
fs::path write_model(const fs::path& dir, G weight_type = G::F32) {
  gguf::Writer w;
  w.add_kv("general.architecture", "llama");
  w.add_kv("llama.block_count", uint32_t(2));
  w.add_kv("llama.attention.head_count", uint32_t(4));
  w.add_kv("llama.attention.head_count_kv", uint32_t(2));
  w.add_kv("general.file_type", uint32_t(0));
  static std::vector<std::vector<uint8_t>> keep;  // tensor bytes must live until write()
  keep.clear();
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 0.02f);
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, G type) {
    uint64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> f(n);
    for (auto& v : f) v = nd(rng);
    std::vector<uint8_t> bytes;
    if (type == G::F32) {
      bytes.resize(n * 4);
      std::memcpy(bytes.data(), f.data(), bytes.size());
    } else {
      bytes.assign(ggml_row_size(type, n), 0);  // zero blocks of a quantized type
    }
    keep.push_back(std::move(bytes));
    w.add_tensor(name, type, shape, std::span<const uint8_t>(keep.back()));
  };
  add("token_embd.weight", {256, 64}, weight_type);
  add("output_norm.weight", {256}, G::F32);
  for (int i = 0; i < 2; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", {256}, G::F32);
    add(p + "attn_q.weight", {256, 256}, weight_type);
    add(p + "attn_v.weight", {256, 128}, weight_type);
    add(p + "ffn_down.weight", {512, 256}, weight_type);
  }
  const fs::path path = dir / (weight_type == G::F32 ? "model-f32.gguf" : "model-q.gguf");
  w.write(path.string());
  return path;
}

TEST(Driver, QuantizesWritesKeysAndTypes) {
  const fs::path dir = tmp_dir();
  Request r;
  r.input = write_model(dir).string();
  r.output = (dir / "out.gguf").string();
  r.options.ftype = FileType::Q4_K_M;
  r.threads = 2;
  std::vector<std::string> lines;
  const Report rep = quantize_gguf(r, [&](const std::string& l) { lines.push_back(l); });
  const gguf::File out = gguf::File::open(r.output);
  EXPECT_EQ(out.get_u32("general.file_type"), 15u);
  EXPECT_EQ(out.get_u32("general.quantization_version"), 2u);
  EXPECT_EQ(out.tensor("blk.0.attn_q.weight").type, G::Q4_K);
  // use_more_bits(i, 2): only i >= 7 * 2 / 8 = 1
  EXPECT_EQ(out.tensor("blk.0.attn_v.weight").type, G::Q4_K);
  EXPECT_EQ(out.tensor("blk.1.attn_v.weight").type, G::Q6_K);
  EXPECT_EQ(out.tensor("token_embd.weight").type, G::Q6_K);  // tied (no output.weight)
  EXPECT_EQ(out.tensor("output_norm.weight").type, G::F32);
  // llama.cpp's order: non-layer tensors (layer -1) first, then by layer, by name within a layer.
  EXPECT_EQ(out.tensors().front().name, "output_norm.weight");
  EXPECT_EQ(out.tensors()[2].name, "blk.0.attn_norm.weight");
  EXPECT_EQ(rep.n_tensors, out.tensors().size());
  EXPECT_LT(rep.bytes_out * 5, rep.bytes_in);  // ~5 bits instead of 32
  EXPECT_EQ(lines.size(), out.tensors().size());
}

TEST(Driver, RefusesRequantizingAndMissingImatrix) {
  const fs::path dir = tmp_dir();
  Request r;
  r.input = write_model(dir, G::Q8_0).string();
  r.output = (dir / "requant.gguf").string();
  r.options.ftype = FileType::Q4_0;
  try {
    quantize_gguf(r, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--allow-requantize"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(r.output));
  r.allow_requantize = true;
  std::vector<std::string> lines;
  quantize_gguf(r, [&](const std::string& l) { lines.push_back(l); });
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& l) { return l.find("requantized") != std::string::npos; }));

  r.input = write_model(dir).string();
  r.output = (dir / "q2ks.gguf").string();
  r.options.ftype = FileType::Q2_K_S;
  try {
    quantize_gguf(r, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--imatrix"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(r.output));
}

TEST(Imatrix, ReadsGgufAndLegacyFormats) {
  const fs::path dir = tmp_dir();
  // GGUF: two weights, one with two expert matrices (counts 4 and 0).
  {
    gguf::Writer w;
    w.add_kv("imatrix.chunk_count", uint32_t(3));
    static std::vector<float> sums = {4, 8, 12, 16}, counts = {2}, sums2 = {8, 4, 7, 9}, counts2 = {4, 0};
    auto span = [](std::vector<float>& v) {
      return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4);
    };
    w.add_tensor("blk.0.ffn_up.weight.in_sum2", G::F32, {4, 1}, span(sums));
    w.add_tensor("blk.0.ffn_up.weight.counts", G::F32, {1, 1}, span(counts));
    w.add_tensor("blk.0.ffn_down_exps.weight.in_sum2", G::F32, {2, 2}, span(sums2));
    w.add_tensor("blk.0.ffn_down_exps.weight.counts", G::F32, {1, 2}, span(counts2));
    w.write((dir / "im.gguf").string());
  }
  const ImportanceMatrix g = read_imatrix((dir / "im.gguf").string());
  EXPECT_FALSE(g.legacy);
  EXPECT_EQ(g.chunk_count, 3);
  EXPECT_EQ(g.weights.at("blk.0.ffn_up.weight"), (std::vector<float>{2, 4, 6, 8}));
  EXPECT_EQ(g.weights.at("blk.0.ffn_down_exps.weight"), (std::vector<float>{2, 1, 1, 1}));
  // legacy .dat
  {
    std::ofstream f(dir / "im.dat", std::ios::binary);
    auto i32 = [&](int32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
    i32(1);
    const std::string name = "blk.1.attn_q.weight";
    i32(int32_t(name.size()));
    f.write(name.data(), std::streamsize(name.size()));
    i32(4);  // ncall
    i32(2);
    const float vals[2] = {8, 2};
    f.write(reinterpret_cast<const char*>(vals), 8);
    i32(10);  // chunk count
    i32(4);
    f.write("wiki", 4);
  }
  const ImportanceMatrix l = read_imatrix((dir / "im.dat").string());
  EXPECT_TRUE(l.legacy);
  EXPECT_EQ(l.weights.at("blk.1.attn_q.weight"), (std::vector<float>{2, 0.5f}));
  EXPECT_EQ(l.chunk_count, 10);
  EXPECT_EQ(l.datasets, std::vector<std::string>{"wiki"});
  // Truncated legacy file: an error naming the file.
  {
    std::ofstream f(dir / "bad.dat", std::ios::binary);
    const int32_t v[3] = {1, 100, 0};
    f.write(reinterpret_cast<const char*>(v), 12);
  }
  try {
    read_imatrix((dir / "bad.dat").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.dat"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pj::quantize
