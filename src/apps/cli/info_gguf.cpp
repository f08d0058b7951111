// `pajamas info FILE.gguf [--json]`: metadata (long arrays and strings summarised unless -v), the tensor
// table and totals. JSON shape:
//   {"file", "format": "gguf", "version", "alignment", "data_offset", "file_size",
//    "metadata": [{"key", "type", "value"} | {"key", "type": "array", "element_type", "length", "value",
//                  "truncated"?}],
//    "tensors": [{"name", "type", "shape", "offset", "bytes"}],
//    "totals": {"tensors", "parameters", "bytes", "bits_per_weight"}}
// Non-finite floats are written as the strings "nan", "inf", "-inf" (JSON has no numbers for them).
// Nested array elements are {"element_type", "length", "value"} objects.
#include "apps/cli/info.h"
#include "core/gguf/gguf.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <string>

namespace pj::cli {

namespace {

using nlohmann::json;
using gguf::Array;
using gguf::Value;
using gguf::ValueType;

constexpr size_t kArrayPreview = 8;     // items shown of a long array without -v
constexpr size_t kStringPreview = 120;  // bytes shown of a long string in text output without -v

template <typename T>
json number_json(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return static_cast<double>(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v;
  } else if constexpr (std::is_signed_v<T>) {
    return static_cast<int64_t>(v);
  } else {
    return static_cast<uint64_t>(v);
  }
}

json array_items_json(const Array& a, size_t limit);

json element_json(const std::string& s) { return s; }
json element_json(const Array& a) {
  return {{"element_type", gguf::value_type_name(a.element_type())}, {"length", a.size()},
          {"value", array_items_json(a, SIZE_MAX)}};
}
template <typename T>
json element_json(const T& v) {
  return number_json(v);
}

json array_items_json(const Array& a, size_t limit) {
  json out = json::array();
  std::visit(
      [&](const auto& items) {
        size_t n = std::min(items.size(), limit);
        for (size_t i = 0; i < n; ++i) {
          using E = typename std::decay_t<decltype(items)>::value_type;
          out.push_back(element_json(static_cast<const E&>(items[i])));
        }
      },
      a.storage());
  return out;
}

json kv_json(const gguf::KeyValue& kv, bool full) {
  json j = {{"key", kv.key}, {"type", gguf::value_type_name(kv.value.type())}};
  if (const Array* a = kv.value.get_if<Array>()) {
    size_t limit = full ? SIZE_MAX : kArrayPreview;
    j["element_type"] = gguf::value_type_name(a->element_type());
    j["length"] = a->size();
    j["value"] = array_items_json(*a, limit);
    if (a->size() > limit) j["truncated"] = true;
  } else {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (!std::is_same_v<T, Array>) j["value"] = element_json(v);
        },
        kv.value.storage());
  }
  return j;
}

std::string quoted(const std::string& s, bool full) {
  std::string out = "\"";
  size_t n = full ? s.size() : std::min(s.size(), kStringPreview);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (n < s.size()) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

std::string element_text(const std::string& s, bool full) { return quoted(s, full); }
std::string element_text(const Array& a, bool full);
template <typename T>
std::string element_text(const T& v, bool) {
  if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) return fmt::format("{}", int{v});
  else return fmt::format("{}", v);
}

std::string element_text(const Array& a, bool full) {
  std::string out = "[";
  size_t limit = full ? SIZE_MAX : kArrayPreview;
  std::visit(
      [&](const auto& items) {
        using E = typename std::decay_t<decltype(items)>::value_type;
        size_t n = std::min(items.size(), limit);
        for (size_t i = 0; i < n; ++i) {
          if (i) out += ", ";
          out += element_text(static_cast<const E&>(items[i]), full);
        }
        if (n < items.size()) out += fmt::format(", ... {} more", items.size() - n);
      },
      a.storage());
  return out + "]";
}

std::string type_text(const Value& v) {
  if (const Array* a = v.get_if<Array>())
    return fmt::format("{}[{}]", gguf::value_type_name(a->element_type()), a->size());
  return std::string(gguf::value_type_name(v.type()));
}

std::string shape_text(const std::vector<uint64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string human_count(uint64_t n) {
  if (n >= 1000000000) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1000000) return fmt::format("{:.2f} M", n / 1e6);
  if (n >= 1000) return fmt::format("{:.2f} K", n / 1e3);
  return fmt::format("{}", n);
}

}  // namespace

void info_gguf(const std::string& path, const InfoOptions& o) {
  const gguf::File f = gguf::File::open(path);
  const bool full = o.verbosity > 0;
  uint64_t params = 0, bytes = 0;
  for (const auto& t : f.tensors()) {
    params += t.n_elements;
    bytes += t.n_bytes;
  }
  const double bpw = params ? 8.0 * static_cast<double>(bytes) / static_cast<double>(params) : 0.0;

  if (o.json) {
    json j = {{"file", path},       {"format", "gguf"},         {"version", f.version()},
              {"alignment", f.alignment()}, {"data_offset", f.data_offset()}, {"file_size", f.file_size()}};
    json md = json::array();
    for (const auto& kv : f.metadata()) md.push_back(kv_json(kv, full));
    j["metadata"] = std::move(md);
    json ts = json::array();
    for (const auto& t : f.tensors())
      ts.push_back({{"name", t.name}, {"type", ggml_type_info(t.type).name}, {"shape", t.shape},
                    {"offset", t.offset}, {"bytes", t.n_bytes}});
    j["tensors"] = std::move(ts);
    j["totals"] = {{"tensors", f.tensors().size()}, {"parameters", params}, {"bytes", bytes}, {"bits_per_weight", bpw}};
    std::string out = j.dump(2, ' ', false, json::error_handler_t::replace);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
    return;
  }

  std::string out = fmt::format("{}: GGUF v{}, {}, alignment {}\n", path, f.version(), human_bytes(f.file_size()),
                                f.alignment());
  size_t key_w = 0;
  for (const auto& kv : f.metadata()) key_w = std::max(key_w, kv.key.size());
  key_w = std::min<size_t>(key_w, 48);
  out += fmt::format("\nmetadata ({} keys):\n", f.metadata().size());
  for (const auto& kv : f.metadata()) {
    std::string value = std::visit(
        [&](const auto& v) { return element_text(v, full); }, kv.value.storage());
    out += fmt::format("  {:<{}}  {:<14}  {}\n", kv.key, key_w, type_text(kv.value), value);
  }

  size_t name_w = 4, shape_w = 5;
  for (const auto& t : f.tensors()) {
    name_w = std::max(name_w, t.name.size());
    shape_w = std::max(shape_w, shape_text(t.shape).size());
  }
  out += fmt::format("\ntensors ({}):\n", f.tensors().size());
  out += fmt::format("  {:<{}}  {:<8}  {:<{}}  {:>12}\n", "name", name_w, "type", "shape", shape_w, "bytes");
  for (const auto& t : f.tensors())
    out += fmt::format("  {:<{}}  {:<8}  {:<{}}  {:>12}\n", t.name, name_w, ggml_type_info(t.type).name,
                       shape_text(t.shape), shape_w, t.n_bytes);
  out += fmt::format("\ntotal: {} tensors, {} parameters ({}), {} ({} bytes), {:.2f} bits per weight\n",
                     f.tensors().size(), human_count(params), params, human_bytes(bytes), bytes, bpw);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace pj::cli
