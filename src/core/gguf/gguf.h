// GGUF v3 files (llama.cpp's model format): a reader over a memory map and a streaming writer.
//
// Layout (little-endian; spec: ggml/docs/gguf.md in llama.cpp):
//   "GGUF" u32 version, u64 n_tensors, u64 n_kv,
//   n_kv x { string key, u32 value_type, value },
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
//   zero padding to `general.alignment` (default 32), then the data section; each tensor's offset is
//   relative to the data section and a multiple of the alignment.
//   string = u64 length + bytes (no terminator); array = u32 element type + u64 count + elements.
//
// Reading (pj::gguf::File) validates everything against the bytes that exist and throws pj::Error
// "gguf: <file>: <problem>" for any malformed input. Tensor data is never read at open time: a Tensor
// points into the mapping. Version 2 files (same layout) are read too; version 1 is rejected.
//
// Writing (pj::gguf::Writer) collects metadata and tensor descriptions, then streams everything to
// "<path>.tmp.<pid>" and renames it into place only once complete (pj::AtomicFileWriter).
//
//   auto f = pj::gguf::File::open("model.gguf");
//   uint32_t n_layer = f.get_u32("llama.block_count");
//   const auto& tokens = f.get_array("tokenizer.ggml.tokens").get<std::string>();
//   const pj::gguf::Tensor& q = f.tensor("blk.0.attn_q.weight");  // q.shape[0] is the row length
//
//   pj::gguf::Writer w;
//   w.add_kv("general.architecture", "llama");
//   w.add_kv("llama.block_count", uint32_t{32});
//   w.add_tensor("token_embd.weight", pj::GgmlType::F16, {4096, 32000}, bytes);
//   w.write("out.gguf");
#pragma once

#include "core/base/file.h"
#include "core/base/ggml_types.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace pj::gguf {

inline constexpr uint32_t kVersion = 3;
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;          // GGML_MAX_DIMS
inline constexpr uint32_t kMaxArrayNesting = 8;  // arrays of arrays; bounds recursion on hostile input
inline constexpr std::string_view kAlignmentKey = "general.alignment";

// Metadata value type ids as stored in the file (gguf_type in ggml's gguf.h).
enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
inline constexpr uint32_t kValueTypeCount = 13;

// "uint8", "int32", "float32", "bool", "string", "array", ... (gguf-py's spelling, lower case).
std::string_view value_type_name(ValueType t);
// Bytes of one element of a fixed-size type; 0 for String and Array.
size_t value_type_size(ValueType t);

class Array;
class Value;

// The ValueType of a C++ element type (uint8_t -> U8, std::string -> String, Array -> Array, ...).
template <typename T>
constexpr ValueType value_type_of();

// A metadata array: one element type, elements stored as a typed vector. The alternative index of
// Storage equals the ValueType id, so element_type() is storage().index().
class Array {
 public:
  using Storage = std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>,
                               std::vector<int16_t>, std::vector<uint32_t>, std::vector<int32_t>,
                               std::vector<float>, std::vector<bool>, std::vector<std::string>,
                               std::vector<Array>, std::vector<uint64_t>, std::vector<int64_t>,
                               std::vector<double>>;

  Array() = default;  // an empty array of uint8
  template <typename T>
  explicit Array(std::vector<T> items) : items_(std::move(items)) {}
  explicit Array(Storage items) : items_(std::move(items)) {}
  // An empty array of the given element type.
  static Array empty(ValueType element_type);

  ValueType element_type() const { return static_cast<ValueType>(items_.index()); }
  size_t size() const;
  bool empty() const { return size() == 0; }

  // The elements as their exact stored type; throws pj::Error if T is not the element type.
  template <typename T>
  const std::vector<T>& get() const {
    if (auto* v = std::get_if<std::vector<T>>(&items_)) return *v;
    throw_type_mismatch(value_type_of<T>());
  }
  template <typename T>
  bool holds() const { return std::holds_alternative<std::vector<T>>(items_); }
  const Storage& storage() const { return items_; }

  bool operator==(const Array& o) const;

 private:
  [[noreturn]] void throw_type_mismatch(ValueType wanted) const;
  Storage items_;
};

// One metadata value; the alternative index of Storage equals the ValueType id.
class Value {
 public:
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, Array, uint64_t, int64_t, double>;

  Value() = default;
  // One constructor per exact type, so that `Value(uint16_t{3})` cannot silently become another width.
  Value(uint8_t v) : v_(v) {}
  Value(int8_t v) : v_(v) {}
  Value(uint16_t v) : v_(v) {}
  Value(int16_t v) : v_(v) {}
  Value(uint32_t v) : v_(v) {}
  Value(int32_t v) : v_(v) {}
  Value(float v) : v_(v) {}
  Value(bool v) : v_(v) {}
  Value(std::string v) : v_(std::move(v)) {}
  Value(std::string_view v) : v_(std::string(v)) {}
  Value(const char* v) : v_(std::string(v)) {}
  Value(Array v) : v_(std::move(v)) {}
  Value(uint64_t v) : v_(v) {}
  Value(int64_t v) : v_(v) {}
  Value(double v) : v_(v) {}
  explicit Value(Storage v) : v_(std::move(v)) {}

  ValueType type() const { return static_cast<ValueType>(v_.index()); }
  const Storage& storage() const { return v_; }
  template <typename T>
  const T* get_if() const { return std::get_if<T>(&v_); }

  // Integer value of any integer type (not bool), if it is one and fits in T.
  template <typename T>
  std::optional<T> as_int() const;

  // Exact equality; floats compare by bit pattern so that NaN payloads and -0 count.
  bool operator==(const Value& o) const;

 private:
  Storage v_{uint8_t{0}};
};

template <typename T>
constexpr ValueType value_type_of() {
  using V = Value::Storage;
  constexpr size_t n = std::variant_size_v<V>;
  return []<size_t... I>(std::index_sequence<I...>) {
    size_t found = n;
    ((std::is_same_v<T, std::variant_alternative_t<I, V>> ? (found = I, 0) : 0), ...);
    return static_cast<ValueType>(found);
  }(std::make_index_sequence<n>{});
}

struct KeyValue {
  std::string key;
  Value value;
};

struct Tensor {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<uint64_t> shape;  // ne[0..n_dims): ne[0] is the contiguous (row) dimension, as ggml
  uint64_t offset = 0;          // from the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the File's mapping

  std::span<const uint8_t> bytes() const { return {data, static_cast<size_t>(n_bytes)}; }
  uint64_t ne(size_t i) const { return i < shape.size() ? shape[i] : 1; }
};

// A parsed GGUF file. Move-only; tensors point into the mapping it owns (or, for from_memory, into
// the caller's buffer, which must outlive the File).
class File {
 public:
  static File open(const std::string& path);
  static File from_memory(const void* data, size_t size, std::string name);

  const std::string& path() const { return map_.path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section
  size_t file_size() const { return map_.size(); }

  // Metadata in file order.
  const std::vector<KeyValue>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: throw pj::Error naming the file and key if it is missing or has another type.
  // Integer getters accept any integer type whose value fits; float getters accept float32/float64.
  const Value& get(std::string_view key) const;
  uint32_t get_u32(std::string_view key) const;
  int32_t get_i32(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  float get_f32(std::string_view key) const;
  double get_f64(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const Array& get_array(std::string_view key) const;
  // Same, with a fallback used only when the key is absent (a present key of the wrong type throws).
  uint32_t get_u32_or(std::string_view key, uint32_t fallback) const;
  float get_f32_or(std::string_view key, float fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;
  std::string get_string_or(std::string_view key, std::string fallback) const;

  // Tensors in file order.
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* find_tensor(std::string_view name) const;
  const Tensor& tensor(std::string_view name) const;  // throws if absent

 private:
  File() = default;
  void parse();
  template <typename T>
  T get_int(std::string_view key) const;
  [[noreturn]] void wrong_type(std::string_view key, const Value& v, std::string_view wanted) const;

  MappedFile map_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kv_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string_view, size_t> kv_index_;      // views into kv_[i].key
  std::unordered_map<std::string_view, size_t> tensor_index_;  // views into tensors_[i].name
};

// Receives the bytes of one tensor from a producer callback; counts them and refuses more than the
// tensor's size.
class TensorSink {
 public:
  void write(const void* data, size_t n);
  uint64_t written() const { return written_; }

 private:
  friend class Writer;
  TensorSink(AtomicFileWriter& out, const std::string& tensor, uint64_t n_bytes)
      : out_(out), tensor_(tensor), n_bytes_(n_bytes) {}
  AtomicFileWriter& out_;
  const std::string& tensor_;
  uint64_t n_bytes_;
  uint64_t written_ = 0;
};
using TensorProducer = std::function<void(TensorSink&)>;

// Builds a GGUF v3 file. Keys and tensors are written in the order they were added. Adding a
// "general.alignment" key (uint32, power of two) sets the alignment; otherwise it is 32.
class Writer {
 public:
  // Throws pj::Error on a duplicate key or a bad general.alignment value.
  void add_kv(std::string key, Value value);
  // `data` must hold exactly the tensor's byte size and stay valid until write() returns.
  void add_tensor(std::string name, GgmlType type, std::vector<uint64_t> shape,
                  std::span<const uint8_t> data);
  // `produce` is called during write() and must write exactly the tensor's byte size to the sink.
  void add_tensor(std::string name, GgmlType type, std::vector<uint64_t> shape,
                  TensorProducer produce);

  uint32_t alignment() const { return alignment_; }
  const std::vector<KeyValue>& metadata() const { return kv_; }
  // Writes the file atomically; on any error nothing is left at `path`.
  void write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> shape;
    uint64_t n_bytes;
    std::span<const uint8_t> data;
    TensorProducer produce;
  };
  PendingTensor& add_tensor_info(std::string name, GgmlType type, std::vector<uint64_t> shape);

  uint32_t alignment_ = kDefaultAlignment;
  std::vector<KeyValue> kv_;
  std::vector<PendingTensor> tensors_;
  std::unordered_map<std::string, size_t> kv_index_, tensor_index_;
};

// Element count and byte size of a tensor of `type` and `shape`, with the checks a reader needs:
// 0..4 dims, every dim >= 1, products within int64, ne[0] a multiple of the block size. On failure
// returns an error message fragment (no file name) instead.
struct TensorSize {
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  std::string error;  // empty when valid
};
TensorSize tensor_size(GgmlType type, std::span<const uint64_t> shape);

}  // namespace pj::gguf
