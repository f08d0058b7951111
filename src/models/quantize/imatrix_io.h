// Reading and writing importance matrices ("imatrix") as llama.cpp's llama-imatrix writes them, in both formats
// its llama-quantize accepts (common/imatrix-loader.cpp and tools/quantize/quantize.cpp):
//   GGUF: per weight W, an F32 tensor "W.in_sum2" of ne0 x n_mat sums of squared activations and an
//         F32 tensor "W.counts" of n_mat token counts; the importance is in_sum2 / count per matrix
//         (1 where the count is 0).
//   legacy .dat: int32 n_entries, then per entry int32 name_len, name bytes, int32 ncall, int32 nval,
//         nval float32 (already averaged, times ncall); optionally int32 chunk count and a dataset
//         name. The importance is value / ncall (the value itself when ncall is 0).
// The result is what llama_model_quantize receives: per weight name, n_mat * ne0 floats.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace pj::quantize {

struct ImportanceMatrix {
  std::unordered_map<std::string, std::vector<float>> weights;  // tensor name -> importance per column
  std::vector<std::string> datasets;
  int chunk_count = 0;
  bool legacy = false;
};

// pj::Error naming the file and problem for a malformed file or a non-finite value.
ImportanceMatrix read_imatrix(const std::string& path);

// What llama-imatrix accumulates before it writes (and what it rebuilds when it loads --in-file):
// per weight, the sums of squared input activations (n_mat rows of ne0 columns) and the number of
// tokens that went through each matrix.
struct ImatrixEntry {
  std::vector<float> sums;      // n_mat * ne0
  std::vector<int64_t> counts;  // n_mat (1 for a dense weight)
};
struct RawImatrix {
  std::map<std::string, ImatrixEntry> entries;  // sorted by name: files are written in this order
  std::vector<std::string> datasets;            // calibration texts it was computed from
  int64_t chunk_count = 0;                      // imatrix.chunk_count: max count / chunk_size
  int64_t chunk_size = 0;                       // imatrix.chunk_size: tokens per chunk (n_ctx)
};

// Either format, in raw form. A legacy .dat stores value/count*ncall with counts lost; as llama.cpp's
// load_imatrix does, it is rebuilt as sums = value * chunk_size, count = ncall * chunk_size, with the
// caller's chunk_size (the --ctx of the run that reads it). GGUF counts are rounded to integers.
RawImatrix read_imatrix_raw(const std::string& path, int64_t chunk_size);

// Adds `b` into `a` (llama-imatrix --in-file semantics): sums and counts add up per weight; a dense
// count broadcasts over a 3-D weight's matrices. pj::Error (naming `what`) on mismatched sizes.
void merge_imatrix(RawImatrix& a, const RawImatrix& b, const std::string& what);

// llama-imatrix's GGUF output: general.type = "imatrix", imatrix.datasets, imatrix.chunk_count,
// imatrix.chunk_size; per weight W (sorted) F32 "W.in_sum2" [ne0, n_mat] and F32 "W.counts" [1, n_mat].
void write_imatrix_gguf(const std::string& path, const RawImatrix& m);
// llama-imatrix --output-format dat: int32 n_entries; per entry (sorted, entries with no data
// skipped) int32 len, name, int32 ncall = ceil(max count / chunk_size), int32 nval, nval float32
// sum/count*ncall (1 where a count is 0); then int32 chunk_count, int32 len + the last dataset name.
void write_imatrix_dat(const std::string& path, const RawImatrix& m);

}  // namespace pj::quantize
