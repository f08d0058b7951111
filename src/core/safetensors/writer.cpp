// safetensors writer (single file and sharded folder with an index).
#include "core/base/error.h"
#include "core/safetensors/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <unordered_set>

namespace pj::safetensors {

namespace {

using json = nlohmann::ordered_json;  // keeps the header order, which is the data order

void check(const std::string& path, const TensorToWrite& t) {
  uint64_t n = dtype_size(t.dtype);
  for (int64_t d : t.shape) {
    if (d < 0) fail("safetensors: {}: tensor '{}': negative dimension {}", path, t.name, d);
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n))
      fail("safetensors: {}: tensor '{}': size overflows 64 bits", path, t.name);
  }
  if (n != t.nbytes)
    fail("safetensors: {}: tensor '{}': {} bytes given but shape x {} needs {}", path, t.name, t.nbytes,
         dtype_name(t.dtype), n);
  if (t.name == "__metadata__") fail("safetensors: {}: '__metadata__' is reserved, not a tensor name", path);
}

}  // namespace

void write_file(const std::string& path, const std::vector<TensorToWrite>& tensors,
                const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    check(path, t);
    if (!names.insert(t.name).second) fail("safetensors: {}: tensor '{}' given twice", path, t.name);
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(h.size()) >> (8 * i));
  AtomicFileWriter w(path);
  w.write(len, 8);
  w.write(h);
  for (const auto& t : tensors) w.write(t.data, t.nbytes);
  w.commit();
}

void write_sharded(const std::string& folder, const std::vector<TensorToWrite>& tensors, int n_shards,
                   const std::map<std::string, std::string>& metadata) {
  if (n_shards < 1 || static_cast<size_t>(n_shards) > std::max<size_t>(tensors.size(), 1))
    fail("safetensors: {}: cannot split {} tensors into {} shards", folder, tensors.size(), n_shards);
  json weight_map = json::object();
  uint64_t total = 0;
  const size_t n = tensors.size(), k = static_cast<size_t>(n_shards);
  for (int s = 0; s < n_shards; ++s) {
    const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, n_shards);
    std::vector<TensorToWrite> part;
    for (size_t i = s * n / k; i < (s + 1) * n / k; ++i) {  // balanced: no shard is empty
      part.push_back(tensors[i]);
      weight_map[tensors[i].name] = name;
      total += tensors[i].nbytes;
    }
    write_file(folder + "/" + name, part, metadata);
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  AtomicFileWriter w(folder + "/model.safetensors.index.json");
  w.write(index.dump(2));
  w.commit();
}

}  // namespace pj::safetensors
