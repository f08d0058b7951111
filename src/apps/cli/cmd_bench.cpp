// `pajamas bench`: prompt processing (pp) and generation (tg) throughput as llama-bench measures
// them: pp runs N prompt tokens in one batch on an empty cache; tg generates N tokens one at a time
// after an empty cache; each repeated -r times, reported as mean and standard deviation of tokens/s.
#include "apps/cli/commands.h"
#include "apps/cli/llm_common.h"
#include "core/base/error.h"
#include "core/kernels/context.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

namespace pj::cli {

namespace {

struct Stat {
  double mean = 0, sd = 0;
};
Stat stats(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0.0;
  return s;
}

}  // namespace

void register_bench(CLI::App& app, const GlobalOptions& g) {
  struct Opts {
    LlmOptions llm;
    int n_prompt = 512, n_gen = 128, reps = 5;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("bench", "Measure prompt-processing and generation speed (tokens/s)");
  add_llm_options(cmd, o->llm);
  cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens (0: skip)")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-n,--n-gen", o->n_gen, "Generated tokens (0: skip)")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-r,--repetitions", o->reps, "Repetitions")->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] {
    LlmOptions lo = o->llm;
    lo.ctx = std::max<int64_t>(lo.ctx, std::max(o->n_prompt, o->n_gen) + 1);
    LoadedLlm l = load_llm(lo);
    const int64_t V = l.model->hparams().n_vocab;
    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> tok(0, int32_t(V - 1));
    using clock = std::chrono::steady_clock;
    auto run_pp = [&] {
      std::vector<int32_t> p(size_t(o->n_prompt));
      for (auto& t : p) t = tok(rng);
      l.session->truncate(0);
      auto t0 = clock::now();
      for (size_t i = 0; i < p.size(); i += 512) {
        size_t n = std::min<size_t>(512, p.size() - i);
        l.session->decode(std::span<const int32_t>(p.data() + i, n));
      }
      return double(o->n_prompt) / std::chrono::duration<double>(clock::now() - t0).count();
    };
    auto run_tg = [&] {
      l.session->truncate(0);
      int32_t t = tok(rng);
      auto t0 = clock::now();
      for (int i = 0; i < o->n_gen; ++i) {
        auto lg = l.session->decode({&t, 1});
        t = llm::argmax(lg.data(), int32_t(lg.size()));
      }
      return double(o->n_gen) / std::chrono::duration<double>(clock::now() - t0).count();
    };
    // one warm-up of each, as llama-bench does
    if (o->n_prompt > 0) run_pp();
    if (o->n_gen > 0) run_tg();
    std::vector<double> pp, tg;
    for (int r = 0; r < o->reps; ++r) {
      if (o->n_prompt > 0) pp.push_back(run_pp());
      if (o->n_gen > 0) tg.push_back(run_tg());
    }
    const auto& f = l.model->file();
    const int threads = l.kctx->pool().size();
    const std::string isa(isa_name(l.kctx->isa()));
    if (o->json) {
      nlohmann::json j = {{"model", l.path}, {"size_bytes", f.file_size()}, {"threads", threads}, {"isa", isa}};
      if (!pp.empty()) j["pp"] = {{"n", o->n_prompt}, {"tokens_per_s", stats(pp).mean}, {"sd", stats(pp).sd}, {"samples", pp}};
      if (!tg.empty()) j["tg"] = {{"n", o->n_gen}, {"tokens_per_s", stats(tg).mean}, {"sd", stats(tg).sd}, {"samples", tg}};
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("| model | size | threads | isa | test | t/s |\n| --- | ---: | ---: | --- | --- | ---: |\n");
    auto row = [&](const char* name, int n, const std::vector<double>& v) {
      Stat s = stats(v);
      std::printf("| %s | %.2f MiB | %d | %s | %s%d | %.2f ± %.2f |\n", f.get_string_or("general.name", l.path).c_str(),
                  double(f.file_size()) / (1 << 20), threads, isa.c_str(), name, n, s.mean, s.sd);
    };
    if (!pp.empty()) row("pp", o->n_prompt, pp);
    if (!tg.empty()) row("tg", o->n_gen, tg);
  });
}

}  // namespace pj::cli
