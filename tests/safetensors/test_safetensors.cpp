// safetensors reader/writer: fixtures written by the Python safetensors library, round trips through
// our writer for every dtype, sharded folders, and malformed input (each a pj::Error naming the file).
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/base/half.h"
#include "core/safetensors/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace st = pj::safetensors;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = std::string(PJ_SHARED_DIR) + "/fixtures";

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("pj_test_safetensors_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Builds a file image from a header string and a data section.
std::vector<uint8_t> image(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> b(8 + header.size() + data_bytes, 0);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

std::string parse_error(const std::vector<uint8_t>& b) {
  try {
    st::File::parse(pj::MappedFile::borrow(b.data(), b.size(), "bad.safetensors"));
  } catch (const pj::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Safetensors, ReadsLlamaFixture) {
  // Expected values from the fixture's config.json (hidden 256, vocab 1029, 2 layers, kv heads 2 x 64,
  // intermediate 768), stored as BF16 by save_pretrained.
  auto f = st::File::open(kFixtures + "/llama/model.safetensors");
  EXPECT_EQ(f.tensors().size(), 21u);  // 9 per layer x 2 + embed + norm + lm_head
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto& emb = f.get("model.embed_tokens.weight");
  EXPECT_EQ(emb.dtype, st::Dtype::BF16);
  EXPECT_EQ(emb.shape, (std::vector<int64_t>{1029, 256}));
  EXPECT_EQ(emb.nbytes, 1029u * 256 * 2);
  EXPECT_EQ(f.get("model.layers.1.self_attn.k_proj.weight").shape, (std::vector<int64_t>{128, 256}));
  EXPECT_EQ(f.get("model.layers.0.mlp.down_proj.weight").shape, (std::vector<int64_t>{256, 768}));
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_THROW(f.get("missing"), pj::Error);
  uint64_t total = 0;
  for (const auto& t : f.tensors()) total += t.nbytes;
  EXPECT_EQ(8 + f.header_size() + total, f.file_size());
  // Random init with std 0.1 (README): a row of the embedding is finite, non-zero and small.
  std::vector<float> row(256);
  st::to_f32(emb, 256, 256, row.data());
  double ss = 0;
  for (float v : row) ss += double(v) * v;
  EXPECT_GT(std::sqrt(ss / 256), 0.03);
  EXPECT_LT(std::sqrt(ss / 256), 0.3);
  EXPECT_THROW(st::to_f32(emb, 1029 * 256 - 10, 11, row.data()), pj::Error);
}

TEST(Safetensors, ReadsEveryFixture) {
  for (const char* m : {"clip", "gemma2", "gemma3", "llama", "mistral", "qwen2", "qwen3", "vit", "whisper"}) {
    auto c = st::Checkpoint::open(kFixtures + "/" + m);
    EXPECT_GT(c.tensors().size(), 5u) << m;
    auto r = st::File::open(kFixtures + "/" + m + "/reference.safetensors");
    EXPECT_GT(r.tensors().size(), 0u) << m;
  }
}

TEST(Safetensors, RoundTripEveryDtype) {
  const st::Dtype all[] = {st::Dtype::F64, st::Dtype::F32, st::Dtype::F16, st::Dtype::BF16, st::Dtype::I64,
                           st::Dtype::I32, st::Dtype::I16, st::Dtype::I8,  st::Dtype::U8,   st::Dtype::BOOL,
                           st::Dtype::U64, st::Dtype::U32, st::Dtype::U16, st::Dtype::F8_E4M3, st::Dtype::F8_E5M2};
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> bufs;
  std::vector<st::TensorToWrite> ts;
  const std::vector<std::vector<int64_t>> shapes = {{3, 5}, {7}, {}, {2, 0, 4}, {1, 3, 1}};
  int k = 0;
  for (st::Dtype d : all) {
    for (const auto& shape : shapes) {
      uint64_t n = st::dtype_size(d);
      for (int64_t x : shape) n *= static_cast<uint64_t>(x);
      std::vector<uint8_t> b(n);
      for (auto& x : b) x = static_cast<uint8_t>(rng());
      if (d == st::Dtype::BOOL)
        for (auto& x : b) x &= 1;
      bufs.push_back(std::move(b));
      ts.push_back({"t" + std::to_string(k++) + "." + std::string(st::dtype_name(d)), d, shape, nullptr, n});
    }
  }
  for (size_t i = 0; i < ts.size(); ++i) ts[i].data = bufs[i].data();
  fs::path dir = temp_dir("roundtrip");
  std::string path = (dir / "all.safetensors").string();
  st::write_file(path, ts, {{"format", "pt"}, {"note", "round trip"}});
  EXPECT_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));

  auto f = st::File::open(path);
  ASSERT_EQ(f.tensors().size(), ts.size());
  EXPECT_EQ(f.metadata().at("note"), "round trip");
  EXPECT_EQ((8 + f.header_size()) % 8, 0u);
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& t = f.tensors()[i];
    EXPECT_EQ(t.name, ts[i].name);
    EXPECT_EQ(t.dtype, ts[i].dtype);
    EXPECT_EQ(t.shape, ts[i].shape);
    ASSERT_EQ(t.nbytes, ts[i].nbytes);
    if (t.nbytes) EXPECT_EQ(std::memcmp(t.data, bufs[i].data(), t.nbytes), 0) << t.name;
  }
  fs::remove_all(dir);
}

TEST(Safetensors, ToF32) {
  // Known encodings: fp16 0x3c00 = 1, bf16 0xc040 = -3, e4m3 0x38 = 1 (bias 7), 0x01 = 2^-9 (smallest
  // subnormal), 0x7e = 448 (largest finite); e5m2 0xc0 = -2.
  uint16_t h[2] = {0x3c00, pj::f32_to_fp16(-0.5f)};
  uint16_t bf[2] = {0xc040, pj::f32_to_bf16(2.5f)};
  double dd[2] = {1e-3, -7.25};
  uint8_t e4[4] = {0x38, 0x01, 0x7e, 0xb8};
  uint8_t e5[1] = {0xc0};
  int64_t i64[2] = {-5, 123456};
  auto run = [](st::Dtype d, const void* p, size_t n) {
    st::TensorInfo t;
    t.dtype = d;
    t.shape = {static_cast<int64_t>(n)};
    t.data = static_cast<const uint8_t*>(p);
    t.nbytes = n * st::dtype_size(d);
    std::vector<float> out(n);
    st::to_f32(t, 0, n, out.data());
    return out;
  };
  EXPECT_EQ(run(st::Dtype::F16, h, 2), (std::vector<float>{1.0f, -0.5f}));
  EXPECT_EQ(run(st::Dtype::BF16, bf, 2), (std::vector<float>{-3.0f, 2.5f}));
  EXPECT_EQ(run(st::Dtype::F64, dd, 2), (std::vector<float>{1e-3f, -7.25f}));
  EXPECT_EQ(run(st::Dtype::F8_E4M3, e4, 4), (std::vector<float>{1.0f, std::ldexp(1.0f, -9), 448.0f, -1.0f}));
  EXPECT_EQ(run(st::Dtype::F8_E5M2, e5, 1), (std::vector<float>{-2.0f}));
  EXPECT_EQ(run(st::Dtype::I64, i64, 2), (std::vector<float>{-5.0f, 123456.0f}));
}

TEST(Safetensors, ShardedFolder) {
  std::vector<float> a(12), b(5), c(7);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = -float(i);
  for (size_t i = 0; i < c.size(); ++i) c[i] = 0.5f * float(i);
  std::vector<st::TensorToWrite> ts = {{"a", st::Dtype::F32, {3, 4}, a.data(), 48},
                                       {"b", st::Dtype::F32, {5}, b.data(), 20},
                                       {"c", st::Dtype::F32, {7}, c.data(), 28}};
  fs::path dir = temp_dir("sharded");
  st::write_sharded(dir.string(), ts, 2);
  EXPECT_TRUE(fs::exists(dir / "model-00001-of-00002.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "model-00002-of-00002.safetensors"));
  auto ck = st::Checkpoint::open(dir.string());
  EXPECT_EQ(ck.files().size(), 2u);
  ASSERT_EQ(ck.tensors().size(), 3u);
  EXPECT_EQ(ck.total_bytes(), 96u);
  EXPECT_EQ(ck.total_elements(), 24u);
  std::vector<float> out(7);
  st::to_f32(ck.get("c"), 0, 7, out.data());
  EXPECT_EQ(out, c);
  EXPECT_EQ(ck.get("a").shape, (std::vector<int64_t>{3, 4}));
  EXPECT_NE(ck.get("b").data, nullptr);

  auto index_error = [&](const std::string& index) -> std::string {
    {
      pj::AtomicFileWriter w((dir / "model.safetensors.index.json").string());
      w.write(index);
      w.commit();
    }
    try {
      st::Checkpoint::open(dir.string());
    } catch (const pj::Error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors";
  EXPECT_NE(index_error(R"({"weight_map": {"a": "../x.safetensors"}})").find("not a file name"), std::string::npos);
  // the writer put a in shard 1, b and c in shard 2
  EXPECT_NE(index_error(R"({"weight_map": {"a": ")" + s1 + R"(", "b": ")" + s2 + R"("}})").find("'c' in"),
            std::string::npos);
  EXPECT_NE(index_error(R"({"weight_map": {"a": ")" + s1 + R"(", "b": ")" + s2 + R"(", "c": ")" + s2 +
                        R"(", "d": ")" + s2 + R"("}})")
                .find("'d' is listed in the weight_map but missing"),
            std::string::npos);
  EXPECT_NE(index_error(R"({"weight_map": {"a": ")" + s2 + R"(", "b": ")" + s1 + R"(", "c": ")" + s2 + R"("}})")
                .find("weight_map says"),
            std::string::npos);
  EXPECT_NE(index_error("{\"weight_map\": [").find("not valid JSON"), std::string::npos);
  EXPECT_NE(index_error(R"({"weight_map": {"a": "nope.safetensors"}})").find("nope.safetensors"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Safetensors, TruncationAtEveryByte) {
  std::vector<uint16_t> w(6, 0x3c00);
  std::vector<int32_t> ids = {1, 2, 3};
  fs::path dir = temp_dir("trunc");
  std::string path = (dir / "small.safetensors").string();
  st::write_file(path, {{"w", st::Dtype::F16, {2, 3}, w.data(), 12}, {"ids", st::Dtype::I32, {3}, ids.data(), 12}},
                 {{"k", "v"}});
  pj::MappedFile f(path);
  ASSERT_NO_THROW(st::File::parse(pj::MappedFile::borrow(f.data(), f.size(), "small.safetensors")));
  for (size_t n = 0; n < f.size(); ++n) {
    std::vector<uint8_t> cut(f.data(), f.data() + n);  // exact-size heap copy so ASan sees overreads
    std::string e = parse_error(cut);
    EXPECT_NE(e.find("bad.safetensors"), std::string::npos) << "prefix " << n << ": " << e;
  }
  fs::remove_all(dir);
}

TEST(Safetensors, MalformedHeaders) {
  struct Case {
    std::string header;
    size_t data;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}", 8, "not valid JSON"},
      {"[1, 2]", 0, "not a JSON object"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
       16, "'a' appears twice"},
      {R"({"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}})", 8, "unsupported dtype 'Q4'"},
      {R"({"a": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}})", 1, "unsupported dtype 'F4'"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8, "end 0 is before begin 8"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}})", 8, "extend past the data section"},
      {R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8, "needs 12"},
      {R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8, "not a non-negative integer"},
      {R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", 8, "overflows"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       12, "overlaps"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12, "4 unused bytes"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 9, "1 bytes after the last tensor"},
      {R"({"a": {"dtype": "F32", "shape": [2]}})", 8, "data_offsets must be"},
      {R"({"a": {"shape": [2], "data_offsets": [0, 8]}})", 8, "dtype"},
      {R"({"a": 5})", 0, "'a': entry is not an object"},
      {R"({"__metadata__": {"x": 1}})", 0, "__metadata__ value 'x' is not a string"},
      {R"({"__metadata__": [1]})", 0, "__metadata__ is not an object"},
  };
  for (const auto& c : cases) {
    std::string e = parse_error(image(c.header, c.data));
    EXPECT_NE(e.find(c.fragment), std::string::npos) << "header " << c.header << "\n  got: " << e;
    EXPECT_NE(e.find("bad.safetensors"), std::string::npos) << e;
  }
  // Header length field larger than the file, and beyond the 100 MB limit.
  std::vector<uint8_t> b = image("{}", 0);
  b[0] = 0xff;
  EXPECT_NE(parse_error(b).find("extends past end of file"), std::string::npos);
  b[0] = 0;
  b[4] = 0x01;  // 2^32
  EXPECT_NE(parse_error(b).find("exceeds the"), std::string::npos);
  EXPECT_NE(parse_error({1, 2, 3}).find("too small"), std::string::npos);
  // An empty header "{}" with no data is a valid, empty file; zero-sized tensors may share an offset.
  EXPECT_EQ(parse_error(image("{}", 0)), "no error");
  EXPECT_EQ(parse_error(image(R"({"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}})", 1)),
            "no error");
}

TEST(Safetensors, WriterRejectsBadInput) {
  fs::path dir = temp_dir("writer");
  std::string path = (dir / "x.safetensors").string();
  float v[2] = {1, 2};
  EXPECT_THROW(st::write_file(path, {{"a", st::Dtype::F32, {3}, v, 8}}), pj::Error);
  EXPECT_THROW(st::write_file(path, {{"a", st::Dtype::F32, {2}, v, 8}, {"a", st::Dtype::F32, {2}, v, 8}}), pj::Error);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir));  // no temporary file left behind
  fs::remove_all(dir);
}
