// safetensors files (https://github.com/huggingface/safetensors, "Format" in its README):
//   [8 bytes: N, little-endian u64] [N bytes: JSON header] [data section]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
// to the data section) plus an optional "__metadata__" object of string -> string.
//
// Reading is zero copy: a File memory-maps the whole file and each TensorInfo points into the map, so
// a File must outlive the TensorInfo pointers taken from it. Files are untrusted: every length and
// offset is checked, and any problem is a pj::Error naming the file (and tensor).
//
//   auto f = pj::safetensors::File::open("model.safetensors");
//   for (const auto& t : f.tensors()) ... t.name, t.dtype, t.shape, t.data, t.nbytes
//   const auto& w = f.get("lm_head.weight");
//   std::vector<float> row(w.shape[1]);
//   pj::safetensors::to_f32(w, 0, row.size(), row.data());   // any float dtype -> f32
#pragma once

#include "core/base/file.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pj::safetensors {

enum class Dtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, U64, U32, U16, F8_E4M3, F8_E5M2 };

std::string_view dtype_name(Dtype t);               // "F32", "BF16", ...
std::optional<Dtype> dtype_from_name(std::string_view s);
size_t dtype_size(Dtype t);                         // bytes per element
bool dtype_is_float(Dtype t);                       // F64, F32, F16, BF16, F8_*

// Header limits: larger headers are refused as malformed rather than parsed.
constexpr uint64_t kMaxHeaderSize = 100ull << 20;

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;  // row-major, outermost first; empty for a scalar
  const uint8_t* data = nullptr;  // into the mapped file; not aligned in general
  uint64_t nbytes = 0;
  uint64_t offset = 0;  // from the start of the file
  uint64_t n_elements() const;
};

class File {
 public:
  // Memory-maps and validates `path`.
  static File open(const std::string& path);
  // Validates bytes already in memory (MappedFile::borrow for buffers the caller owns).
  static File parse(MappedFile map);

  const std::string& path() const { return map_.path(); }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in header order
  const TensorInfo* find(std::string_view name) const;                 // nullptr if absent
  const TensorInfo& get(std::string_view name) const;                  // pj::Error if absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t header_size() const { return header_size_; }  // N, the JSON length
  uint64_t file_size() const { return map_.size(); }

 private:
  MappedFile map_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  uint64_t header_size_ = 0;
};

// Converts elements [first, first + count) of a tensor to f32 (float dtypes, and integers/bool as
// their value). Throws pj::Error if the range is outside the tensor.
void to_f32(const TensorInfo& t, uint64_t first, uint64_t count, float* out);

// A model's weights: one file or several shards listed by "model.safetensors.index.json"
// ({"metadata": {...}, "weight_map": {tensor name: shard file name}}).
class Checkpoint {
 public:
  // `path`: a .safetensors file, an index .json file, or a folder holding model.safetensors or
  // model.safetensors.index.json.
  static Checkpoint open(const std::string& path);
  static bool folder_has_weights(const std::string& folder);

  const std::vector<File>& files() const { return files_; }
  const std::vector<const TensorInfo*>& tensors() const { return tensors_; }  // shard order, then header order
  const TensorInfo* find(std::string_view name) const;
  const TensorInfo& get(std::string_view name) const;
  const std::string& index_path() const { return index_path_; }  // empty for a single file
  uint64_t total_bytes() const;       // sum of tensor bytes
  uint64_t total_elements() const;

 private:
  std::string index_path_;
  std::vector<File> files_;
  std::vector<const TensorInfo*> tensors_;
  std::unordered_map<std::string, const TensorInfo*> index_;
};

// Writer: tensors are laid out in the order given, header padded with spaces to a multiple of 8 as the
// reference implementation does. Written to a temporary file and renamed, so a failure leaves nothing.
struct TensorToWrite {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  uint64_t nbytes = 0;  // must equal product(shape) * dtype_size(dtype)
};
void write_file(const std::string& path, const std::vector<TensorToWrite>& tensors,
                const std::map<std::string, std::string>& metadata = {});

// Writes "<folder>/<shard names>" and "<folder>/model.safetensors.index.json" with tensors split into
// `n_shards` files named model-0000i-of-0000n.safetensors (as transformers names them).
void write_sharded(const std::string& folder, const std::vector<TensorToWrite>& tensors, int n_shards,
                   const std::map<std::string, std::string>& metadata = {});

}  // namespace pj::safetensors
