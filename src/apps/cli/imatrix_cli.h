// What the imatrix, iq and perplexity commands share: computing or merging an importance matrix from
// command-line options, writing it in the chosen format, and printing its statistics.
#pragma once

#include <string>
#include <vector>

#include "models/imatrix/driver.h"
#include "models/quantize/imatrix_io.h"

namespace pj::cli {

struct ImatrixCliOptions {
  std::string model, text_file, domain, output, format;  // format: "", "gguf" or "dat"
  int64_t ctx = 512, chunks = -1;
  bool process_output = false, no_ppl = false, show_statistics = false;
  std::vector<std::string> in_files;
  int threads = 0;
};

// Runs `pajamas imatrix` (also `pajamas iq generate-matrix`); returns the result for callers that
// record it.
imatrix::ImatrixResult run_imatrix_command(const ImatrixCliOptions& o, int verbosity);

// "gguf" or "dat": the given format, else by the output's extension (.dat), else gguf.
std::string imatrix_format(const std::string& format, const std::string& output);
void write_imatrix(const quantize::RawImatrix& m, const std::string& path, const std::string& format);
void print_imatrix_statistics(const quantize::RawImatrix& m, const std::string& what);

// FNV-1a 64 of a file's bytes (cache keys).
uint64_t file_fingerprint(const std::string& path);
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull);

}  // namespace pj::cli
