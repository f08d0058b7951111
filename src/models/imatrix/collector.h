// Collecting an importance matrix as llama-imatrix does (tools/imatrix/imatrix.cpp, collect_imatrix):
// for every matmul whose weight is named "blk.*" (and "output.weight" when asked), the squares of
// the input activations are summed per input column (in float, row by row) and the rows counted.
// Like llama.cpp, batches of fewer than 16 rows are ignored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "models/quantize/imatrix_io.h"

namespace pj::imatrix {

class Collector {
 public:
  Collector(int64_t chunk_size, bool process_output);

  // The session's on_matmul hook: x is (n_rows, n_cols), row-major.
  void observe(std::string_view weight, const float* x, int64_t n_rows, int64_t n_cols);
  // Adds previously saved data (--in-file).
  void add(const quantize::RawImatrix& m, const std::string& what);
  void add_dataset(std::string name) { m_.datasets.push_back(std::move(name)); }

  // The data so far, with chunk_count = max count / chunk_size.
  const quantize::RawImatrix& data();
  int64_t chunk_size() const { return m_.chunk_size; }

 private:
  quantize::RawImatrix m_;
  bool process_output_;
};

}  // namespace pj::imatrix
