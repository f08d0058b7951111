// GGUF reader: parses the header, metadata and tensor table of a mapped file and checks every count,
// size and offset against the bytes that exist. Tensor data is not touched.
#include "core/base/error.h"
#include "core/gguf/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace pj::gguf {

namespace {

// Smallest encodings, used to bound counts by the bytes left before allocating anything.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims = 0, type, offset

// Reads little-endian fields from [data, data + size); every read is bounds-checked and a short read
// reports what was being read and where.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& path) : p_(data), size_(size), path_(path) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  [[noreturn]] void truncated(uint64_t need, std::string_view what) const {
    fail("gguf: {}: file is truncated: {} needs {} bytes at offset {}, but only {} remain", path_, what,
         need, pos_, left());
  }

  void need(uint64_t n, std::string_view what) const {
    if (n > left()) truncated(n, what);
  }

  template <typename T>
  T read(std::string_view what) {
    static_assert(std::endian::native == std::endian::little, "GGUF reader assumes a little-endian host");
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what) {
    uint64_t n = read<uint64_t>(what);
    if (n > left())
      fail("gguf: {}: {} has length {} but only {} bytes remain (offset {})", path_, what, n, left(), pos_);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  // Reads `count` fixed-size elements of type T into a vector.
  template <typename T>
  std::vector<T> read_vector(uint64_t count, std::string_view what) {
    if (count > left() / sizeof(T))
      fail("gguf: {}: {} has {} elements of {} bytes but only {} bytes remain (offset {})", path_, what,
           count, sizeof(T), left(), pos_);
    std::vector<T> v(static_cast<size_t>(count));
    if (count) std::memcpy(v.data(), p_ + pos_, static_cast<size_t>(count) * sizeof(T));
    pos_ += static_cast<size_t>(count) * sizeof(T);
    return v;
  }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

class MetadataParser {
 public:
  MetadataParser(Cursor& c, const std::string& path) : c_(c), path_(path) {}

  Value read_value(ValueType type, const std::string& key) {
    switch (type) {
      case ValueType::U8: return c_.read<uint8_t>(what(key));
      case ValueType::I8: return c_.read<int8_t>(what(key));
      case ValueType::U16: return c_.read<uint16_t>(what(key));
      case ValueType::I16: return c_.read<int16_t>(what(key));
      case ValueType::U32: return c_.read<uint32_t>(what(key));
      case ValueType::I32: return c_.read<int32_t>(what(key));
      case ValueType::F32: return c_.read<float>(what(key));
      case ValueType::U64: return c_.read<uint64_t>(what(key));
      case ValueType::I64: return c_.read<int64_t>(what(key));
      case ValueType::F64: return c_.read<double>(what(key));
      case ValueType::Bool: return read_bool(key);
      case ValueType::String: return c_.read_string(what(key));
      case ValueType::Array: return read_array(key, 0);
    }
    fail("gguf: {}: key '{}' has unknown value type {}", path_, key, static_cast<uint32_t>(type));
  }

  ValueType read_type(const std::string& key, std::string_view role) {
    uint32_t t = c_.read<uint32_t>(what(key));
    if (t >= kValueTypeCount)
      fail("gguf: {}: key '{}' has unknown {} type {} (offset {})", path_, key, role, t, c_.pos() - 4);
    return static_cast<ValueType>(t);
  }

 private:
  std::string what(const std::string& key) const { return fmt::format("value of key '{}'", key); }

  bool read_bool(const std::string& key) {
    uint8_t b = c_.read<uint8_t>(what(key));
    if (b > 1) fail("gguf: {}: key '{}' has bool value {} (must be 0 or 1)", path_, key, b);
    return b != 0;
  }

  Array read_array(const std::string& key, uint32_t depth) {
    if (depth >= kMaxArrayNesting)
      fail("gguf: {}: key '{}' has arrays nested more than {} deep", path_, key, kMaxArrayNesting);
    ValueType et = read_type(key, "array element");
    uint64_t n = c_.read<uint64_t>(what(key));
    std::string w = fmt::format("array '{}'", key);
    switch (et) {
      case ValueType::U8: return Array(c_.read_vector<uint8_t>(n, w));
      case ValueType::I8: return Array(c_.read_vector<int8_t>(n, w));
      case ValueType::U16: return Array(c_.read_vector<uint16_t>(n, w));
      case ValueType::I16: return Array(c_.read_vector<int16_t>(n, w));
      case ValueType::U32: return Array(c_.read_vector<uint32_t>(n, w));
      case ValueType::I32: return Array(c_.read_vector<int32_t>(n, w));
      case ValueType::F32: return Array(c_.read_vector<float>(n, w));
      case ValueType::U64: return Array(c_.read_vector<uint64_t>(n, w));
      case ValueType::I64: return Array(c_.read_vector<int64_t>(n, w));
      case ValueType::F64: return Array(c_.read_vector<double>(n, w));
      case ValueType::Bool: {
        check_count(key, n, 1);
        std::vector<bool> v(static_cast<size_t>(n));
        for (size_t i = 0; i < v.size(); ++i) v[i] = read_bool(key);
        return Array(std::move(v));
      }
      case ValueType::String: {
        check_count(key, n, 8);
        std::vector<std::string> v(static_cast<size_t>(n));
        for (auto& s : v) s = c_.read_string(w);
        return Array(std::move(v));
      }
      case ValueType::Array: {
        check_count(key, n, 4 + 8);
        std::vector<Array> v(static_cast<size_t>(n));
        for (auto& a : v) a = read_array(key, depth + 1);
        return Array(std::move(v));
      }
    }
    fail("gguf: {}: key '{}' has unknown array element type", path_, key);
  }

  // Bounds an element count by the bytes left, given the smallest encoding of one element.
  void check_count(const std::string& key, uint64_t n, uint64_t min_bytes) {
    if (n > c_.left() / min_bytes)
      fail("gguf: {}: array '{}' claims {} elements but only {} bytes remain (offset {})", path_, key, n,
           c_.left(), c_.pos());
  }

  Cursor& c_;
  const std::string& path_;
};

}  // namespace

File File::open(const std::string& path) {
  File f;
  f.map_ = MappedFile(path);
  f.parse();
  return f;
}

File File::from_memory(const void* data, size_t size, std::string name) {
  File f;
  f.map_ = MappedFile::borrow(data, size, std::move(name));
  f.parse();
  return f;
}

void File::parse() {
  const std::string& path = map_.path();
  Cursor c(map_.data(), map_.size(), path);
  if (map_.size() < 4 || std::memcmp(map_.data(), "GGUF", 4) != 0)
    fail("gguf: {}: not a GGUF file (bad magic; expected \"GGUF\")", path);
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1)
    fail("gguf: {}: GGUF version 1 is not supported (re-convert the model with a current llama.cpp)", path);
  if (version_ != 2 && version_ != 3) {
    if (__builtin_bswap32(version_) == 2 || __builtin_bswap32(version_) == 3)
      fail("gguf: {}: big-endian GGUF files are not supported", path);
    fail("gguf: {}: unsupported GGUF version {} (expected 3)", path, version_);
  }
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  if (n_kv > c.left() / kMinKvBytes)
    fail("gguf: {}: metadata count {} is impossible for a file of {} bytes", path, n_kv, map_.size());
  if (n_tensors > c.left() / kMinTensorInfoBytes)
    fail("gguf: {}: tensor count {} is impossible for a file of {} bytes", path, n_tensors, map_.size());

  MetadataParser mp(c, path);
  // Index keys view the std::strings inside kv_, whose elements never move: kv_ is reserved up front.
  kv_.reserve(static_cast<size_t>(n_kv));
  kv_index_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    size_t at = c.pos();
    std::string key = c.read_string(fmt::format("key #{}", i));
    ValueType t = mp.read_type(key, "value");
    Value v = mp.read_value(t, key);
    if (kv_index_.contains(key)) fail("gguf: {}: duplicate key '{}' (second at offset {})", path, key, at);
    kv_.push_back({std::move(key), std::move(v)});
    kv_index_.emplace(kv_.back().key, kv_.size() - 1);
  }

  if (const Value* a = find(kAlignmentKey)) {
    const uint32_t* al = a->get_if<uint32_t>();
    if (!al)
      fail("gguf: {}: {} has type {}, expected uint32", path, kAlignmentKey, value_type_name(a->type()));
    if (*al == 0 || !std::has_single_bit(*al))
      fail("gguf: {}: {} is {}, which is not a power of two", path, kAlignmentKey, *al);
    alignment_ = *al;
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  tensor_index_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Tensor t;
    t.name = c.read_string(fmt::format("name of tensor #{}", i));
    std::string w = fmt::format("info of tensor '{}'", t.name);
    uint32_t n_dims = c.read<uint32_t>(w);
    if (n_dims > kMaxDims)
      fail("gguf: {}: tensor '{}' has {} dimensions (at most {})", path, t.name, n_dims, kMaxDims);
    t.shape = c.read_vector<uint64_t>(n_dims, w);
    uint32_t type_id = c.read<uint32_t>(w);
    if (!ggml_type_info(type_id)) {
      if (auto removed = ggml_removed_type_name(type_id); !removed.empty())
        fail("gguf: {}: tensor '{}' has type {} (id {}), which was removed from ggml; re-convert the model",
             path, t.name, removed, type_id);
      fail("gguf: {}: tensor '{}' has unknown type id {}", path, t.name, type_id);
    }
    t.type = static_cast<GgmlType>(type_id);
    TensorSize sz = tensor_size(t.type, t.shape);
    if (!sz.error.empty()) fail("gguf: {}: tensor '{}' {}", path, t.name, sz.error);
    t.n_elements = sz.n_elements;
    t.n_bytes = sz.n_bytes;
    t.offset = c.read<uint64_t>(w);
    if (t.offset % alignment_ != 0)
      fail("gguf: {}: tensor '{}' offset {} is not a multiple of the alignment {}", path, t.name, t.offset,
           alignment_);
    tensors_.push_back(std::move(t));
    // As for keys: tensors_ is reserved, so the viewed names do not move.
    if (!tensor_index_.emplace(tensors_.back().name, tensors_.size() - 1).second)
      fail("gguf: {}: duplicate tensor name '{}'", path, tensors_.back().name);
  }

  // The data section starts at the next multiple of the alignment after the tensor table.
  uint64_t pos = c.pos();
  data_offset_ = pos + (alignment_ - pos % alignment_) % alignment_;

  const uint64_t file_size = map_.size();
  for (auto& t : tensors_) {
    uint64_t start = data_offset_ + t.offset;  // no overflow: offset checked below first
    if (t.offset > file_size || data_offset_ > file_size - t.offset || t.n_bytes > file_size - start)
      fail("gguf: {}: tensor '{}' extends past end of file (offset {}, size {}, file {})", path, t.name,
           t.offset > file_size ? t.offset : start, t.n_bytes, file_size);
    t.data = map_.data() + start;
  }

  // No two tensors may share bytes (zero-size tensors cannot exist: every dim is >= 1).
  std::vector<const Tensor*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Tensor* a, const Tensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Tensor& a = *by_offset[i - 1];
    const Tensor& b = *by_offset[i];
    if (a.offset + a.n_bytes > b.offset)
      fail("gguf: {}: tensors '{}' (offset {}, size {}) and '{}' (offset {}) overlap", path, a.name, a.offset,
           a.n_bytes, b.name, b.offset);
  }
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].value;
}

const Value& File::get(std::string_view key) const {
  const Value* v = find(key);
  if (!v) fail("gguf: {}: missing key '{}'", path(), key);
  return *v;
}

void File::wrong_type(std::string_view key, const Value& v, std::string_view wanted) const {
  fail("gguf: {}: key '{}' has type {}, expected {}", path(), key, value_type_name(v.type()), wanted);
}

template <typename T>
T File::get_int(std::string_view key) const {
  const Value& v = get(key);
  if (auto r = v.as_int<T>()) return *r;
  if (v.type() == ValueType::Bool || v.type() == ValueType::String || v.type() == ValueType::Array ||
      v.type() == ValueType::F32 || v.type() == ValueType::F64)
    wrong_type(key, v, "an integer");
  fail("gguf: {}: key '{}' value does not fit in {}", path(), key, value_type_name(value_type_of<T>()));
}

uint32_t File::get_u32(std::string_view key) const { return get_int<uint32_t>(key); }
int32_t File::get_i32(std::string_view key) const { return get_int<int32_t>(key); }
uint64_t File::get_u64(std::string_view key) const { return get_int<uint64_t>(key); }
int64_t File::get_i64(std::string_view key) const { return get_int<int64_t>(key); }

double File::get_f64(std::string_view key) const {
  const Value& v = get(key);
  if (auto* f = v.get_if<float>()) return *f;
  if (auto* d = v.get_if<double>()) return *d;
  wrong_type(key, v, "a float");
}
float File::get_f32(std::string_view key) const { return static_cast<float>(get_f64(key)); }

bool File::get_bool(std::string_view key) const {
  const Value& v = get(key);
  if (auto* b = v.get_if<bool>()) return *b;
  wrong_type(key, v, "bool");
}

const std::string& File::get_string(std::string_view key) const {
  const Value& v = get(key);
  if (auto* s = v.get_if<std::string>()) return *s;
  wrong_type(key, v, "string");
}

const Array& File::get_array(std::string_view key) const {
  const Value& v = get(key);
  if (auto* a = v.get_if<Array>()) return *a;
  wrong_type(key, v, "array");
}

uint32_t File::get_u32_or(std::string_view key, uint32_t fallback) const {
  return has(key) ? get_u32(key) : fallback;
}
float File::get_f32_or(std::string_view key, float fallback) const { return has(key) ? get_f32(key) : fallback; }
bool File::get_bool_or(std::string_view key, bool fallback) const { return has(key) ? get_bool(key) : fallback; }
std::string File::get_string_or(std::string_view key, std::string fallback) const {
  return has(key) ? get_string(key) : fallback;
}

const Tensor* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const Tensor& File::tensor(std::string_view name) const {
  const Tensor* t = find_tensor(name);
  if (!t) fail("gguf: {}: no tensor named '{}'", path(), name);
  return *t;
}

}  // namespace pj::gguf
