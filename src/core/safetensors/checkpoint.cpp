// Checkpoint: one safetensors file or a sharded set described by model.safetensors.index.json.
#include "core/base/error.h"
#include "core/safetensors/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace pj::safetensors {

namespace {

using json = nlohmann::json;

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool Checkpoint::folder_has_weights(const std::string& folder) {
  return file_exists(folder + "/model.safetensors.index.json") || file_exists(folder + "/model.safetensors");
}

Checkpoint Checkpoint::open(const std::string& path) {
  Checkpoint c;
  std::string index_path;
  if (is_directory(path)) {
    if (file_exists(path + "/model.safetensors.index.json")) index_path = path + "/model.safetensors.index.json";
    else if (file_exists(path + "/model.safetensors")) c.files_.push_back(File::open(path + "/model.safetensors"));
    else fail("safetensors: {}: no model.safetensors or model.safetensors.index.json in this folder", path);
  } else if (ends_with(path, ".json")) {
    index_path = path;
  } else {
    c.files_.push_back(File::open(path));
  }

  // Tensor name -> shard file, as the index says; checked against the shards' own headers below.
  std::map<std::string, std::string> weight_map;
  if (!index_path.empty()) {
    c.index_path_ = index_path;
    json index;
    try {
      index = json::parse(read_text_file(index_path));
    } catch (const json::exception& e) {
      fail("safetensors: {}: not valid JSON: {}", index_path, e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail("safetensors: {}: no \"weight_map\" object", index_path);
    std::vector<std::string> shard_names;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail("safetensors: {}: weight_map['{}'] is not a string", index_path, it.key());
      const std::string& shard = it.value().get_ref<const std::string&>();
      // Shard names are file names next to the index, never paths that could leave the folder.
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
        fail("safetensors: {}: weight_map['{}'] names '{}', which is not a file name in this folder", index_path,
             it.key(), shard);
      weight_map[it.key()] = shard;
      if (std::find(shard_names.begin(), shard_names.end(), shard) == shard_names.end()) shard_names.push_back(shard);
    }
    if (shard_names.empty()) fail("safetensors: {}: weight_map is empty", index_path);
    std::sort(shard_names.begin(), shard_names.end());
    const std::string dir = parent_dir(index_path);
    for (const auto& s : shard_names) c.files_.push_back(File::open(dir + "/" + s));
  }

  for (const File& f : c.files_) {
    for (const TensorInfo& t : f.tensors()) {
      auto [it, inserted] = c.index_.emplace(t.name, &t);
      if (!inserted)
        fail("safetensors: {}: tensor '{}' is in two shards (also in the shard read before)", f.path(), t.name);
      if (!index_path.empty()) {
        auto w = weight_map.find(t.name);
        if (w == weight_map.end())
          fail("safetensors: {}: tensor '{}' in {} is not listed in the weight_map", index_path, t.name, f.path());
        if (!ends_with(f.path(), "/" + w->second))
          fail("safetensors: {}: tensor '{}' is in {} but the weight_map says {}", index_path, t.name, f.path(),
               w->second);
      }
      c.tensors_.push_back(&t);
    }
  }
  for (const auto& [name, shard] : weight_map)
    if (!c.index_.count(name))
      fail("safetensors: {}: tensor '{}' is listed in the weight_map but missing from {}", index_path, name, shard);
  return c;
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : it->second;
}

const TensorInfo& Checkpoint::get(std::string_view name) const {
  const TensorInfo* t = find(name);
  if (!t) fail("safetensors: {}: no tensor named '{}'", index_path_.empty() ? files_[0].path() : index_path_, name);
  return *t;
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const TensorInfo* t : tensors_) n += t->nbytes;
  return n;
}

uint64_t Checkpoint::total_elements() const {
  uint64_t n = 0;
  for (const TensorInfo* t : tensors_) n += t->n_elements();
  return n;
}

}  // namespace pj::safetensors
