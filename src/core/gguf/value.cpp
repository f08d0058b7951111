// Metadata values: type names and sizes, equality, integer conversion, tensor size rules.
#include "core/base/error.h"
#include "core/gguf/gguf.h"

#include <cstring>
#include <limits>

namespace pj::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "uint8";
    case ValueType::I8: return "int8";
    case ValueType::U16: return "uint16";
    case ValueType::I16: return "int16";
    case ValueType::U32: return "uint32";
    case ValueType::I32: return "int32";
    case ValueType::F32: return "float32";
    case ValueType::Bool: return "bool";
    case ValueType::String: return "string";
    case ValueType::Array: return "array";
    case ValueType::U64: return "uint64";
    case ValueType::I64: return "int64";
    case ValueType::F64: return "float64";
  }
  return "unknown";
}

size_t value_type_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::String: case ValueType::Array: return 0;
  }
  return 0;
}

Array Array::empty(ValueType element_type) {
  Storage s;
  switch (element_type) {
    case ValueType::U8: s = std::vector<uint8_t>{}; break;
    case ValueType::I8: s = std::vector<int8_t>{}; break;
    case ValueType::U16: s = std::vector<uint16_t>{}; break;
    case ValueType::I16: s = std::vector<int16_t>{}; break;
    case ValueType::U32: s = std::vector<uint32_t>{}; break;
    case ValueType::I32: s = std::vector<int32_t>{}; break;
    case ValueType::F32: s = std::vector<float>{}; break;
    case ValueType::Bool: s = std::vector<bool>{}; break;
    case ValueType::String: s = std::vector<std::string>{}; break;
    case ValueType::Array: s = std::vector<Array>{}; break;
    case ValueType::U64: s = std::vector<uint64_t>{}; break;
    case ValueType::I64: s = std::vector<int64_t>{}; break;
    case ValueType::F64: s = std::vector<double>{}; break;
  }
  return Array(std::move(s));
}

size_t Array::size() const {
  return std::visit([](const auto& v) { return v.size(); }, items_);
}

void Array::throw_type_mismatch(ValueType wanted) const {
  fail("gguf: array of {} read as array of {}", value_type_name(element_type()), value_type_name(wanted));
}

namespace {

// Floats compare by bit pattern: a round trip must keep NaN payloads and the sign of zero.
template <typename T>
bool same_bits(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
  } else {
    return a == b;
  }
}

}  // namespace

bool Array::operator==(const Array& o) const {
  if (items_.index() != o.items_.index()) return false;
  return std::visit(
      [&](const auto& a) {
        const auto& b = std::get<std::decay_t<decltype(a)>>(o.items_);
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i)
          if (!same_bits<typename std::decay_t<decltype(a)>::value_type>(a[i], b[i])) return false;
        return true;
      },
      items_);
}

bool Value::operator==(const Value& o) const {
  if (v_.index() != o.v_.index()) return false;
  return std::visit(
      [&](const auto& a) { return same_bits(a, std::get<std::decay_t<decltype(a)>>(o.v_)); }, v_);
}

template <typename T>
std::optional<T> Value::as_int() const {
  return std::visit(
      [](const auto& v) -> std::optional<T> {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>) {
          if (std::in_range<T>(v)) return static_cast<T>(v);
        }
        return std::nullopt;
      },
      v_);
}
template std::optional<uint32_t> Value::as_int<uint32_t>() const;
template std::optional<int32_t> Value::as_int<int32_t>() const;
template std::optional<uint64_t> Value::as_int<uint64_t>() const;
template std::optional<int64_t> Value::as_int<int64_t>() const;

TensorSize tensor_size(GgmlType type, std::span<const uint64_t> shape) {
  TensorSize r;
  const GgmlTypeInfo* info = ggml_type_info(static_cast<uint32_t>(type));
  if (!info) {
    r.error = fmt::format("unknown type id {}", static_cast<uint32_t>(type));
    return r;
  }
  if (shape.size() > kMaxDims) {
    r.error = fmt::format("has {} dimensions (at most {})", shape.size(), kMaxDims);
    return r;
  }
  // ggml stores ne as int64_t: every dim and every product must stay within it.
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 || shape[i] > kMax) {
      r.error = fmt::format("has invalid dimension ne[{}] = {}", i, static_cast<int64_t>(shape[i]));
      return r;
    }
    if (n > kMax / shape[i]) {
      r.error = fmt::format("has too many elements (dimension product overflows int64)");
      return r;
    }
    n *= shape[i];
  }
  uint64_t row = shape.empty() ? 1 : shape[0];
  if (row % info->block_size != 0) {
    r.error = fmt::format("has row length {} that is not a multiple of the {} block size {}", row,
                          info->name, info->block_size);
    return r;
  }
  uint64_t blocks = n / info->block_size;
  if (blocks > kMax / info->type_size) {
    r.error = "has a byte size that overflows int64";
    return r;
  }
  r.n_elements = n;
  r.n_bytes = blocks * info->type_size;
  return r;
}

}  // namespace pj::gguf
