#include "core/safetensors/safetensors.h"

#include "core/base/error.h"
#include "core/base/half.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <unordered_set>

namespace pj::safetensors {

namespace {

using json = nlohmann::ordered_json;  // keeps the header order, which is the data order

struct DtypeRow {
  Dtype dtype;
  std::string_view name;
  size_t size;
  bool is_float;
};

// Names as the safetensors crate spells them (safetensors/src/tensor.rs, enum Dtype).
constexpr DtypeRow kDtypes[] = {
    {Dtype::F64, "F64", 8, true},      {Dtype::F32, "F32", 4, true},   {Dtype::F16, "F16", 2, true},
    {Dtype::BF16, "BF16", 2, true},    {Dtype::I64, "I64", 8, false},  {Dtype::I32, "I32", 4, false},
    {Dtype::I16, "I16", 2, false},     {Dtype::I8, "I8", 1, false},    {Dtype::U8, "U8", 1, false},
    {Dtype::BOOL, "BOOL", 1, false},   {Dtype::U64, "U64", 8, false},  {Dtype::U32, "U32", 4, false},
    {Dtype::U16, "U16", 2, false},     {Dtype::F8_E4M3, "F8_E4M3", 1, true},
    {Dtype::F8_E5M2, "F8_E5M2", 1, true},
};

const DtypeRow& row(Dtype t) {
  for (const auto& r : kDtypes)
    if (r.dtype == t) return r;
  return kDtypes[1];  // unreachable: every enumerator has a row
}

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& path, const std::string& name) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail("safetensors: {}: tensor '{}': size overflows 64 bits", path, name);
  return r;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// F8 formats per "FP8 Formats for Deep Learning" (Micikevicius et al. 2022): E4M3 has bias 7, no
// infinities and NaN at S.1111.111; E5M2 is IEEE-like with bias 15 (the top byte of an fp16).
float f8_e4m3_to_f32(uint8_t v) {
  const uint32_t sign = v >> 7, exp = (v >> 3) & 0xf, man = v & 7;
  float r;
  if (exp == 0xf && man == 7) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) r = std::ldexp(static_cast<float>(man), -9);  // subnormal: man/8 * 2^-6
  else r = std::ldexp(1.0f + static_cast<float>(man) / 8.0f, static_cast<int>(exp) - 7);
  return sign ? -r : r;
}
float f8_e5m2_to_f32(uint8_t v) { return fp16_to_f32(static_cast<uint16_t>(v) << 8); }

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

std::string_view dtype_name(Dtype t) { return row(t).name; }
size_t dtype_size(Dtype t) { return row(t).size; }
bool dtype_is_float(Dtype t) { return row(t).is_float; }

std::optional<Dtype> dtype_from_name(std::string_view s) {
  for (const auto& r : kDtypes)
    if (r.name == s) return r.dtype;
  return std::nullopt;
}

uint64_t TensorInfo::n_elements() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);  // validated against overflow when parsed
  return n;
}

File File::open(const std::string& path) { return parse(MappedFile(path)); }

File File::parse(MappedFile map) {
  File f;
  f.map_ = std::move(map);
  const std::string& path = f.map_.path();
  const uint8_t* base = f.map_.data();
  const uint64_t size = f.map_.size();
  if (size < 8) fail("safetensors: {}: file too small ({} bytes) for the 8-byte header length", path, size);
  const uint64_t n = read_u64_le(base);
  if (n > kMaxHeaderSize) fail("safetensors: {}: header length {} exceeds the {} byte limit", path, n, kMaxHeaderSize);
  if (n > size - 8) fail("safetensors: {}: header length {} extends past end of file ({} bytes)", path, n, size);
  if (n < 2) fail("safetensors: {}: header length {} is too small for a JSON object", path, n);
  f.header_size_ = n;
  const uint64_t data_begin = 8 + n;
  const uint64_t data_size = size - data_begin;

  // The JSON parser keeps only the last of duplicate keys, so duplicates are caught while parsing.
  std::unordered_set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::key && depth == 1 && duplicate.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    const char* h = reinterpret_cast<const char*>(base + 8);
    header = json::parse(h, h + n, cb);
  } catch (const json::exception& e) {
    fail("safetensors: {}: header is not valid JSON: {}", path, e.what());
  }
  if (!duplicate.empty()) fail("safetensors: {}: tensor '{}' appears twice in the header", path, duplicate);
  if (!header.is_object()) fail("safetensors: {}: header is not a JSON object", path);

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("safetensors: {}: __metadata__ is not an object", path);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail("safetensors: {}: __metadata__ value '{}' is not a string", path, m.key());
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail("safetensors: {}: tensor '{}': entry is not an object", path, name);
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) fail("safetensors: {}: tensor '{}': missing or non-string dtype", path, name);
    if (sh == v.end() || !sh->is_array()) fail("safetensors: {}: tensor '{}': missing or non-array shape", path, name);
    if (off == v.end() || !off->is_array() || off->size() != 2)
      fail("safetensors: {}: tensor '{}': data_offsets must be an array of two integers", path, name);

    TensorInfo t;
    t.name = name;
    const std::string& dname = dt->get_ref<const std::string&>();
    auto d = dtype_from_name(dname);
    if (!d) fail("safetensors: {}: tensor '{}': unsupported dtype '{}'", path, name, dname);
    t.dtype = *d;
    uint64_t elems = 1;
    for (const json& dim : *sh) {
      if (!dim.is_number_unsigned())
        fail("safetensors: {}: tensor '{}': shape entry {} is not a non-negative integer", path, name, dim.dump());
      uint64_t x = dim.get<uint64_t>();
      if (x > static_cast<uint64_t>(INT64_MAX)) fail("safetensors: {}: tensor '{}': dimension {} too large", path, name, x);
      elems = checked_mul(elems, x, path, name);
      t.shape.push_back(static_cast<int64_t>(x));
    }
    const uint64_t expect = checked_mul(elems, dtype_size(t.dtype), path, name);
    for (const json& o : *off)
      if (!o.is_number_unsigned())
        fail("safetensors: {}: tensor '{}': data offset {} is not a non-negative integer", path, name, o.dump());
    const uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (e < b) fail("safetensors: {}: tensor '{}': data_offsets end {} is before begin {}", path, name, e, b);
    if (e > data_size)
      fail("safetensors: {}: tensor '{}': data_offsets [{}, {}] extend past the data section ({} bytes)", path, name,
           b, e, data_size);
    if (e - b != expect)
      fail("safetensors: {}: tensor '{}': {} bytes in the file but shape x {} needs {}", path, name, e - b, dname,
           expect);
    t.offset = data_begin + b;
    t.nbytes = e - b;
    t.data = base + t.offset;
    f.tensors_.push_back(std::move(t));
  }

  // The format requires the tensors to tile the data section exactly: no overlap and no holes.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : f.tensors_) by_offset.push_back(&t);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->nbytes < b->nbytes;
  });
  uint64_t pos = data_begin;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (t->offset < pos)
      fail("safetensors: {}: tensor '{}' overlaps tensor '{}'", path, t->name, prev ? prev->name : "");
    if (t->offset > pos)
      fail("safetensors: {}: {} unused bytes in the data section before tensor '{}'", path, t->offset - pos, t->name);
    pos = t->offset + t->nbytes;
    if (t->nbytes) prev = t;
  }
  if (pos != size)
    fail("safetensors: {}: {} bytes after the last tensor are not described by the header", path, size - pos);

  for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_.emplace(f.tensors_[i].name, i);
  return f;
}

const TensorInfo* File::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::get(std::string_view name) const {
  const TensorInfo* t = find(name);
  if (!t) fail("safetensors: {}: no tensor named '{}'", path(), name);
  return *t;
}

void to_f32(const TensorInfo& t, uint64_t first, uint64_t count, float* out) {
  const uint64_t n = t.n_elements();
  if (first > n || count > n - first)
    fail("safetensors: tensor '{}': elements [{}, {}) outside its {} elements", t.name, first, first + count, n);
  const size_t es = dtype_size(t.dtype);
  const uint8_t* p = t.data + first * es;
  for (uint64_t i = 0; i < count; ++i, p += es) {
    float v = 0;
    switch (t.dtype) {
      case Dtype::F64: v = static_cast<float>(load<double>(p)); break;
      case Dtype::F32: v = load<float>(p); break;
      case Dtype::F16: v = fp16_to_f32(load<uint16_t>(p)); break;
      case Dtype::BF16: v = bf16_to_f32(load<uint16_t>(p)); break;
      case Dtype::F8_E4M3: v = f8_e4m3_to_f32(*p); break;
      case Dtype::F8_E5M2: v = f8_e5m2_to_f32(*p); break;
      case Dtype::I64: v = static_cast<float>(load<int64_t>(p)); break;
      case Dtype::I32: v = static_cast<float>(load<int32_t>(p)); break;
      case Dtype::I16: v = static_cast<float>(load<int16_t>(p)); break;
      case Dtype::I8: v = static_cast<float>(load<int8_t>(p)); break;
      case Dtype::U8: v = static_cast<float>(*p); break;
      case Dtype::BOOL: v = *p ? 1.0f : 0.0f; break;
      case Dtype::U64: v = static_cast<float>(load<uint64_t>(p)); break;
      case Dtype::U32: v = static_cast<float>(load<uint32_t>(p)); break;
      case Dtype::U16: v = static_cast<float>(load<uint16_t>(p)); break;
    }
    out[i] = v;
  }
}

}  // namespace pj::safetensors
