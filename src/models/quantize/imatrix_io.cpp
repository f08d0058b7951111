#include "models/quantize/imatrix_io.h"

#include <cmath>
#include <cstring>
#include <map>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"

#include <algorithm>

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

RawImatrix read_imatrix_raw(const std::string& path, int64_t chunk_size) {
  RawImatrix r;
  const MappedFile file(path);
  if (file.size() >= 4 && std::memcmp(file.data(), "GGUF", 4) == 0) {
    const gguf::File f = gguf::File::open(path);
    if (const auto* v = f.find("general.type"); v && v->get_if<std::string>() && *v->get_if<std::string>() != "imatrix")
      fail("imatrix: {}: general.type is '{}', not 'imatrix'", path, *v->get_if<std::string>());
    if (const auto* v = f.find("imatrix.datasets")) {
      if (const gguf::Array* a = v->get_if<gguf::Array>(); a && a->element_type() == gguf::ValueType::String)
        for (const auto& s : a->get<std::string>()) r.datasets.push_back(s);
    }
    r.chunk_count = f.get_u32_or("imatrix.chunk_count", 0);
    r.chunk_size = f.get_u32_or("imatrix.chunk_size", 0);
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
      if (counts->n_elements == 0 || sums->n_elements % counts->n_elements != 0)
        fail("imatrix: {}: '{}' has {} sums, not a multiple of its {} counts", path, name, sums->n_elements, counts->n_elements);
      ImatrixEntry& e = r.entries[name];
      e.sums.resize(sums->n_elements);
      std::memcpy(e.sums.data(), sums->data, e.sums.size() * sizeof(float));
      std::vector<float> c(counts->n_elements);
      std::memcpy(c.data(), counts->data, c.size() * sizeof(float));
      for (float x : c) {
        if (!std::isfinite(x) || x < 0 || x > 9e18f) fail("imatrix: {}: '{}' has a bad count {}", path, name, x);
        e.counts.push_back(std::lround(x));
      }
    }
  } else {
    if (chunk_size <= 0) fail("imatrix: {}: reading a legacy .dat file needs the chunk size (--ctx)", path);
    ImportanceMatrix m = read_legacy(path, file);
    // read_legacy divided by ncall; re-read ncall per entry to rebuild sums = value * chunk_size.
    const uint8_t* p = file.data() + 4;
    int32_t n_entries;
    std::memcpy(&n_entries, file.data(), 4);
    for (int32_t e = 0; e < n_entries; ++e) {
      int32_t len, ncall, nval;
      std::memcpy(&len, p, 4);
      std::string name(reinterpret_cast<const char*>(p + 4), size_t(len));
      name = name.c_str();
      p += 4 + len;
      std::memcpy(&ncall, p, 4);
      std::memcpy(&nval, p + 4, 4);
      const float* vals = reinterpret_cast<const float*>(p + 8);
      p += 8 + size_t(nval) * 4;
      ImatrixEntry& out = r.entries[name];
      out.sums.resize(size_t(nval));
      for (int32_t i = 0; i < nval; ++i) {
        float v;
        std::memcpy(&v, vals + i, 4);
        out.sums[size_t(i)] = v * float(chunk_size);
      }
      out.counts.assign(1, int64_t(ncall) * chunk_size);
    }
    r.datasets = m.datasets;
    r.chunk_size = chunk_size;
    r.chunk_count = m.chunk_count;
  }
  for (const auto& [name, e] : r.entries)
    for (float x : e.sums)
      if (!std::isfinite(x)) fail("imatrix: {}: '{}' contains a non-finite value {}", path, name, x);
  return r;
}

void merge_imatrix(RawImatrix& a, const RawImatrix& b, const std::string& what) {
  for (const auto& [name, eb] : b.entries) {
    ImatrixEntry& ea = a.entries[name];
    if (ea.sums.empty()) ea.sums.assign(eb.sums.size(), 0.0f);
    else if (ea.sums.size() != eb.sums.size())
      fail("imatrix: {}: '{}' has {} values, the others {}", what, name, eb.sums.size(), ea.sums.size());
    if (ea.counts.empty()) ea.counts.assign(eb.counts.size(), 0);
    else if (ea.counts.size() == 1 && eb.counts.size() > 1) ea.counts.assign(eb.counts.size(), ea.counts[0]);
    std::vector<int64_t> cb = eb.counts;
    if (cb.size() == 1 && ea.counts.size() > 1) cb.assign(ea.counts.size(), cb[0]);
    if (cb.size() != ea.counts.size())
      fail("imatrix: {}: '{}' has {} matrices, the others {}", what, name, cb.size(), ea.counts.size());
    for (size_t j = 0; j < eb.sums.size(); ++j) ea.sums[j] += eb.sums[j];
    for (size_t j = 0; j < cb.size(); ++j) ea.counts[j] += cb[j];
  }
  a.datasets.insert(a.datasets.end(), b.datasets.begin(), b.datasets.end());
  if (a.chunk_size == 0) a.chunk_size = b.chunk_size;
  int64_t max_count = 0;
  for (const auto& [name, e] : a.entries)
    for (int64_t c : e.counts) max_count = std::max(max_count, c);
  if (a.chunk_size > 0) a.chunk_count = max_count / a.chunk_size;
}

void write_imatrix_gguf(const std::string& path, const RawImatrix& m) {
  gguf::Writer w;
  w.add_kv("general.type", "imatrix");
  w.add_kv("imatrix.datasets", gguf::Array(m.datasets));
  w.add_kv("imatrix.chunk_count", uint32_t(m.chunk_count));
  w.add_kv("imatrix.chunk_size", uint32_t(m.chunk_size));
  std::vector<std::vector<float>> counts;  // must outlive w.write()
  counts.reserve(m.entries.size());
  for (const auto& [name, e] : m.entries) {
    const uint64_t nmat = e.counts.size();
    if (nmat == 0 || e.sums.empty() || e.sums.size() % nmat != 0) continue;
    w.add_tensor(name + ".in_sum2", GgmlType::F32, {e.sums.size() / nmat, nmat},
                 std::span(reinterpret_cast<const uint8_t*>(e.sums.data()), e.sums.size() * sizeof(float)));
    auto& c = counts.emplace_back(e.counts.begin(), e.counts.end());
    w.add_tensor(name + ".counts", GgmlType::F32, {1, nmat},
                 std::span(reinterpret_cast<const uint8_t*>(c.data()), c.size() * sizeof(float)));
  }
  w.write(path);
}

void write_imatrix_dat(const std::string& path, const RawImatrix& m) {
  if (m.chunk_size <= 0) fail("imatrix: {}: the .dat format needs a chunk size", path);
  std::vector<const std::pair<const std::string, ImatrixEntry>*> store;
  for (const auto& kv : m.entries)
    if (!kv.second.counts.empty() && std::any_of(kv.second.counts.begin(), kv.second.counts.end(), [](int64_t c) { return c != 0; }))
      store.push_back(&kv);
  AtomicFileWriter out(path);
  auto i32 = [&](int64_t v) {
    const int32_t x = int32_t(v);
    out.write(&x, 4);
  };
  i32(int64_t(store.size()));
  for (const auto* kv : store) {
    const auto& [name, e] = *kv;
    i32(int64_t(name.size()));
    out.write(name);
    const int64_t cs = m.chunk_size;
    const int64_t ncall = (*std::max_element(e.counts.begin(), e.counts.end()) + cs - 1) / cs;
    i32(ncall);
    i32(int64_t(e.sums.size()));
    const size_t ne0 = e.sums.size() / e.counts.size();
    std::vector<float> tmp(e.sums.size());
    for (size_t i = 0; i < tmp.size(); ++i) {
      float count = float(e.counts[i / ne0]), value = e.sums[i];
      if (count == 0.0f) value = count = 1.0f;  // llama.cpp stores 1 for partial data
      tmp[i] = (value / count) * float(ncall);
    }
    out.write(tmp.data(), tmp.size() * sizeof(float));
  }
  i32(m.chunk_count);
  const std::string ds = m.datasets.empty() ? std::string() : m.datasets.back();
  i32(int64_t(ds.size()));
  out.write(ds);
  out.commit();
}

}  // namespace pj::quantize
