// Reading importance matrices ("imatrix") as llama.cpp's llama-imatrix writes them, in both formats
// its llama-quantize accepts (common/imatrix-loader.cpp and tools/quantize/quantize.cpp):
//   GGUF: per weight W, an F32 tensor "W.in_sum2" of ne0 x n_mat sums of squared activations and an
//         F32 tensor "W.counts" of n_mat token counts; the importance is in_sum2 / count per matrix
//         (1 where the count is 0).
//   legacy .dat: int32 n_entries, then per entry int32 name_len, name bytes, int32 ncall, int32 nval,
//         nval float32 (already averaged, times ncall); optionally int32 chunk count and a dataset
//         name. The importance is value / ncall (the value itself when ncall is 0).
// The result is what llama_model_quantize receives: per weight name, n_mat * ne0 floats.
#pragma once

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

}  // namespace pj::quantize
