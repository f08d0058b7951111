// Per-tensor statistics of an importance matrix, as llama-imatrix --show-statistics computes them
// (tools/imatrix/imatrix.cpp, compute_statistics / compute_cossim): over the mean squared activation
// of every column (sum / count), the total, min, max, mean, standard deviation, share of columns
// above 1e-5 ("active"), entropy of the normalised distribution, the share of columns more than one
// standard deviation above the mean (ZD), and the cosine similarity of the sums with the same
// tensor one layer earlier; and per layer, the element-weighted averages.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/quantize/imatrix_io.h"

namespace pj::imatrix {

struct TensorStats {
  std::string tensor;       // full weight name
  std::string layer, kind;  // "12", "attn_q" ("-" and the name when not a blk.N.<kind>.weight)
  float total = 0, min = 0, max = 0, mean = 0, stddev = 0, active = 0, entropy = 0, zd = 0, cossim = 0;
  int elements = 0;
  float entropy_norm() const;  // percent of log2(elements)
};

struct LayerStats {
  int layer = 0;
  float mean_total = 0, zd = 0, cossim = 0;  // element-weighted
};

// Sorted as llama.cpp prints them: by tensor kind, then by decreasing total.
std::vector<TensorStats> tensor_statistics(const quantize::RawImatrix& m);
std::vector<LayerStats> layer_statistics(const std::vector<TensorStats>& ts);

}  // namespace pj::imatrix
