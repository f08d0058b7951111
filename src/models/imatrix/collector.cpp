#include "models/imatrix/collector.h"

#include <algorithm>
#include <cmath>

#include "core/base/error.h"

namespace pj::imatrix {

Collector::Collector(int64_t chunk_size, bool process_output) : process_output_(process_output) {
  m_.chunk_size = chunk_size;
}

void Collector::observe(std::string_view weight, const float* x, int64_t n_rows, int64_t n_cols) {
  if (n_rows < 16) return;  // llama.cpp: "why are small batches ignored (<16 tokens)?"
  if (!(weight.starts_with("blk.") || (process_output_ && weight == "output.weight"))) return;
  quantize::ImatrixEntry& e = m_.entries[std::string(weight)];
  // A dense weight keeps one count (llama.cpp collapses equal per-matrix counts of merged files).
  if (e.counts.size() > 1 && std::all_of(e.counts.begin(), e.counts.end(), [&](int64_t c) { return c == e.counts[0]; }))
    e.counts.resize(1);
  if (e.sums.empty()) {
    e.sums.assign(size_t(n_cols), 0.0f);
    e.counts.assign(1, 0);
  } else if (e.sums.size() != size_t(n_cols)) {
    fail("imatrix: inconsistent size for {} ({} vs {})", weight, e.sums.size(), n_cols);
  }
  float* acc = e.sums.data();
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * n_cols;
    for (int64_t j = 0; j < n_cols; ++j) acc[j] += xr[j] * xr[j];
  }
  for (int64_t j = 0; j < n_cols; ++j)
    if (!std::isfinite(acc[j])) fail("imatrix: non-finite values detected in {}", weight);
  for (int64_t& c : e.counts) c += n_rows;
}

void Collector::add(const quantize::RawImatrix& m, const std::string& what) {
  quantize::RawImatrix in = m;
  in.chunk_size = m_.chunk_size;  // the file's own chunk size does not change ours
  quantize::merge_imatrix(m_, in, what);
}

const quantize::RawImatrix& Collector::data() {
  int64_t max_count = 0;
  for (const auto& [name, e] : m_.entries)
    for (int64_t c : e.counts) max_count = std::max(max_count, c);
  m_.chunk_count = m_.chunk_size > 0 ? max_count / m_.chunk_size : 0;
  return m_;
}

}  // namespace pj::imatrix
