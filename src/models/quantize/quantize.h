// The quantize driver: a GGUF model in, the same model with its weights converted to a file type's
// mix out (llama.cpp's llama_model_quantize: same per-tensor types, same bytes, same
// general.file_type / general.quantization_version keys, tensors in the same order).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "models/quantize/file_types.h"

namespace pj::quantize {

struct Request {
  std::string input, output;  // GGUF files; the output is written atomically
  Options options;            // file type, overrides (options.has_imatrix is set from imatrix_path)
  std::string imatrix_path;   // optional: llama.cpp imatrix (GGUF or legacy .dat)
  bool allow_requantize = false;  // quantized inputs are refused unless set (then: a warning)
  int threads = 0;                // 0: hardware concurrency
};

struct Report {
  uint64_t n_tensors = 0, n_elements = 0;
  uint64_t bytes_in = 0, bytes_out = 0;  // tensor data only
  int n_fallback = 0, n_requantized = 0;
  double seconds = 0;
  double bpw_in() const { return n_elements ? 8.0 * double(bytes_in) / double(n_elements) : 0; }
  double bpw_out() const { return n_elements ? 8.0 * double(bytes_out) / double(n_elements) : 0; }
};

// `log` receives one line per event (a tensor done, a warning); it may be empty.
Report quantize_gguf(const Request& r, const std::function<void(const std::string&)>& log);

// llama.cpp's GGML_QNT_VERSION, written as general.quantization_version.
inline constexpr uint32_t kQuantizationVersion = 2;

}  // namespace pj::quantize
