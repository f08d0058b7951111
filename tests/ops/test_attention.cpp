// attention_heads has two paths with the same arithmetic: one query row and one key at a time
// (generation), and prompt batches that transpose keys and score 16 per kernel call. Our logits match
// llama.cpp's bit for bit only if the batch size never changes a bit, so the check is exact: a whole
// prompt at once must equal the same prompt fed one token at a time, on every ISA, for F32 and F16
// caches, grouped heads, sliding windows, soft-capping and head splits across threads.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/base/half.h"
#include "core/kernels/context.h"
#include "core/ops/attention.h"

namespace pj::ops {
namespace {

std::vector<float> normal(size_t n, uint32_t seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Case {
  int n_head, n_head_kv, hd, window;
  float softcap;
  int64_t pos0, n_tokens;
};

void run_case(const OpsTable& ops, const Case& c, KvType type, const std::string& what) {
  SCOPED_TRACE(what);
  AttentionParams p;
  p.n_head = c.n_head;
  p.n_head_kv = c.n_head_kv;
  p.head_dim = c.hd;
  p.scale = 1.0f / 8.0f;
  p.softcap = c.softcap;
  p.window = c.window;
  const int64_t n_pos = c.pos0 + c.n_tokens, stride = int64_t(c.n_head_kv) * c.hd;
  const auto k = normal(size_t(n_pos * stride), 1, 1.5f), v = normal(size_t(n_pos * stride), 2, 1.0f);
  std::vector<uint16_t> kh(k.size()), vh(v.size());
  for (size_t i = 0; i < k.size(); ++i) kh[i] = f32_to_fp16(k[i]), vh[i] = f32_to_fp16(v[i]);
  KvView kv;
  kv.type = type;
  kv.row_stride = stride;
  kv.k = type == KvType::f16 ? static_cast<const void*>(kh.data()) : k.data();
  kv.v = type == KvType::f16 ? static_cast<const void*>(vh.data()) : v.data();
  const int64_t row = int64_t(c.n_head) * c.hd;
  const auto q = normal(size_t(c.n_tokens * row), 3, 2.0f);

  // the batch, its heads split in two ranges as two threads would (a KV group may be cut)
  std::vector<float> batch(q.size(), 0.0f), single(q.size(), 0.0f);
  std::vector<float> scratch(size_t(attention_scratch_floats(p, int(c.n_tokens), n_pos)));
  const int split = c.n_head / 2 + 1 > c.n_head ? c.n_head : c.n_head / 2 + 1;
  attention_heads(ops, p, q.data(), int(c.n_tokens), c.pos0, kv, batch.data(), 0, split, scratch.data());
  attention_heads(ops, p, q.data(), int(c.n_tokens), c.pos0, kv, batch.data(), split, c.n_head, scratch.data());
  // token by token, all heads
  for (int64_t t = 0; t < c.n_tokens; ++t) {
    std::vector<float> s1(size_t(attention_scratch_floats(p, 1, c.pos0 + t + 1)));
    attention_heads(ops, p, q.data() + t * row, 1, c.pos0 + t, kv, single.data() + t * row, 0, c.n_head, s1.data());
  }
  for (size_t i = 0; i < batch.size(); ++i)
    ASSERT_EQ(std::memcmp(&batch[i], &single[i], 4), 0)
        << "token " << i / size_t(row) << " value " << i % size_t(row) << ": " << batch[i] << " vs " << single[i];
  float sum = 0;
  for (float x : batch) sum += std::abs(x);
  EXPECT_GT(sum, 0.0f);  // something was computed
}

TEST(Attention, PromptBatchEqualsTokenByToken) {
  const Case cases[] = {
      {9, 3, 64, 0, 0.0f, 0, 40},      // SmolLM2's shape, a prompt from position 0
      {9, 3, 64, 0, 0.0f, 21, 37},     // continuing a cache at an unaligned position
      {4, 1, 256, 0, 0.0f, 0, 20},     // Gemma-3-270M's shape
      {4, 1, 256, 24, 0.0f, 5, 70},    // its sliding window, shorter than the prompt
      {8, 4, 128, 0, 50.0f, 3, 33},    // Gemma-2 style soft-capping
      {2, 2, 80, 0, 0.0f, 0, 12},      // a head size the batched kernel does not take (one-row path)
      {4, 1, 256, 0, 0.0f, 4090, 10},  // V too large to copy into f32 slices: read from the cache rows
  };
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (!isa_available(isa)) continue;
    const OpsTable& ops = kernel_table(isa).ops;
    for (const Case& c : cases)
      for (KvType type : {KvType::f32, KvType::f16})
        run_case(ops, c, type,
                 std::string(isa_name(isa)) + " heads " + std::to_string(c.n_head) + "/" + std::to_string(c.n_head_kv) +
                     " hd " + std::to_string(c.hd) + " window " + std::to_string(c.window) + " pos0 " +
                     std::to_string(c.pos0) + " n " + std::to_string(c.n_tokens) + (type == KvType::f16 ? " f16" : " f32"));
  }
}

}  // namespace
}  // namespace pj::ops
