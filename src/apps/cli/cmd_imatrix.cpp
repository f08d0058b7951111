// `pajamas imatrix`: an importance matrix as llama.cpp's llama-imatrix computes it (same chunking,
// same collected matmul inputs, same GGUF and .dat files), merging of earlier files and statistics.
//   pajamas imatrix -m MODEL (-f FILE | --domain NAME[,NAME...]) -o OUT [--ctx 512] [--chunks N]
//                   [--process-output] [--format gguf|dat] [--in-file F ...] [--show-statistics]
#include <cstdio>
#include <fstream>
#include <sstream>

#include "apps/cli/commands.h"
#include "apps/cli/imatrix_cli.h"
#include "apps/cli/llm_common.h"
#include "core/base/error.h"
#include "core/base/file.h"
#include "models/imatrix/calibration.h"
#include "models/imatrix/statistics.h"

namespace pj::cli {

uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

uint64_t file_fingerprint(const std::string& path) {
  const MappedFile f(path);
  return fnv1a(f.data(), f.size());
}

std::string imatrix_format(const std::string& format, const std::string& output) {
  if (!format.empty()) return format;
  return output.size() > 4 && output.ends_with(".dat") ? "dat" : "gguf";
}

void write_imatrix(const quantize::RawImatrix& m, const std::string& path, const std::string& format) {
  if (format == "dat") quantize::write_imatrix_dat(path, m);
  else quantize::write_imatrix_gguf(path, m);
}

void print_imatrix_statistics(const quantize::RawImatrix& m, const std::string& what) {
  const auto ts = imatrix::tensor_statistics(m);
  if (ts.empty()) fail("imatrix: {}: no statistics (no tensor has data)", what);
  std::printf("\nStatistics of %s (%zu tensors; importance = mean squared activation per column)\n\n", what.c_str(), ts.size());
  std::printf("%5s  %-14s %14s %10s %12s %10s %10s %8s %6s %9s %8s %7s %7s\n", "Layer", "Tensor", "Sum(Act^2)",
              "Min", "Max", "Mean", "StdDev", "Active", "N", "Entropy", "E(norm)", "ZD", "CosSim");
  for (const auto& t : ts)
    std::printf("%5s  %-14s %14.2f %10.4f %12.4f %10.4f %10.4f %7.2f%% %6d %9.4f %7.2f%% %6.2f%% %7.4f\n",
                t.layer.c_str(), t.kind.c_str(), t.total, t.min, t.max, t.mean, t.stddev, 100.0f * t.active,
                t.elements, t.entropy, t.entropy_norm(), 100.0f * t.zd, t.cossim);
  const auto ls = imatrix::layer_statistics(ts);
  std::printf("\nPer layer (element-weighted averages over its tensors; %zu layers)\n\n%5s %14s %9s %8s\n", ls.size(),
              "Layer", "Mean Sum(A^2)", "ZD", "CosSim");
  for (const auto& l : ls) std::printf("%5d %14.2f %8.4f%% %8.4f\n", l.layer, l.mean_total, 100.0f * l.zd, l.cossim);
}

imatrix::ImatrixResult run_imatrix_command(const ImatrixCliOptions& o, int verbosity) {
  const std::string format = imatrix_format(o.format, o.output);
  if (o.ctx < 16 || o.ctx > (1 << 20)) fail("imatrix: --ctx {} is out of range (16..1048576)", o.ctx);
  imatrix::ImatrixResult res;
  if (o.text_file.empty() && o.domain.empty()) {
    // No text: combine --in-file matrices (llama-imatrix's behaviour), or show their statistics.
    if (o.in_files.empty()) fail("imatrix: give -f FILE or --domain NAME (or --in-file to combine)");
    res.matrix = imatrix::merge_files(o.in_files, o.ctx);
    if (o.show_statistics) print_imatrix_statistics(res.matrix, o.in_files.size() == 1 ? o.in_files[0] : "the merged files");
    if (!o.output.empty()) {
      write_imatrix(res.matrix, o.output, format);
      std::fprintf(stderr, "imatrix: combined %zu file(s) into %s (%s, %zu tensors)\n", o.in_files.size(),
                   o.output.c_str(), format.c_str(), res.matrix.entries.size());
    } else if (!o.show_statistics) {
      fail("imatrix: -o OUT is required to combine files");
    }
    return res;
  }
  if (o.output.empty()) fail("imatrix: -o OUT is required");
  imatrix::ImatrixRequest r;
  if (!o.text_file.empty()) {
    std::ifstream f(o.text_file, std::ios::binary);
    if (!f) fail("imatrix: cannot read '{}'", o.text_file);
    std::stringstream ss;
    ss << f.rdbuf();
    r.text = ss.str();
    if (!r.text.empty() && r.text.back() == '\n') r.text.pop_back();  // as llama.cpp's -f
    r.dataset = o.text_file;
  } else {
    imatrix::CalibrationText t = imatrix::resolve_calibration(o.domain, false);
    r.text = std::move(t.text);
    r.dataset = t.name;
  }
  r.n_ctx = o.ctx;
  r.n_chunks = o.chunks;
  r.process_output = o.process_output;
  r.compute_ppl = !o.no_ppl;
  r.in_files = o.in_files;
  LlmOptions lo;
  lo.model = o.model;
  lo.threads = o.threads;
  lo.ctx = 16;  // load_llm's own session is unused; the run makes one of --ctx positions
  LoadedLlm l = load_llm(lo);
  res = imatrix::compute_imatrix(*l.model, *l.tok, *l.kctx, r);
  write_imatrix(res.matrix, o.output, format);
  std::fprintf(stderr, "imatrix: %lld tokens, %lld chunks of %lld, %.1f s (%.0f tok/s), %zu tensors -> %s (%s)\n",
               (long long)res.n_tokens, (long long)res.n_chunk, (long long)o.ctx, res.seconds,
               res.seconds > 0 ? double(res.n_chunk * o.ctx) / res.seconds : 0.0, res.matrix.entries.size(),
               o.output.c_str(), format.c_str());
  if (r.compute_ppl) std::printf("Final estimate: PPL = %.4f +/- %.5f\n", res.ppl, res.ppl_err);
  if (o.show_statistics) print_imatrix_statistics(res.matrix, o.output);
  (void)verbosity;
  return res;
}

void register_imatrix(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ImatrixCliOptions>();
  auto* cmd = app.add_subcommand("imatrix", "Compute, merge or inspect an importance matrix (llama-imatrix's files)");
  cmd->add_option("-m,--model", o->model, "GGUF model (default: the model setup.sh installs)");
  auto* f = cmd->add_option("-f,--file", o->text_file, "Calibration text file");
  auto* d = cmd->add_option("--domain", o->domain, "Built-in calibration set(s), comma-separated, or a path (see 'pajamas calibration list')");
  f->excludes(d);
  cmd->add_option("-o,--output", o->output, "Output imatrix file");
  cmd->add_option("--ctx", o->ctx, "Tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", o->chunks, "Use at most N chunks (default: all)");
  cmd->add_flag("--process-output", o->process_output, "Also collect output.weight");
  cmd->add_flag("--no-ppl", o->no_ppl, "Do not compute the perplexity of the chunks");
  cmd->add_option("--format,--output-format", o->format, "gguf or dat (default: by extension, else gguf)")
      ->check(CLI::IsMember({"gguf", "dat"}));
  cmd->add_option("--in-file", o->in_files, "Earlier imatrix file to add (repeatable; without text: combine them)");
  cmd->add_flag("--show-statistics", o->show_statistics, "Print per-tensor and per-layer statistics");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  cmd->callback([o, &g] { run_imatrix_command(*o, g.verbosity); });
}

}  // namespace pj::cli
