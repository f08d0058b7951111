#include "models/quantize/imatrix_io.h"

#include <cmath>
#include <cstring>
#include <map>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"

namespace pj::quantize {
namespace {

bool ends_with(const std::string& s, std::string_view suffix, std::string& stem) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  stem = s.substr(0, s.size() - suffix.size());
  return true;
}

ImportanceMatrix read_gguf(const std::string& path) {
  const gguf::File f = gguf::File::open(path);
  ImportanceMatrix m;
  if (const auto* v = f.find("imatrix.datasets")) {
    if (const gguf::Array* a = v->get_if<gguf::Array>(); a && a->element_type() == gguf::ValueType::String)
      for (const auto& s : a->get<std::string>()) m.datasets.push_back(s);
  }
  m.chunk_count = int(f.get_u32_or("imatrix.chunk_count", 0));
  std::map<std::string, std::pair<const gguf::Tensor*, const gguf::Tensor*>> parts;
  for (const gguf::Tensor& t : f.tensors()) {
    std::string stem;
    if (ends_with(t.name, ".in_sum2", stem)) parts[stem].first = &t;
    else if (ends_with(t.name, ".counts", stem)) parts[stem].second = &t;
  }
  if (parts.empty()) fail("imatrix: {}: no '<weight>.in_sum2' / '<weight>.counts' tensors", path);
  for (const auto& [name, p] : parts) {
    const auto [sums, counts] = p;
    if (!sums || !counts) fail("imatrix: {}: '{}' has {} but not {}", path, name, sums ? "in_sum2" : "counts", sums ? "counts" : "in_sum2");
    if (sums->type != GgmlType::F32 || counts->type != GgmlType::F32)
      fail("imatrix: {}: sums and counts of '{}' must be F32", path, name);
    const uint64_t nval = sums->n_elements, ncounts = counts->n_elements;
    if (ncounts == 0 || nval % ncounts != 0)
      fail("imatrix: {}: '{}' has {} sums, not a multiple of its {} counts", path, name, nval, ncounts);
    std::vector<float> s(nval), c(ncounts);
    std::memcpy(s.data(), sums->data, nval * sizeof(float));
    std::memcpy(c.data(), counts->data, ncounts * sizeof(float));
    const uint64_t ne0 = nval / ncounts;
    std::vector<float>& out = m.weights[name];
    out.resize(nval);
    for (uint64_t j = 0; j < ncounts; ++j) {
      // llama.cpp rounds the stored float count to an integer first (std::lround)
      const float count = float(std::lround(c[j]));
      for (uint64_t i = 0; i < ne0; ++i) out[j * ne0 + i] = count > 0.0f ? s[j * ne0 + i] / count : 1.0f;
    }
  }
  return m;
}

ImportanceMatrix read_legacy(const std::string& path, const MappedFile& file) {
  const uint8_t* p = file.data();
  size_t left = file.size();
  auto i32 = [&](const char* what) {
    if (left < 4) fail("imatrix: {}: truncated while reading {}", path, what);
    int32_t v;
    std::memcpy(&v, p, 4);
    p += 4;
    left -= 4;
    return v;
  };
  ImportanceMatrix m;
  m.legacy = true;
  const int32_t n_entries = i32("the entry count");
  if (n_entries < 1) fail("imatrix: {}: not a GGUF file and not a legacy imatrix (entry count {})", path, n_entries);
  for (int32_t e = 0; e < n_entries; ++e) {
    const int32_t len = i32("a name length");
    if (len < 0 || size_t(len) > left) fail("imatrix: {}: entry {} has a bad name length {}", path, e, len);
    std::string name(reinterpret_cast<const char*>(p), size_t(len));
    name = name.c_str();  // llama.cpp stops at an embedded NUL
    p += len;
    left -= size_t(len);
    const int32_t ncall = i32("a call count");
    const int32_t nval = i32("a value count");
    if (nval < 1 || size_t(nval) > left / 4) fail("imatrix: {}: entry '{}' has a bad value count {}", path, name, nval);
    std::vector<float>& out = m.weights[name];
    out.resize(size_t(nval));
    std::memcpy(out.data(), p, size_t(nval) * 4);
    p += size_t(nval) * 4;
    left -= size_t(nval) * 4;
    if (ncall > 0)
      for (float& v : out) v = v / float(ncall);
  }
  if (left >= 4) {
    m.chunk_count = i32("the chunk count");
    if (left >= 4) {
      const int32_t len = i32("the dataset name length");
      if (len > 0 && size_t(len) <= left) m.datasets.emplace_back(reinterpret_cast<const char*>(p), size_t(len));
    }
  }
  return m;
}

}  // namespace

ImportanceMatrix read_imatrix(const std::string& path) {
  const MappedFile file(path);
  ImportanceMatrix m = file.size() >= 4 && std::memcmp(file.data(), "GGUF", 4) == 0 ? read_gguf(path) : read_legacy(path, file);
  for (const auto& [name, v] : m.weights)
    for (float x : v)
      if (!std::isfinite(x)) fail("imatrix: {}: '{}' contains a non-finite value {}", path, name, x);
  return m;
}

}  // namespace pj::quantize
