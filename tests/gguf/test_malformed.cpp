// Untrusted input: truncation at every byte, and hand-made malformed files that must each give a
// pj::Error naming the file and the problem. Inputs are copied into exactly-sized heap buffers so that
// AddressSanitizer catches any read past the end.
#include "core/base/error.h"
#include "core/gguf/gguf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using namespace pj::gguf;
using pj::GgmlType;

namespace {

// Builds GGUF bytes by hand, independent of our writer.
struct Raw {
  std::vector<uint8_t> b;
  Raw& bytes(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
    return *this;
  }
  Raw& u8(uint8_t v) { return bytes(&v, 1); }
  Raw& u32(uint32_t v) { return bytes(&v, 4); }
  Raw& u64(uint64_t v) { return bytes(&v, 8); }
  Raw& str(std::string_view s) { return u64(s.size()).bytes(s.data(), s.size()); }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return bytes("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
  }
  Raw& kv_u32(std::string_view k, uint32_t v) { return str(k).u32(uint32_t(ValueType::U32)).u32(v); }
  Raw& tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (auto d : dims) u64(d);
    return u32(type).u64(offset);
  }
  Raw& pad(size_t alignment = 32) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

std::string parse_error(const std::vector<uint8_t>& bytes, const std::string& name = "bad.gguf") {
  // Exactly-sized heap copy: an over-read is an ASan report, not a silent success.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes.size() ? bytes.size() : 1]);
  if (!bytes.empty()) std::memcpy(buf.get(), bytes.data(), bytes.size());
  try {
    File::from_memory(buf.get(), bytes.size(), name);
  } catch (const pj::Error& e) {
    return e.what();
  }
  return "";
}

std::vector<uint8_t> small_valid_file() {
  // Last tensor's size is a multiple of the alignment, so every cut removes bytes that the tensor
  // table says exist (a cut inside the padding after the last tensor is accepted, as llama.cpp does).
  Writer w;
  w.add_kv("general.architecture", "llama");
  w.add_kv("llama.block_count", uint32_t{2});
  w.add_kv("f", 0.5f);
  w.add_kv("ok", true);
  w.add_kv("tokenizer.ggml.tokens", Array(std::vector<std::string>{"<s>", "a", ""}));
  w.add_kv("nested", Array(std::vector<Array>{Array(std::vector<int16_t>{1, 2})}));
  std::vector<uint8_t> a(34, 1), b(64, 2);
  w.add_tensor("q8", GgmlType::Q8_0, {32}, a);
  w.add_tensor("f32", GgmlType::F32, {4, 4}, b);
  const std::string p = (fs::temp_directory_path() / ("pj_test_gguf_small_" + std::to_string(::getpid()))).string();
  w.write(p);
  std::ifstream in(p, std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::remove(p.c_str());
  return bytes;
}

}  // namespace

TEST(GgufMalformed, TruncationAtEveryByteIsAnError) {
  const auto full = small_valid_file();
  ASSERT_EQ(parse_error(full), "");
  ASSERT_GT(full.size(), 200u);
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    std::string e = parse_error(cut, "cut.gguf");
    EXPECT_NE(e, "") << "truncated to " << n << " of " << full.size() << " bytes was accepted";
    EXPECT_EQ(e.rfind("gguf: cut.gguf: ", 0), 0u) << e;
  }
}

TEST(GgufMalformed, TruncationMessagesSayWhatWasCut) {
  const auto full = small_valid_file();
  const std::string needle("f32");  // the second tensor's name in the tensor table
  auto at = std::search(full.begin(), full.end(), needle.begin(), needle.end());
  ASSERT_NE(at, full.end());
  std::vector<uint8_t> cut(full.begin(), at + 1);
  EXPECT_NE(parse_error(cut).find("name of tensor #1 has length 3 but only 1 bytes remain"), std::string::npos)
      << parse_error(cut);
  cut.assign(full.begin(), at + 3 + 2);  // inside n_dims
  EXPECT_NE(parse_error(cut).find("file is truncated: info of tensor 'f32' needs 4 bytes"), std::string::npos)
      << parse_error(cut);
  cut.assign(full.begin(), full.end() - 1);  // inside the last tensor's data
  EXPECT_NE(parse_error(cut).find("tensor 'f32' extends past end of file"), std::string::npos) << parse_error(cut);
}

struct Case {
  const char* what;
  std::vector<uint8_t> bytes;
  const char* fragment;
};

TEST(GgufMalformed, HandMadeFilesGiveSpecificErrors) {
  constexpr uint32_t F32 = 0, Q4_0 = 2, U32 = 4, STRING = 8, ARRAY = 9;
  std::vector<Case> cases;
  auto add = [&](const char* what, Raw r, const char* fragment) { cases.push_back({what, std::move(r.b), fragment}); };

  add("empty file", Raw{}, "bad magic");
  add("bad magic", Raw{}.bytes("GGML", 4).u32(3).u64(0).u64(0), "bad magic");
  add("version 1", Raw{}.header(0, 0, 1), "GGUF version 1 is not supported");
  add("version 4", Raw{}.header(0, 0, 4), "unsupported GGUF version 4");
  add("big-endian", Raw{}.header(0, 0, 0x03000000), "big-endian");
  add("huge n_tensors", Raw{}.header(uint64_t{1} << 40, 0), "tensor count 1099511627776 is impossible");
  add("huge n_kv", Raw{}.header(0, ~uint64_t{0}), "metadata count 18446744073709551615 is impossible");
  add("huge key length", Raw{}.header(0, 1).u64(uint64_t{1} << 62).zeros(16), "key #0 has length 4611686018427387904");
  add("huge string value", Raw{}.header(0, 1).str("k").u32(STRING).u64(~uint64_t{0}).zeros(8),
      "value of key 'k' has length 18446744073709551615");
  add("unknown value type", Raw{}.header(0, 1).str("k").u32(13).u32(0), "key 'k' has unknown value type 13");
  add("bool not 0/1", Raw{}.header(0, 1).str("k").u32(7).u8(2), "key 'k' has bool value 2");
  add("huge array", Raw{}.header(0, 1).str("k").u32(ARRAY).u32(U32).u64(uint64_t{1} << 61).zeros(8),
      "array 'k' has 2305843009213693952 elements of 4 bytes");
  add("huge string array", Raw{}.header(0, 1).str("k").u32(ARRAY).u32(STRING).u64(uint64_t{1} << 40).zeros(8),
      "array 'k' claims 1099511627776 elements");
  add("bad array element type", Raw{}.header(0, 1).str("k").u32(ARRAY).u32(77).u64(0),
      "key 'k' has unknown array element type 77");
  {
    Raw r;
    r.header(0, 1).str("deep").u32(ARRAY);
    for (int i = 0; i < 20; ++i) r.u32(ARRAY).u64(1);
    r.u32(U32).u64(0);
    add("arrays nested too deep", r, "arrays nested more than 8 deep");
  }
  add("duplicate key", Raw{}.header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2), "duplicate key 'a.b'");
  add("alignment 0", Raw{}.header(0, 1).kv_u32("general.alignment", 0), "general.alignment is 0, which is not a power of two");
  add("alignment 3", Raw{}.header(0, 1).kv_u32("general.alignment", 3), "general.alignment is 3, which is not a power of two");
  add("alignment wrong type", Raw{}.header(0, 1).str("general.alignment").u32(10).u64(32),
      "general.alignment has type uint64, expected uint32");
  add("duplicate tensor", Raw{}.header(2, 0).tensor("t", {4}, F32, 0).tensor("t", {4}, F32, 32).pad().zeros(64),
      "duplicate tensor name 't'");
  add("overlapping tensors", Raw{}.header(2, 0).tensor("a", {16}, F32, 0).tensor("b", {16}, F32, 32).pad().zeros(128),
      "tensors 'a' (offset 0, size 64) and 'b' (offset 32) overlap");
  add("removed type 4", Raw{}.header(1, 0).tensor("t", {32}, 4, 0).pad().zeros(32),
      "tensor 't' has type Q4_2 (id 4), which was removed from ggml");
  add("removed type 31", Raw{}.header(1, 0).tensor("t", {32}, 31, 0).pad().zeros(32),
      "tensor 't' has type Q4_0_4_4 (id 31), which was removed");
  add("unknown type 99", Raw{}.header(1, 0).tensor("t", {32}, 99, 0).pad().zeros(32), "tensor 't' has unknown type id 99");
  add("offset not aligned", Raw{}.header(1, 0).tensor("t", {4}, F32, 16).pad().zeros(64),
      "tensor 't' offset 16 is not a multiple of the alignment 32");
  add("dims product overflow", Raw{}.header(1, 0).tensor("t", {uint64_t{1} << 32, uint64_t{1} << 32}, F32, 0).pad(),
      "tensor 't' has too many elements");
  add("byte size overflow", Raw{}.header(1, 0).tensor("t", {uint64_t{1} << 62, 1}, F32, 0).pad(),
      "tensor 't' has a byte size that overflows");
  add("dim zero", Raw{}.header(1, 0).tensor("t", {4, 0}, F32, 0).pad(), "tensor 't' has invalid dimension ne[1] = 0");
  add("dim negative", Raw{}.header(1, 0).tensor("t", {~uint64_t{0}}, F32, 0).pad(), "has invalid dimension ne[0] = -1");
  add("too many dims", Raw{}.header(1, 0).tensor("t", {1, 1, 1, 1, 1}, F32, 0).pad(), "tensor 't' has 5 dimensions");
  add("row not multiple of block", Raw{}.header(1, 0).tensor("t", {33, 2}, Q4_0, 0).pad().zeros(64),
      "tensor 't' has row length 33 that is not a multiple of the Q4_0 block size 32");
  add("past end of file", Raw{}.header(1, 0).tensor("blk.0.attn_q.weight", {1024}, F32, 0).pad().zeros(64),
      "tensor 'blk.0.attn_q.weight' extends past end of file (offset 96, size 4096, file 160)");
  add("offset far past end", Raw{}.header(1, 0).tensor("t", {4}, F32, ~uint64_t{0} - 31).pad().zeros(64),
      "tensor 't' extends past end of file");

  for (const auto& c : cases) {
    std::string e = parse_error(c.bytes);
    EXPECT_NE(e.find(c.fragment), std::string::npos) << c.what << ": got \"" << e << "\", want \"" << c.fragment << "\"";
    EXPECT_EQ(e.rfind("gguf: bad.gguf: ", 0), 0u) << c.what << ": " << e;
  }
}

TEST(GgufMalformed, VersionTwoIsRead) {
  auto bytes = Raw{}.header(1, 1, 2).kv_u32("k", 5).tensor("t", {2}, 0, 0).pad().zeros(32).b;
  std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes.size()]);
  std::memcpy(buf.get(), bytes.data(), bytes.size());
  File f = File::from_memory(buf.get(), bytes.size(), "v2.gguf");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.get_u32("k"), 5u);
  EXPECT_EQ(f.tensor("t").n_bytes, 8u);
}

TEST(GgufMalformed, OpenNamesTheMissingFile) {
  EXPECT_THROW(File::open("/nonexistent/x.gguf"), pj::Error);
}
