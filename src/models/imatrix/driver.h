// Computing an importance matrix over a text (llama-imatrix's compute_imatrix): chunk the text, run
// every chunk through the model with the collector observing the matmuls, optionally score the
// perplexity of each chunk's second half as llama-imatrix prints it.
#pragma once

#include <string>
#include <vector>

#include "core/kernels/context.h"
#include "models/llm/model.h"
#include "models/quantize/imatrix_io.h"
#include "models/tokenizer/tokenizer.h"

namespace pj::imatrix {

struct ImatrixRequest {
  std::string text;          // calibration text
  std::string dataset;       // recorded in imatrix.datasets (the -f path or the domain names)
  int64_t n_ctx = 512;       // tokens per chunk
  int64_t n_chunks = -1;     // <= 0: all that fit
  bool process_output = false;
  bool compute_ppl = true;
  bool progress = true;      // progress bar on stderr
  std::vector<std::string> in_files;  // merged in first (--in-file)
};

struct ImatrixResult {
  quantize::RawImatrix matrix;
  int64_t n_tokens = 0, n_chunk = 0;
  double seconds = 0, ppl = 0, ppl_err = 0;
};

ImatrixResult compute_imatrix(const llm::LlmModel& model, const tok::Tokenizer& tok, KernelContext& kctx,
                              const ImatrixRequest& r);

// Merges `in_files` (no model run): llama-imatrix with --in-file and no text.
quantize::RawImatrix merge_files(const std::vector<std::string>& in_files, int64_t chunk_size);

// The model's BOS id when its tokenizer adds BOS, else -1 (chunk starts are then left alone).
int32_t chunk_bos(const tok::Tokenizer& tok);

}  // namespace pj::imatrix
