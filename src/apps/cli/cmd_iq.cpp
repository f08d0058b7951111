// `pajamas iq`: the importance-matrix quantization workflow.
//   pajamas iq generate-matrix --model M (--calibration FILE | --domain D) --output OUT [--ctx] [--chunks]
//   pajamas iq quantize --model F16.gguf --domain medical --precision IQ3_XS --output DIR
// iq quantize makes the importance matrix (or reuses one from the cache, keyed by the model's content
// hash, the calibration text and the settings), quantizes with it, and writes DIR/<name>.json beside
// the model: domains, tokens, chunks, imatrix file, sizes and times.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.h"
#include "apps/cli/imatrix_cli.h"
#include "apps/cli/model_path.h"
#include "apps/cli/llm_common.h"
#include "core/base/error.h"
#include "core/base/file.h"
#include "models/imatrix/calibration.h"
#include "models/quantize/quantize.h"

namespace pj::cli {

namespace {

namespace fs = std::filesystem;

std::string cache_dir(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* e = std::getenv("PJ_CACHE_DIR"); e && *e) return std::string(e) + "/imatrix";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/pj/imatrix";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/pj/imatrix";
  return ".pj-cache/imatrix";
}

std::string safe_name(std::string s) {
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '+')) c = '_';
  return s;
}

struct IqQuantOpts {
  std::string model, domain, calibration, imatrix, precision, output, cache;
  int64_t ctx = 512, chunks = -1;
  bool no_imatrix = false, allow_requantize = false, process_output = false;
  int threads = 0;
};

void iq_quantize(const IqQuantOpts& o, int verbosity) {
  const auto t_start = std::chrono::steady_clock::now();
  const quantize::FileTypeInfo* ft = quantize::find_file_type(o.precision);
  if (!ft) fail("iq: unknown precision '{}'", o.precision);
  const int sources = int(!o.domain.empty()) + int(!o.calibration.empty()) + int(!o.imatrix.empty()) + int(o.no_imatrix);
  if (sources != 1) fail("iq quantize: give exactly one of --domain, --calibration, --imatrix, --no-imatrix");
  const std::string model = resolve_model_path(o.model);
  fs::create_directories(o.output);
  const std::string stem = fs::path(model).stem().string();
  std::string tag = o.no_imatrix ? "noimatrix" : !o.domain.empty() ? safe_name(o.domain) : !o.calibration.empty()
                                                   ? safe_name(fs::path(o.calibration).stem().string())
                                                   : safe_name(fs::path(o.imatrix).stem().string());
  const std::string base = stem + "-" + std::string(ft->name) + "-" + tag;
  const std::string out_model = (fs::path(o.output) / (base + ".gguf")).string();
  const std::string out_meta = (fs::path(o.output) / (base + ".json")).string();

  nlohmann::ordered_json meta;
  meta["model"] = model;
  meta["precision"] = std::string(ft->name);
  meta["output"] = out_model;
  std::string imatrix_path = o.imatrix;
  double t_imatrix = 0;
  if (!o.domain.empty() || !o.calibration.empty()) {
    const imatrix::CalibrationText cal = imatrix::resolve_calibration(o.domain.empty() ? o.calibration : o.domain, false);
    uint64_t key = file_fingerprint(model);
    key = fnv1a(cal.text.data(), cal.text.size(), key);
    const std::string settings = fmt::format("ctx={};chunks={};out={}", o.ctx, o.chunks, o.process_output);
    key = fnv1a(settings.data(), settings.size(), key);
    const std::string dir = cache_dir(o.cache);
    fs::create_directories(dir);
    imatrix_path = (fs::path(dir) / fmt::format("{}-{}-{:016x}.imatrix.gguf", safe_name(stem), safe_name(cal.name), key)).string();
    const std::string info_path = imatrix_path + ".json";
    nlohmann::ordered_json info;
    if (fs::exists(imatrix_path) && fs::exists(info_path)) {
      std::ifstream in(info_path);
      info = nlohmann::ordered_json::parse(in, nullptr, false);
      meta["imatrix_reused"] = true;
      std::printf("iq: reusing the importance matrix %s\n", imatrix_path.c_str());
    } else {
      ImatrixCliOptions io;
      io.model = model;
      io.domain = o.domain.empty() ? o.calibration : o.domain;
      io.output = imatrix_path;
      io.format = "gguf";
      io.ctx = o.ctx;
      io.chunks = o.chunks;
      io.process_output = o.process_output;
      io.no_ppl = true;
      io.threads = o.threads;
      const imatrix::ImatrixResult res = run_imatrix_command(io, verbosity);
      info["tokens"] = res.n_tokens;
      info["chunks"] = res.n_chunk;
      info["seconds"] = res.seconds;
      AtomicFileWriter w(info_path);
      w.write(info.dump(2) + "\n");
      w.commit();
      meta["imatrix_reused"] = false;
      t_imatrix = res.seconds;
    }
    meta["domains"] = cal.name;
    meta["calibration_samples"] = cal.n_samples;
    meta["calibration_tokens"] = info.value("tokens", int64_t(0));
    meta["chunks"] = info.value("chunks", int64_t(0));
    meta["ctx"] = o.ctx;
    meta["imatrix_seconds"] = t_imatrix;
  }
  meta["imatrix"] = imatrix_path;

  quantize::Request r;
  r.input = model;
  r.output = out_model;
  r.options.ftype = ft->id;
  r.imatrix_path = imatrix_path;
  r.allow_requantize = o.allow_requantize;
  r.threads = o.threads;
  const quantize::Report rep = quantize::quantize_gguf(r, [verbosity](const std::string& line) {
    if (verbosity > 0) std::printf("%s\n", line.c_str());
  });
  meta["input_bytes"] = rep.bytes_in;
  meta["output_bytes"] = rep.bytes_out;
  meta["output_file_bytes"] = uint64_t(fs::file_size(out_model));
  meta["bpw"] = rep.bpw_out();
  meta["quantize_seconds"] = rep.seconds;
  meta["requantized_tensors"] = rep.n_requantized;
  meta["fallback_tensors"] = rep.n_fallback;
  meta["threads"] = o.threads;
  meta["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  AtomicFileWriter w(out_meta);
  w.write(meta.dump(2) + "\n");
  w.commit();
  std::printf("iq: %s -> %s (%s, %.2f bpw, %.2f MiB, %.1f s%s)\n  metadata: %s\n", model.c_str(), out_model.c_str(),
              std::string(ft->name).c_str(), rep.bpw_out(), double(rep.bytes_out) / 1048576.0, rep.seconds,
              imatrix_path.empty() ? ", no imatrix" : (", imatrix " + imatrix_path).c_str(), out_meta.c_str());
}

}  // namespace

void register_iq(CLI::App& app, const GlobalOptions& g) {
  auto* cmd = app.add_subcommand("iq", "Importance-matrix quantization: generate matrices, quantize with them");
  cmd->require_subcommand(1);

  auto go = std::make_shared<ImatrixCliOptions>();
  auto* gen = cmd->add_subcommand("generate-matrix", "Compute an importance matrix (as 'pajamas imatrix')");
  gen->add_option("--model,-m", go->model, "GGUF model");
  auto* c = gen->add_option("--calibration", go->text_file, "Calibration text file");
  auto* d = gen->add_option("--domain", go->domain, "Built-in calibration set(s), comma-separated");
  c->excludes(d);
  gen->add_option("--output,-o", go->output, "Output imatrix file")->required();
  gen->add_option("--ctx", go->ctx, "Tokens per chunk")->capture_default_str();
  gen->add_option("--chunks", go->chunks, "Use at most N chunks");
  gen->add_option("--format", go->format, "gguf or dat")->check(CLI::IsMember({"gguf", "dat"}));
  gen->add_flag("--process-output", go->process_output, "Also collect output.weight");
  gen->add_option("-t,--threads", go->threads, "Threads");
  gen->callback([go, &g] { run_imatrix_command(*go, g.verbosity); });

  auto qo = std::make_shared<IqQuantOpts>();
  auto* q = cmd->add_subcommand("quantize", "Quantize with an importance matrix made (or reused) for a domain");
  q->add_option("--model,-m", qo->model, "GGUF model (F16/F32, or quantized with --allow-requantize)");
  q->add_option("--domain", qo->domain, "Built-in calibration set(s), comma-separated, or a path");
  q->add_option("--calibration", qo->calibration, "Calibration text file");
  q->add_option("--imatrix", qo->imatrix, "Use this importance matrix");
  q->add_flag("--no-imatrix", qo->no_imatrix, "Quantize without an importance matrix");
  q->add_option("--precision", qo->precision, "File type (IQ2_XS, IQ3_XS, IQ4_XS, Q4_K_M, ...)")->required();
  q->add_option("--output,-o", qo->output, "Output folder")->required();
  q->add_option("--ctx", qo->ctx, "Tokens per imatrix chunk")->capture_default_str();
  q->add_option("--chunks", qo->chunks, "Use at most N chunks");
  q->add_flag("--process-output", qo->process_output, "Also collect output.weight");
  q->add_flag("--allow-requantize", qo->allow_requantize, "Allow a quantized input");
  q->add_option("--cache", qo->cache, "Imatrix cache folder (default: ~/.cache/pj/imatrix)");
  q->add_option("-t,--threads", qo->threads, "Threads");
  q->callback([qo, &g] { iq_quantize(*qo, g.verbosity); });
}

}  // namespace pj::cli
