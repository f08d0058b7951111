// The example GGUF shipped in data/examples/tiny-llama.gguf is made by this generator: llama-style
// metadata and tensor names with deterministic pseudo-random weights (not a working model). The test
// checks that the committed file is exactly what the generator produces; to regenerate it run
//   PJ_REGENERATE_EXAMPLES=1 build-gguf/test_gguf --gtest_filter='GgufExample.*'
#include "core/base/half.h"
#include "core/gguf/gguf.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace fs = std::filesystem;
using namespace pj::gguf;
using pj::GgmlType;

namespace {

constexpr uint32_t kEmbd = 64, kFf = 256, kVocab = 32;

// std::mt19937 output is specified by the standard, so the bytes are the same on every platform
// (std::*_distribution are not, hence the hand-made mapping to floats).
struct Rng {
  std::mt19937 g{20240601};
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(g() >> 8) * (1.0f / 16777216.0f); }
  uint8_t byte() { return static_cast<uint8_t>(g() >> 24); }
};

void put_f16(std::vector<uint8_t>& out, float v) {
  uint16_t h = pj::f32_to_fp16(v);
  out.push_back(static_cast<uint8_t>(h));
  out.push_back(static_cast<uint8_t>(h >> 8));
}
void put_f32(std::vector<uint8_t>& out, float v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  out.insert(out.end(), b, b + 4);
}

std::vector<uint8_t> f32_tensor(Rng& r, size_t n, float lo, float hi) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i) put_f32(out, r.uniform(lo, hi));
  return out;
}
std::vector<uint8_t> f16_tensor(Rng& r, size_t n) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i) put_f16(out, r.uniform(-0.1f, 0.1f));
  return out;
}
// Q8_0 blocks: fp16 scale d, then 32 int8 quants (value = d * q).
std::vector<uint8_t> q8_0_tensor(Rng& r, size_t n) {
  std::vector<uint8_t> out;
  for (size_t b = 0; b < n / 32; ++b) {
    put_f16(out, r.uniform(0.0005f, 0.002f));
    for (int i = 0; i < 32; ++i) out.push_back(r.byte());
  }
  return out;
}
// Q4_K super-blocks: fp16 d, fp16 dmin, 12 bytes of packed 6-bit scales/mins, 128 bytes of nibbles.
std::vector<uint8_t> q4_k_tensor(Rng& r, size_t n) {
  std::vector<uint8_t> out;
  for (size_t b = 0; b < n / 256; ++b) {
    put_f16(out, r.uniform(0.0002f, 0.001f));
    put_f16(out, r.uniform(0.0002f, 0.001f));
    for (int i = 0; i < 12 + 128; ++i) out.push_back(r.byte());
  }
  return out;
}

struct Example {
  Writer w;
  std::vector<std::vector<uint8_t>> data;  // owns the tensor bytes until written
  void tensor(const char* name, GgmlType t, std::vector<uint64_t> shape, std::vector<uint8_t> bytes) {
    data.push_back(std::move(bytes));
    w.add_tensor(name, t, std::move(shape), data.back());
  }
};

void make_example(const std::string& path) {
  Example e;
  Writer& w = e.w;
  w.add_kv("general.architecture", "llama");
  w.add_kv("general.type", "model");
  w.add_kv("general.name", "Tiny Llama Example");
  w.add_kv("general.description", "Layout example made by tests/gguf/test_example.cpp; random weights");
  w.add_kv("general.license", "mit");
  w.add_kv("general.file_type", uint32_t{7});  // LLAMA_FTYPE_MOSTLY_Q8_0
  w.add_kv("general.quantization_version", uint32_t{2});
  w.add_kv("llama.context_length", uint32_t{2048});
  w.add_kv("llama.embedding_length", kEmbd);
  w.add_kv("llama.block_count", uint32_t{1});
  w.add_kv("llama.feed_forward_length", kFf);
  w.add_kv("llama.attention.head_count", uint32_t{4});
  w.add_kv("llama.attention.head_count_kv", uint32_t{2});
  w.add_kv("llama.rope.freq_base", 10000.0f);
  w.add_kv("llama.rope.dimension_count", uint32_t{16});
  w.add_kv("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_kv("llama.vocab_size", kVocab);
  w.add_kv("tokenizer.ggml.model", "llama");
  std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
  std::vector<float> scores{0, 0, 0};
  std::vector<int32_t> types{2, 3, 3};  // UNKNOWN, CONTROL, CONTROL
  const char* words[] = {"▁", "e", "t", "a", "o", "n", "▁the", "▁a", "in", "er", "▁s", "re", "on", "at",
                         "▁t", "en", "or", "es", "▁w", "is", "an", "ed", "▁o", "ing", "▁c", "ar", "al", "ll", "."};
  for (const char* wd : words) {
    tokens.push_back(wd);
    scores.push_back(-static_cast<float>(tokens.size()));
    types.push_back(1);  // NORMAL
  }
  w.add_kv("tokenizer.ggml.tokens", Array(std::move(tokens)));
  w.add_kv("tokenizer.ggml.scores", Array(std::move(scores)));
  w.add_kv("tokenizer.ggml.token_type", Array(std::move(types)));
  w.add_kv("tokenizer.ggml.bos_token_id", uint32_t{1});
  w.add_kv("tokenizer.ggml.eos_token_id", uint32_t{2});
  w.add_kv("tokenizer.ggml.add_bos_token", true);
  w.add_kv("tokenizer.chat_template",
           "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:");

  Rng r;
  e.tensor("token_embd.weight", GgmlType::F16, {kEmbd, kVocab}, f16_tensor(r, kEmbd * kVocab));
  e.tensor("blk.0.attn_norm.weight", GgmlType::F32, {kEmbd}, f32_tensor(r, kEmbd, 0.9f, 1.1f));
  e.tensor("blk.0.attn_q.weight", GgmlType::Q8_0, {kEmbd, kEmbd}, q8_0_tensor(r, kEmbd * kEmbd));
  e.tensor("blk.0.ffn_down.weight", GgmlType::Q4_K, {kFf, kEmbd / 4}, q4_k_tensor(r, kFf * kEmbd / 4));
  e.tensor("output_norm.weight", GgmlType::F32, {kEmbd}, f32_tensor(r, kEmbd, 0.9f, 1.1f));
  w.write(path);
}

std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(GgufExample, CommittedExampleMatchesGenerator) {
  const std::string committed = std::string(PJ_SOURCE_DIR) + "/data/examples/tiny-llama.gguf";
  if (std::getenv("PJ_REGENERATE_EXAMPLES")) make_example(committed);
  const std::string fresh = (fs::temp_directory_path() / ("pj_test_gguf_example_" + std::to_string(::getpid()))).string();
  make_example(fresh);
  auto want = read_bytes(fresh);
  std::remove(fresh.c_str());
  ASSERT_TRUE(fs::exists(committed)) << committed << " is missing; regenerate it (see the top of this file)";
  EXPECT_EQ(read_bytes(committed), want) << committed << " differs from the generator's output";

  File f = File::open(committed);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_u32("llama.embedding_length"), kEmbd);
  EXPECT_EQ(f.get_array("tokenizer.ggml.tokens").size(), kVocab);
  EXPECT_EQ(f.tensors().size(), 5u);
  EXPECT_LT(f.file_size(), 32u * 1024);
}
