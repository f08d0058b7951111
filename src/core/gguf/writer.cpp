// GGUF writer: validates what it is given, lays tensors out in the order added (each at a multiple of
// the alignment, each followed by zero padding, as llama.cpp and gguf-py do) and streams the file.
#include "core/base/error.h"
#include "core/gguf/gguf.h"

#include <bit>
#include <cstring>

namespace pj::gguf {

namespace {

uint64_t pad_to(uint64_t n, uint32_t alignment) { return (alignment - n % alignment) % alignment; }

class Encoder {
 public:
  explicit Encoder(AtomicFileWriter& out) : out_(out) {}

  template <typename T>
  void put(T v) {
    static_assert(std::endian::native == std::endian::little, "GGUF writer assumes a little-endian host");
    out_.write(&v, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    out_.write(s.data(), s.size());
  }

  void put_value(const Value& v) {
    std::visit([&](const auto& x) { put_payload(x); }, v.storage());
  }

 private:
  template <typename T>
  void put_payload(const T& x) {
    if constexpr (std::is_same_v<T, bool>) {
      put<uint8_t>(x ? 1 : 0);
    } else if constexpr (std::is_same_v<T, std::string>) {
      put_string(x);
    } else if constexpr (std::is_same_v<T, Array>) {
      put_array(x);
    } else {
      put<T>(x);
    }
  }

  void put_array(const Array& a) {
    put<uint32_t>(static_cast<uint32_t>(a.element_type()));
    put<uint64_t>(a.size());
    std::visit(
        [&](const auto& items) {
          using E = typename std::decay_t<decltype(items)>::value_type;
          if constexpr (std::is_arithmetic_v<E> && !std::is_same_v<E, bool>) {
            out_.write(items.data(), items.size() * sizeof(E));
          } else {
            for (const auto& e : items) put_payload<E>(e);
          }
        },
        a.storage());
  }

  AtomicFileWriter& out_;
};

}  // namespace

void TensorSink::write(const void* data, size_t n) {
  if (n > n_bytes_ - written_)
    fail("gguf: {}: producer of tensor '{}' wrote more than its {} bytes", out_.path(), tensor_, n_bytes_);
  out_.write(data, n);
  written_ += n;
}

void Writer::add_kv(std::string key, Value value) {
  if (kv_index_.contains(key)) fail("gguf: writer: duplicate key '{}'", key);
  if (key == kAlignmentKey) {
    const uint32_t* al = value.get_if<uint32_t>();
    if (!al) fail("gguf: writer: {} must be uint32, got {}", kAlignmentKey, value_type_name(value.type()));
    if (*al == 0 || !std::has_single_bit(*al))
      fail("gguf: writer: {} is {}, which is not a power of two", kAlignmentKey, *al);
    if (!tensors_.empty()) fail("gguf: writer: {} must be set before adding tensors", kAlignmentKey);
    alignment_ = *al;
  }
  kv_index_.emplace(key, kv_.size());
  kv_.push_back({std::move(key), std::move(value)});
}

Writer::PendingTensor& Writer::add_tensor_info(std::string name, GgmlType type, std::vector<uint64_t> shape) {
  if (tensor_index_.contains(name)) fail("gguf: writer: duplicate tensor name '{}'", name);
  TensorSize sz = tensor_size(type, shape);
  if (!sz.error.empty()) fail("gguf: writer: tensor '{}' {}", name, sz.error);
  tensor_index_.emplace(name, tensors_.size());
  tensors_.push_back({std::move(name), type, std::move(shape), sz.n_bytes, {}, {}});
  return tensors_.back();
}

void Writer::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> shape,
                        std::span<const uint8_t> data) {
  TensorSize sz = tensor_size(type, shape);
  if (sz.error.empty() && data.size() != sz.n_bytes)
    fail("gguf: writer: tensor '{}' needs {} bytes of {} data, got {}", name, sz.n_bytes,
         ggml_type_info(type).name, data.size());
  add_tensor_info(std::move(name), type, std::move(shape)).data = data;
}

void Writer::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> shape, TensorProducer produce) {
  if (!produce) fail("gguf: writer: tensor '{}' has no producer", name);
  add_tensor_info(std::move(name), type, std::move(shape)).produce = std::move(produce);
}

void Writer::write(const std::string& path) const {
  AtomicFileWriter out(path);
  Encoder e(out);
  out.write("GGUF", 4);
  e.put<uint32_t>(kVersion);
  e.put<uint64_t>(tensors_.size());
  e.put<uint64_t>(kv_.size());
  for (const auto& kv : kv_) {
    e.put_string(kv.key);
    e.put<uint32_t>(static_cast<uint32_t>(kv.value.type()));
    e.put_value(kv.value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    e.put_string(t.name);
    e.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) e.put<uint64_t>(d);
    e.put<uint32_t>(static_cast<uint32_t>(t.type));
    e.put<uint64_t>(offset);
    offset += t.n_bytes + pad_to(t.n_bytes, alignment_);
  }
  out.write_zeros(pad_to(out.offset(), alignment_));
  for (const auto& t : tensors_) {
    if (t.produce) {
      TensorSink sink(out, t.name, t.n_bytes);
      t.produce(sink);
      if (sink.written() != t.n_bytes)
        fail("gguf: {}: producer of tensor '{}' wrote {} bytes, expected {}", path, t.name, sink.written(),
             t.n_bytes);
    } else {
      out.write(t.data.data(), t.data.size());
    }
    out.write_zeros(pad_to(t.n_bytes, alignment_));
  }
  out.commit();
}

}  // namespace pj::gguf
