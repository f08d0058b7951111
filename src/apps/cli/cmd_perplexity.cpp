// `pajamas perplexity`: perplexity as llama-perplexity computes it (chunks of --ctx tokens from an
// empty cache, second half of each scored), and KL divergence against a reference model:
//   pajamas perplexity -m MODEL (-f FILE | --domain NAME) [--ctx 512] [--chunks N]
//   pajamas perplexity -m BASE  (-f FILE | --domain NAME) --kl-divergence-base BASE.kld
//   pajamas perplexity -m QUANT --kl-divergence BASE.kld
// The .kld file is llama-perplexity's own format (models/imatrix/perplexity.h): either program reads
// the other's. --domain uses the set's held-out text (--calibration-split: its calibration text).
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/cli/commands.h"
#include "apps/cli/llm_common.h"
#include "core/base/error.h"
#include "core/base/file.h"
#include "models/imatrix/calibration.h"
#include "models/imatrix/chunks.h"
#include "models/imatrix/driver.h"
#include "models/imatrix/perplexity.h"

namespace pj::cli {

namespace {

struct PplOpts {
  std::string model, text_file, domain, kld_base_out, kld_in, json;
  int64_t ctx = 512, chunks = -1;
  bool calibration_split = false, quiet = false, per_position = false;
  int threads = 0;
};

std::string read_text(const PplOpts& o, std::string& name) {
  if (!o.text_file.empty()) {
    std::ifstream f(o.text_file, std::ios::binary);
    if (!f) fail("perplexity: cannot read '{}'", o.text_file);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string t = ss.str();
    if (!t.empty() && t.back() == '\n') t.pop_back();  // as llama.cpp's -f
    name = o.text_file;
    return t;
  }
  if (o.domain.empty()) fail("perplexity: give -f FILE or --domain NAME");
  imatrix::CalibrationText t = imatrix::resolve_calibration(o.domain, !o.calibration_split);
  name = t.name + (o.calibration_split ? "" : " (held-out)");
  return t.text;
}

void write_json(const std::string& path, const nlohmann::ordered_json& j) {
  if (path.empty()) return;
  AtomicFileWriter w(path);
  w.write(j.dump(2) + "\n");
  w.commit();
}

void run(const PplOpts& o) {
  LlmOptions lo;
  lo.model = o.model;
  lo.threads = o.threads;
  lo.ctx = 16;
  LoadedLlm l = load_llm(lo);
  const int64_t V = l.model->hparams().n_vocab;
  const bool progress = !o.quiet;
  nlohmann::ordered_json j;
  j["model"] = l.path;

  if (!o.kld_in.empty()) {
    const imatrix::KldBase base(o.kld_in);
    if (base.n_vocab() != V)
      fail("perplexity: {}: the base model has {} vocabulary entries, this model {}", o.kld_in, base.n_vocab(), V);
    imatrix::ChunkPlan plan;
    plan.tokens = base.tokens();
    plan.n_ctx = base.n_ctx();
    plan.n_chunk = base.n_chunk();
    plan.bos = imatrix::chunk_bos(*l.tok);
    imatrix::KldStats st;
    const int64_t first = plan.n_ctx / 2;
    imatrix::Progress bar("kld", plan.n_chunk, plan.n_ctx, progress);
    imatrix::run_chunks(*l.model, *l.kctx, plan, true, {}, [&](int64_t c, const std::vector<int32_t>& toks, const float* logits) {
      for (int64_t i = first; i < plan.n_ctx - 1; ++i)
        st.add(logits + i * V, V, base.row(c, i - first), toks[size_t(i + 1)]);
    }, &bar);
    const std::vector<float> kld_in_order = st.kld_values;  // finalize() sorts them
    st.finalize();
    const auto ppl = st.ppl(), ppl_base = st.ppl_base(), ratio = st.ln_ppl_ratio(), diff = st.ppl_diff();
    const auto kld = st.kld(), top = st.same_top(), rms = st.rms_p_diff();
    std::printf("KL divergence of %s against %s: %lld chunks of %lld, %lld scored positions, %.1f s\n\n", l.path.c_str(),
                o.kld_in.c_str(), (long long)plan.n_chunk, (long long)plan.n_ctx, (long long)st.count, bar.seconds());
    std::printf("Mean PPL(Q)                   : %10.6f +/- %10.6f\n", ppl.value, ppl.err);
    std::printf("Mean PPL(base)                : %10.6f +/- %10.6f\n", ppl_base.value, ppl_base.err);
    std::printf("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100.0 * st.cor_ln_ppl());
    std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f +/- %10.6f\n", ratio.value, ratio.err);
    std::printf("Mean PPL(Q)-PPL(base)         : %10.6f +/- %10.6f\n\n", diff.value, diff.err);
    std::printf("Mean    KLD: %10.6f +/- %10.6f\n", kld.value, kld.err);
    std::printf("Maximum KLD: %10.6f\n", st.kld_percentile(1.0));
    std::printf("99.9%%   KLD: %10.6f\n", st.kld_percentile(0.999));
    std::printf("99.0%%   KLD: %10.6f\n", st.kld_percentile(0.99));
    std::printf("95.0%%   KLD: %10.6f\n", st.kld_percentile(0.95));
    std::printf("90.0%%   KLD: %10.6f\n", st.kld_percentile(0.90));
    std::printf("Median  KLD: %10.6f\n\n", st.kld_median());
    std::printf("RMS dp    : %6.3f +/- %5.3f %%\n", 100.0 * rms.value, 100.0 * rms.err);
    std::printf("Same top p: %6.3f +/- %5.3f %%\n", 100.0 * top.value, 100.0 * top.err);
    j["kld_base"] = o.kld_in;
    j["n_ctx"] = plan.n_ctx;
    j["n_chunk"] = plan.n_chunk;
    j["count"] = st.count;
    j["ppl"] = {ppl.value, ppl.err};
    j["ppl_base"] = {ppl_base.value, ppl_base.err};
    j["ln_ppl_ratio"] = {ratio.value, ratio.err};
    j["ppl_diff"] = {diff.value, diff.err};
    j["kld"] = {kld.value, kld.err};
    j["kld_percentiles"] = {{"99.9", st.kld_percentile(0.999)}, {"99", st.kld_percentile(0.99)},
                            {"95", st.kld_percentile(0.95)}, {"90", st.kld_percentile(0.90)}, {"median", st.kld_median()}};
    j["same_top"] = {top.value, top.err};
    j["rms_p_diff"] = {rms.value, rms.err};
    j["seconds"] = bar.seconds();
    // Per-position KLDs in scoring order (chunk by chunk), so that two models scored against the same base
    // can be compared position by position (a paired test: their errors are strongly correlated).
    if (o.per_position) j["kld_per_position"] = kld_in_order;
    write_json(o.json, j);
    return;
  }

  std::string name;
  const std::string text = read_text(o, name);
  imatrix::ChunkPlan plan = imatrix::plan_chunks(imatrix::tokenize_text(*l.tok, text), o.ctx, o.chunks,
                                                 imatrix::chunk_bos(*l.tok), "perplexity: " + name);
  imatrix::Perplexity ppl;
  std::unique_ptr<imatrix::KldBaseWriter> writer;
  if (!o.kld_base_out.empty())
    writer = std::make_unique<imatrix::KldBaseWriter>(o.kld_base_out, plan.n_ctx, V, plan.n_chunk, plan.tokens);
  imatrix::Progress bar("perplexity", plan.n_chunk, plan.n_ctx, progress);
  imatrix::run_chunks(*l.model, *l.kctx, plan, true, {}, [&](int64_t, const std::vector<int32_t>& toks, const float* logits) {
    if (writer) writer->add_chunk(logits, toks, ppl);
    else ppl.add_chunk(logits, toks, V);
  }, &bar);
  if (writer) writer->commit();
  std::printf("perplexity of %s on %s: %lld tokens, %lld chunks of %lld, %lld scored, %.1f s (%.0f tok/s)\n",
              l.path.c_str(), name.c_str(), (long long)plan.tokens.size(), (long long)plan.n_chunk, (long long)plan.n_ctx,
              (long long)ppl.count, bar.seconds(), bar.seconds() > 0 ? double(plan.n_chunk * plan.n_ctx) / bar.seconds() : 0.0);
  for (size_t i = 0; i < ppl.running.size(); ++i) std::printf("[%zu]%.4f,", i + 1, ppl.running[i]);
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl.ppl(), ppl.ppl_uncertainty());
  if (writer) std::printf("stored the base log-probabilities in %s\n", o.kld_base_out.c_str());
  j["text"] = name;
  j["n_ctx"] = plan.n_ctx;
  j["n_chunk"] = plan.n_chunk;
  j["count"] = ppl.count;
  j["ppl"] = {ppl.ppl(), ppl.ppl_uncertainty()};
  j["seconds"] = bar.seconds();
  write_json(o.json, j);
}

}  // namespace

void register_perplexity(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<PplOpts>();
  auto* cmd = app.add_subcommand("perplexity", "Perplexity and KL divergence (llama-perplexity's method and .kld files)");
  cmd->add_option("-m,--model", o->model, "GGUF model (default: the model setup.sh installs)");
  auto* f = cmd->add_option("-f,--file", o->text_file, "Text file");
  auto* d = cmd->add_option("--domain", o->domain, "Built-in set(s): their held-out text, comma-separated");
  f->excludes(d);
  cmd->add_flag("--calibration-split", o->calibration_split, "With --domain: the calibration text instead of the held-out one");
  cmd->add_option("--ctx", o->ctx, "Tokens per chunk")->capture_default_str()->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--chunks", o->chunks, "Use at most N chunks (default: all)");
  auto* kb = cmd->add_option("--kl-divergence-base", o->kld_base_out, "Store this model's log-probabilities (reference) in FILE");
  auto* k = cmd->add_option("--kl-divergence", o->kld_in, "Compare with the reference stored in FILE (its tokens are used)");
  kb->excludes(k);
  auto* js = cmd->add_option("--json", o->json, "Also write the results as JSON");
  cmd->add_flag("--per-position", o->per_position, "With --kl-divergence and --json: add every position's KLD (in order)")
      ->needs(js)->needs(k);
  cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  cmd->callback([o, &g] { run(*o); });
}

}  // namespace pj::cli
