// Writer -> reader round trips: every metadata type at its edges, a tensor of every ggml type, byte
// identity of a rewrite, custom alignment, typed getters and writer-side validation.
#include "core/base/error.h"
#include "core/gguf/gguf.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include <sys/resource.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace pj::gguf;
using pj::GgmlType;

namespace {

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("pj_test_gguf_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename T>
std::vector<KeyValue> edge_values(const std::string& name) {
  using L = std::numeric_limits<T>;
  return {{name + ".min", Value(L::lowest())}, {name + ".max", Value(L::max())}, {name + ".zero", Value(T{0})}};
}

// Every metadata type: integer widths at min/max, float specials by bit pattern, bools, strings,
// arrays of every element type (including empty ones and arrays of arrays).
std::vector<KeyValue> every_kind_of_metadata() {
  std::vector<KeyValue> kv;
  auto add = [&](std::vector<KeyValue> more) { kv.insert(kv.end(), more.begin(), more.end()); };
  add(edge_values<uint8_t>("u8"));
  add(edge_values<int8_t>("i8"));
  add(edge_values<uint16_t>("u16"));
  add(edge_values<int16_t>("i16"));
  add(edge_values<uint32_t>("u32"));
  add(edge_values<int32_t>("i32"));
  add(edge_values<uint64_t>("u64"));
  add(edge_values<int64_t>("i64"));
  add(edge_values<float>("f32"));
  add(edge_values<double>("f64"));
  kv.push_back({"f32.nan_payload", Value(std::bit_cast<float>(uint32_t{0x7fc12345}))});
  kv.push_back({"f32.neg_nan", Value(std::bit_cast<float>(uint32_t{0xffa00001}))});  // signalling
  kv.push_back({"f32.inf", Value(std::numeric_limits<float>::infinity())});
  kv.push_back({"f32.neg_inf", Value(-std::numeric_limits<float>::infinity())});
  kv.push_back({"f32.neg_zero", Value(-0.0f)});
  kv.push_back({"f32.denorm", Value(std::numeric_limits<float>::denorm_min())});
  kv.push_back({"f64.nan_payload", Value(std::bit_cast<double>(uint64_t{0x7ff8000000abcdefULL}))});
  kv.push_back({"f64.neg_inf", Value(-std::numeric_limits<double>::infinity())});
  kv.push_back({"bool.true", Value(true)});
  kv.push_back({"bool.false", Value(false)});
  kv.push_back({"str.empty", Value("")});
  kv.push_back({"str.utf8", Value("héllo wörld ✓ 日本語 🦙")});
  kv.push_back({"str.nul_inside", Value(std::string("a\0b", 3))});
  kv.push_back({"arr.u8", Value(Array(std::vector<uint8_t>{0, 1, 255}))});
  kv.push_back({"arr.i8", Value(Array(std::vector<int8_t>{-128, 0, 127}))});
  kv.push_back({"arr.u16", Value(Array(std::vector<uint16_t>{0, 65535}))});
  kv.push_back({"arr.i16", Value(Array(std::vector<int16_t>{-32768, 32767}))});
  kv.push_back({"arr.u32", Value(Array(std::vector<uint32_t>{0, 4294967295u}))});
  kv.push_back({"arr.i32", Value(Array(std::vector<int32_t>{std::numeric_limits<int32_t>::min(), 7}))});
  kv.push_back({"arr.u64", Value(Array(std::vector<uint64_t>{std::numeric_limits<uint64_t>::max()}))});
  kv.push_back({"arr.i64", Value(Array(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1}))});
  kv.push_back({"arr.f32", Value(Array(std::vector<float>{1.5f, -0.0f, std::numeric_limits<float>::quiet_NaN()}))});
  kv.push_back({"arr.f64", Value(Array(std::vector<double>{3.141592653589793, 1e308}))});
  kv.push_back({"arr.bool", Value(Array(std::vector<bool>{true, false, true}))});
  kv.push_back({"arr.str", Value(Array(std::vector<std::string>{"<s>", "", "▁the", std::string(300, 'x')}))});
  for (uint32_t t = 0; t < kValueTypeCount; ++t)
    kv.push_back({"arr.empty." + std::string(value_type_name(ValueType(t))), Value(Array::empty(ValueType(t)))});
  std::vector<Array> nested{Array(std::vector<int32_t>{1, 2}), Array(std::vector<std::string>{"a"}),
                            Array::empty(ValueType::F32),
                            Array(std::vector<Array>{Array(std::vector<uint8_t>{9})})};
  kv.push_back({"arr.nested", Value(Array(std::move(nested)))});
  return kv;
}

// A tensor of every ggml type, two blocks per row and three rows, filled with random bytes.
struct TestTensor {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};
std::vector<TestTensor> every_type_of_tensor() {
  std::mt19937 rng(1234);
  std::vector<TestTensor> ts;
  for (const auto& info : pj::kGgmlTypes) {
    TestTensor t{std::string("t.") + std::string(info.name), info.type, {2ull * info.block_size, 3}, {}};
    t.bytes.resize(size_t{6} * info.type_size);
    for (auto& b : t.bytes) b = static_cast<uint8_t>(rng());
    ts.push_back(std::move(t));
  }
  ts.push_back({"scalar", GgmlType::F32, {}, {1, 2, 3, 4}});
  ts.push_back({"four_dims", GgmlType::I8, {2, 3, 1, 5}, std::vector<uint8_t>(30, 7)});
  return ts;
}

Writer build_writer(const std::vector<KeyValue>& kv, const std::vector<TestTensor>& ts) {
  Writer w;
  for (const auto& e : kv) w.add_kv(e.key, e.value);
  for (const auto& t : ts) w.add_tensor(t.name, t.type, t.shape, t.bytes);
  return w;
}

Writer writer_from(const File& f) {
  Writer w;
  for (const auto& e : f.metadata()) w.add_kv(e.key, e.value);
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.shape, t.bytes());
  return w;
}

}  // namespace

TEST(GgufRoundTrip, EveryMetadataTypeAndEveryTensorType) {
  const auto kv = every_kind_of_metadata();
  const auto ts = every_type_of_tensor();
  const std::string p1 = temp_path("rt1.gguf"), p2 = temp_path("rt2.gguf");
  build_writer(kv, ts).write(p1);

  File f = File::open(p1);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  ASSERT_EQ(f.metadata().size(), kv.size());
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, kv[i].key) << "metadata order must be preserved";
    EXPECT_TRUE(f.metadata()[i].value == kv[i].value) << kv[i].key;
  }
  ASSERT_EQ(f.tensors().size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor& t = f.tensors()[i];
    EXPECT_EQ(t.name, ts[i].name);
    EXPECT_EQ(t.type, ts[i].type);
    EXPECT_EQ(t.shape, ts[i].shape);
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    ASSERT_EQ(t.n_bytes, ts[i].bytes.size()) << t.name;
    EXPECT_TRUE(std::equal(t.bytes().begin(), t.bytes().end(), ts[i].bytes.begin())) << t.name;
    EXPECT_EQ(&f.tensor(t.name), &t);
  }
  EXPECT_EQ(f.tensor("four_dims").n_elements, 30u);
  EXPECT_EQ(f.tensor("scalar").n_elements, 1u);
  // Padded after every tensor, so the file ends on an alignment boundary.
  EXPECT_EQ(f.file_size() % 32, 0u);

  writer_from(f).write(p2);
  EXPECT_EQ(read_bytes(p1), read_bytes(p2)) << "rewriting a read-back file must reproduce it byte for byte";
  std::remove(p1.c_str());
  std::remove(p2.c_str());
}

TEST(GgufRoundTrip, CustomAlignmentPlacesTensorsOnItsMultiples) {
  Writer w;
  w.add_kv("general.alignment", uint32_t{256});
  std::vector<uint8_t> a(12, 1), b(40, 2);
  w.add_tensor("a", GgmlType::F32, {3}, a);
  w.add_tensor("b", GgmlType::F16, {20}, b);
  const std::string p = temp_path("align.gguf");
  w.write(p);
  File f = File::open(p);
  EXPECT_EQ(f.alignment(), 256u);
  EXPECT_EQ(f.data_offset() % 256, 0u);
  EXPECT_EQ(f.tensor("a").offset, 0u);
  EXPECT_EQ(f.tensor("b").offset, 256u);
  EXPECT_EQ(f.file_size(), f.data_offset() + 512);
  EXPECT_EQ(f.tensor("b").data[39], 2);
  std::remove(p.c_str());
}

TEST(GgufRoundTrip, ProducerCallbackStreamsTensorData) {
  Writer w;
  w.add_tensor("p", GgmlType::F32, {1000}, [](TensorSink& s) {
    for (uint32_t i = 0; i < 1000; ++i) {
      float v = static_cast<float>(i) * 0.5f;
      s.write(&v, 4);
    }
  });
  const std::string p = temp_path("producer.gguf");
  w.write(p);
  File f = File::open(p);
  float v;
  std::memcpy(&v, f.tensor("p").data + 4 * 999, 4);
  EXPECT_EQ(v, 499.5f);
  std::remove(p.c_str());
}

TEST(GgufRoundTrip, FailedWriteLeavesNoFile) {
  const std::string p = temp_path("short_producer.gguf");
  std::remove(p.c_str());
  Writer w;
  w.add_kv("k", uint32_t{1});
  w.add_tensor("short", GgmlType::F32, {8}, [](TensorSink& s) { s.write("abcd", 4); });
  try {
    w.write(p);
    FAIL() << "expected pj::Error";
  } catch (const pj::Error& e) {
    EXPECT_NE(std::string(e.what()).find("wrote 4 bytes, expected 32"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));

  Writer w2;
  w2.add_tensor("long", GgmlType::F32, {1}, [](TensorSink& s) { s.write("abcdefgh", 8); });
  EXPECT_THROW(w2.write(p), pj::Error);
  EXPECT_FALSE(fs::exists(p));
}

TEST(GgufWriter, RejectsInvalidInput) {
  auto expect_error = [](auto&& fn, const std::string& fragment) {
    try {
      fn();
      ADD_FAILURE() << "expected pj::Error containing: " << fragment;
    } catch (const pj::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  Writer w;
  w.add_kv("a", int32_t{1});
  expect_error([&] { w.add_kv("a", int32_t{2}); }, "duplicate key 'a'");
  expect_error([&] { w.add_kv("general.alignment", uint32_t{3}); }, "not a power of two");
  expect_error([&] { w.add_kv("general.alignment", uint64_t{32}); }, "must be uint32");
  std::vector<uint8_t> four(4);
  w.add_tensor("t", GgmlType::F32, {1}, four);
  expect_error([&] { w.add_tensor("t", GgmlType::F32, {1}, four); }, "duplicate tensor name 't'");
  expect_error([&] { w.add_tensor("u", GgmlType::F32, {2}, four); }, "needs 8 bytes");
  expect_error([&] { w.add_tensor("v", GgmlType::Q4_0, {16}, four); }, "not a multiple of the Q4_0 block size 32");
  expect_error([&] { w.add_tensor("w", GgmlType::F32, {0}, four); }, "invalid dimension");
  expect_error([&] { w.add_tensor("x", GgmlType::F32, {1, 1, 1, 1, 1}, four); }, "5 dimensions");
}

TEST(GgufFile, TypedGetters) {
  Writer w;
  w.add_kv("llama.block_count", uint32_t{32});
  w.add_kv("small", uint8_t{7});
  w.add_kv("big", uint64_t{1} << 40);
  w.add_kv("neg", int32_t{-5});
  w.add_kv("eps", 1e-5f);
  w.add_kv("theta", 10000.0);
  w.add_kv("flag", true);
  w.add_kv("name", "tiny");
  w.add_kv("tokens", Array(std::vector<std::string>{"a", "b"}));
  const std::string p = temp_path("getters.gguf");
  w.write(p);
  File f = File::open(p);
  EXPECT_EQ(f.get_u32("llama.block_count"), 32u);
  EXPECT_EQ(f.get_u32("small"), 7u);
  EXPECT_EQ(f.get_u64("big"), uint64_t{1} << 40);
  EXPECT_EQ(f.get_i64("neg"), -5);
  EXPECT_EQ(f.get_f32("eps"), 1e-5f);
  EXPECT_EQ(f.get_f64("theta"), 10000.0);
  EXPECT_TRUE(f.get_bool("flag"));
  EXPECT_EQ(f.get_string("name"), "tiny");
  EXPECT_EQ(f.get_array("tokens").get<std::string>().at(1), "b");
  EXPECT_EQ(f.get_u32_or("absent", 9), 9u);
  EXPECT_EQ(f.get_string_or("absent", "x"), "x");
  auto msg = [&](auto&& fn) {
    try {
      fn();
    } catch (const pj::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(msg([&] { f.get_u32("big"); }), "gguf: " + p + ": key 'big' value does not fit in uint32");
  EXPECT_EQ(msg([&] { f.get_u32("neg"); }), "gguf: " + p + ": key 'neg' value does not fit in uint32");
  EXPECT_EQ(msg([&] { f.get_u32("name"); }), "gguf: " + p + ": key 'name' has type string, expected an integer");
  EXPECT_EQ(msg([&] { f.get_string("absent"); }), "gguf: " + p + ": missing key 'absent'");
  EXPECT_EQ(msg([&] { f.get_u32_or("name", 1); }), "gguf: " + p + ": key 'name' has type string, expected an integer");
  EXPECT_EQ(msg([&] { f.get_array("tokens").get<float>(); }), "gguf: array of string read as array of float32");
  EXPECT_EQ(msg([&] { f.tensor("nope"); }), "gguf: " + p + ": no tensor named 'nope'");
  std::remove(p.c_str());
}

TEST(GgufFile, MoveKeepsTensorPointersAndIndex) {
  // A file opened through a mapping exposes tensor pointers into it; File is movable without
  // invalidating them or the name index.
  Writer w;
  std::vector<uint8_t> bytes(64, 0x5a);
  w.add_tensor("blk.0.attn_q.weight", GgmlType::F32, {16}, bytes);
  const std::string p = temp_path("move.gguf");
  w.write(p);
  File a = File::open(p);
  const uint8_t* data = a.tensor("blk.0.attn_q.weight").data;
  File b = std::move(a);
  EXPECT_EQ(b.tensor("blk.0.attn_q.weight").data, data);
  EXPECT_EQ(data[63], 0x5a);
  std::remove(p.c_str());
}

TEST(GgufFile, OpenDoesNotReadTensorData) {
  // An 8 GiB file (sparse: only the header is on disk) must open without touching its tensor data:
  // peak RSS may grow by at most 64 MiB (headroom for the sanitizer runtime), far below 8 GiB.
  const std::string p = temp_path("big_sparse.gguf");
  const uint64_t n = uint64_t{1} << 30;  // F32 elements per tensor: 4 GiB each
  // Header by hand (our writer would stream the 8 GiB); the data section is a hole in the file.
  std::string head = "GGUF";
  auto u32 = [&](uint32_t v) { head.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](uint64_t v) { head.append(reinterpret_cast<const char*>(&v), 8); };
  auto str = [&](std::string_view s) { u64(s.size()); head.append(s); };
  u32(3); u64(2); u64(0);
  str("a"); u32(1); u64(n); u32(0); u64(0);
  str("b"); u32(1); u64(n); u32(0); u64(4 * n);
  head.resize((head.size() + 31) / 32 * 32, '\0');
  {
    std::ofstream out(p, std::ios::binary);
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
  }
  fs::resize_file(p, head.size() + 8 * n);
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  File f = File::open(p);
  uint64_t total = 0;
  for (const auto& t : f.tensors()) total += t.n_bytes;
  getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(total, 8 * n);
  EXPECT_EQ(f.tensor("b").data, f.tensor("a").data + 4 * n);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "KiB of peak RSS added by File::open";
  std::remove(p.c_str());
}
