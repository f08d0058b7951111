// `pajamas evaluate llm`: strict evaluation of a model on a question set (src/apps/eval), the model run
// through its own chat template with greedy decoding. `pajamas evaluate compare`: Markdown and HTML
// reports across evaluations, optionally evaluating every GGUF under a folder first (--all).
#include "apps/cli/commands.h"
#include "apps/cli/llm_common.h"
#include "apps/cli/model_path.h"
#include "apps/eval/report.h"
#include "apps/eval/runner.h"
#include "core/base/error.h"
#include "core/base/file.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace pj::cli {

namespace {

namespace fs = std::filesystem;
using pj::eval::Evaluation;

struct EvalOptions {
  LlmOptions llm;
  std::string questions;  // empty: the built-in set
  std::vector<std::string> categories;
  int num_questions = 0;
  bool lenient = false;
  std::string thinking = "off";
  int max_tokens = 0;  // 0: 512, or 2048 with thinking on
  std::string chat_template;  // file replacing (or supplying) the model's tokenizer.chat_template
  std::string output;
};

constexpr const char* kBuiltinQuestions = "questions.json";

// The built-in set: $PAJAMAS_DATA/eval, else <repo>/data/eval next to the build folder holding the
// binary, else ./data/eval.
std::string builtin_questions_path() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("PAJAMAS_DATA"); env && *env) dirs.push_back(fs::path(env) / "eval");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path() / "data" / "eval");
  dirs.push_back(fs::path("data") / "eval");
  for (const auto& d : dirs)
    if (file_exists((d / kBuiltinQuestions).string())) return (d / kBuiltinQuestions).string();
  fail("evaluate: the built-in question set {} is not found (set PAJAMAS_DATA to the repository's data folder, or "
       "pass --questions)",
       (dirs.front() / kBuiltinQuestions).string());
}

// llama.cpp's llama_ftype numbering (general.file_type), from llama.h's enum llama_ftype.
std::string ftype_name(uint32_t t) {
  static const std::pair<uint32_t, const char*> names[] = {
      {0, "F32"},      {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},     {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"},  {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {19, "IQ2_XXS"}, {20, "IQ2_XS"},
      {21, "Q2_K_S"},  {22, "IQ3_XS"}, {23, "IQ3_XXS"}, {24, "IQ1_S"}, {25, "IQ4_NL"}, {26, "IQ3_S"},
      {27, "IQ3_M"},   {28, "IQ2_S"},  {29, "IQ2_M"},  {30, "IQ4_XS"}, {31, "IQ1_M"},  {32, "BF16"},
      {36, "TQ1_0"},   {37, "TQ2_0"}};
  for (const auto& [k, v] : names)
    if (k == t) return v;
  return "type " + std::to_string(t);
}

// --chat-template FILE: a Jinja template, or a Hugging Face tokenizer_config.json holding one in
// "chat_template" (a string, or a list of {name, template} of which "default" is taken). For models that
// carry no template (base models) or a wrong one; the file is recorded in the results' settings.
std::string load_chat_template(const std::string& path) {
  const std::string text = read_text_file(path);
  if (!path.ends_with(".json")) return text;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("evaluate: --chat-template {}: not valid JSON ({})", path, e.what());
  }
  const auto it = j.is_object() ? j.find("chat_template") : j.end();
  if (it == j.end()) fail("evaluate: --chat-template {}: no \"chat_template\" field", path);
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array())
    for (const auto& t : *it)
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        return t["template"].get<std::string>();
  fail("evaluate: --chat-template {}: \"chat_template\" is neither a string nor a list holding a \"default\" template",
       path);
}

int64_t path_size(const std::string& p) {
  std::error_code ec;
  if (!fs::is_directory(p, ec)) {
    const auto n = fs::file_size(p, ec);
    return ec ? -1 : int64_t(n);
  }
  int64_t total = 0;
  for (const auto& e : fs::directory_iterator(p, ec))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") total += int64_t(e.file_size());
  return total;
}

// One question through the model: system + user message in the model's chat template, a fresh KV
// cache, greedy decoding. Templates that refuse a system role (Gemma 2) get it folded into the user turn.
eval::Reply ask_model(LoadedLlm& l, const eval::PromptMessages& m, bool thinking, int max_tokens) {
  using clock = std::chrono::steady_clock;
  eval::Reply r;
  try {
    r.prompt = render_chat(l, nlohmann::json::array({{{"role", "system"}, {"content", m.system}},
                                                      {{"role", "user"}, {"content", m.user}}}),
                           thinking);
  } catch (const pj::Error&) {
    r.prompt = render_chat(l, nlohmann::json::array({{{"role", "user"}, {"content", m.system + "\n\n" + m.user}}}),
                           thinking);
  }
  const std::vector<int32_t> ids = tokenize_prompt(*l.tok, r.prompt, true);
  if (int64_t(ids.size()) >= l.session->n_ctx())
    fail("evaluate: the prompt has {} tokens, more than the context ({}); raise --ctx", ids.size(), l.session->n_ctx());
  l.session->truncate(0);
  llm::Sampler greedy(llm::SamplerParams{});
  llm::GenerateOptions go;
  go.max_tokens = max_tokens;
  const auto t0 = clock::now();
  double first = -1;
  auto g = llm::generate(*l.session, *l.tok, greedy, ids, go, [&](const std::string&) {
    if (first < 0) first = std::chrono::duration<double>(clock::now() - t0).count();
    return true;
  });
  r.total = std::chrono::duration<double>(clock::now() - t0).count();
  r.text = g.text;
  r.prompt_tokens = g.n_prompt;
  r.generated_tokens = g.n_generated;
  r.prompt_seconds = g.prompt_seconds;
  r.generate_seconds = g.generate_seconds;
  r.ttft = first >= 0 ? first : g.prompt_seconds;
  r.finish_reason = g.finish_reason;
  return r;
}

std::string progress_bar(size_t done, size_t total, int width = 28) {
  const int fill = total ? int(width * done / total) : width;
  return "[" + std::string(size_t(fill), '#') + std::string(size_t(width - fill), '.') + "]";
}

// Evaluates one model into `output` (resuming it when it holds a partial run of the same settings).
eval::Summary evaluate_model(const EvalOptions& o, const std::string& model_arg, const std::string& output_arg,
                             const std::string& label) {
  const std::string model_path = resolve_model_path(model_arg);
  const std::string qpath = o.questions.empty() ? builtin_questions_path() : o.questions;
  const eval::QuestionSet set = eval::load_questions(qpath);
  const std::vector<eval::Question> qs = eval::select_questions(set.questions, o.categories, o.num_questions);
  const std::string output = output_arg.empty() ? eval::default_output_path(model_path) : output_arg;

  Evaluation e;
  e.settings.model_path = model_path;
  e.settings.questions = o.questions.empty() ? "built-in" : o.questions;
  e.settings.categories = o.categories;
  e.settings.num_questions = o.num_questions;
  e.settings.thinking = o.thinking;
  e.settings.max_tokens = o.max_tokens > 0 ? o.max_tokens : (o.thinking == "on" ? 2048 : 512);
  e.settings.chat_template = o.chat_template;
  // Read (and parsed, below) before a model loads, so a bad file fails fast.
  std::unique_ptr<chat::Template> tmpl;
  if (!o.chat_template.empty()) {
    const std::string source = load_chat_template(o.chat_template);
    if (source.find_first_not_of(" \t\r\n") == std::string::npos) fail("evaluate: --chat-template {}: empty template", o.chat_template);
    tmpl = std::make_unique<chat::Template>(source, o.chat_template);
  }
  for (const auto& q : qs) e.settings.question_ids.push_back(q.id);
  e.mode = o.lenient ? "lenient" : "strict";

  if (file_exists(output)) {
    Evaluation prev = eval::read_evaluation(output);
    const std::string why = eval::resume_mismatch(prev.settings, e.settings);
    if (!why.empty())
      fail("evaluate: {} holds a run with other settings ({}); delete it or choose another --output", output, why);
    prev.mode = e.mode;
    e = std::move(prev);
    if (e.complete()) {
      std::fprintf(stderr, "%s%s: already complete (%zu questions)\n", label.c_str(), output.c_str(), e.results.size());
      eval::Summary s = eval::summarize(e);
      s.path = output;
      return s;
    }
    std::fprintf(stderr, "%s: resuming after %zu of %zu questions\n", output.c_str(), e.results.size(), qs.size());
  }

  LoadedLlm l = load_llm([&] {
    LlmOptions lo = o.llm;
    lo.model = model_path;
    return lo;
  }());
  if (tmpl) l.tmpl = std::move(tmpl);
  e.settings.format = is_directory(model_path) ? "hf" : "gguf";
  std::string name = fs::path(model_path).filename().string();
  if (name.size() > 5 && name.ends_with(".gguf")) name.resize(name.size() - 5);
  e.model_name = name;
  const auto& f = l.model->file();
  if (f.has("general.file_type")) e.quant_type = ftype_name(f.get_u32("general.file_type"));
  e.model_size_bytes = path_size(model_path);
  e.threads = l.kctx->pool().size();

  const bool tty = ::isatty(2);
  const bool thinking = o.thinking == "on";
  eval::run_evaluation(
      e, qs, [&](const eval::Question&, const eval::PromptMessages& m) { return ask_model(l, m, thinking, e.settings.max_tokens); },
      output, [&](const Evaluation& ev, size_t planned) {
        const auto& r = ev.results.back();
        const size_t n = ev.results.size();
        size_t ok = 0;
        for (const auto& x : ev.results) ok += o.lenient ? x.lenient_correct : x.strict_correct;
        const bool right = o.lenient ? r.lenient_correct : r.strict_correct;
        std::fprintf(stderr, "%s%s%s %zu/%zu  %.1f%% correct  %s %s %.2fs%s", tty ? "\r\x1b[2K" : "", label.c_str(),
                     progress_bar(n, planned).c_str(), n, planned, 100.0 * double(ok) / double(n), r.id.c_str(),
                     right ? "right" : "wrong", r.time, tty ? "" : "\n");
        std::fflush(stderr);
      });
  if (tty) std::fputc('\n', stderr);
  eval::Summary s = eval::summarize(e);
  s.path = output;
  return s;
}

void print_summary(const eval::Summary& s) {
  std::printf("%s: %s accuracy %.1f%% (%lld/%lld, 95%% CI %.1f-%.1f%%); strict %lld, lenient %lld\n", s.model_name.c_str(),
              s.mode.c_str(), 100 * s.accuracy, (long long)s.correct, (long long)s.total, 100 * s.ci.lo, 100 * s.ci.hi,
              (long long)s.strict_correct, (long long)s.lenient_correct);
  for (const auto& c : s.categories)
    std::printf("  %-14s %5.1f%% (%lld/%lld)\n", c.name.c_str(), 100 * c.accuracy, (long long)c.correct, (long long)c.total);
  std::printf("latency mean %.3f s, median %.3f s, p95 %.3f s; time to first token median %.3f s; prompt %.1f tok/s, "
              "generation %.1f tok/s; peak RSS %.1f MB\n",
              s.latency.mean, s.latency.median, s.latency.p95, s.ttft.median, s.prompt_tps, s.generation_tps,
              double(s.peak_rss_bytes) / 1e6);
  std::printf("results: %s\n", s.path.c_str());
}

void add_eval_options(CLI::App* cmd, EvalOptions& o, bool with_model) {
  if (with_model) {
    add_llm_options(cmd, o.llm);
  } else {
    cmd->add_option("-t,--threads", o.llm.threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_option("-c,--ctx", o.llm.ctx, "Context length (KV cache positions)")->check(CLI::Range(16, 1 << 22));
  }
  cmd->add_option("--num-questions", o.num_questions, "Evaluate N questions, taken from each category in turn (default: all)")
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--categories", o.categories, "Only these categories (space or comma separated)")->delimiter(',');
  cmd->add_option("--questions", o.questions, "Question file: .json (ours), .jsonl (ours, MMLU- or GSM8K-style), .csv (MMLU)");
  cmd->add_flag("--lenient", o.lenient, "Report lenient accuracy (the reply contains the answer) as the headline");
  cmd->add_option("--thinking", o.thinking, "Let the chat template enable reasoning")
      ->check(CLI::IsMember({"on", "off"}))->capture_default_str();
  cmd->add_option("-n,--max-tokens", o.max_tokens, "Token budget per reply (default: 512, or 2048 with --thinking on)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--chat-template", o.chat_template,
                  "Chat template to use instead of the model's (a Jinja file, or a tokenizer_config.json holding one); "
                  "for base models that carry none");
}

// evaluation.json files named by PATH: the file itself, a model's default output, or every
// evaluation in a folder.
std::vector<std::string> evaluations_at(const std::string& p) {
  if (is_directory(p)) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(p)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && (name == "evaluation.json" || name.ends_with(".evaluation.json"))) out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    if (out.empty()) fail("evaluate compare: {}: no evaluation.json or *.evaluation.json in this folder", p);
    return out;
  }
  if (p.ends_with(".json")) return {p};
  const std::string d = eval::default_output_path(p);
  if (!file_exists(d)) fail("evaluate compare: {}: no evaluation found ({}); run 'pajamas evaluate llm -m {}'", p, d, p);
  return {d};
}

}  // namespace

void register_evaluate(CLI::App& app, const GlobalOptions& g) {
  auto* ev = app.add_subcommand("evaluate", "Strict evaluation of models on question sets, and comparison reports");
  ev->require_subcommand(1);

  auto o = std::make_shared<EvalOptions>();
  auto* llm = ev->add_subcommand("llm", "Evaluate a language model: strict exact-answer accuracy, latency, speed, memory");
  add_eval_options(llm, *o, true);
  llm->add_option("-o,--output", o->output, "Results file (default: <model>.evaluation.json beside a GGUF, "
                                            "<folder>/evaluation.json for a model folder)");
  llm->callback([o] { print_summary(evaluate_model(*o, o->llm.model, o->output, "")); });

  struct CompareOpts {
    EvalOptions eval;
    std::vector<std::string> paths;
    std::string all, out = "evaluation_report", sort = "size";
  };
  auto c = std::make_shared<CompareOpts>();
  auto* cmp = ev->add_subcommand("compare", "Markdown and HTML reports comparing evaluations (of several quantizations)");
  cmp->add_option("paths", c->paths, "evaluation.json files, models (their default results file) or folders holding them");
  cmp->add_option("--all", c->all, "First evaluate every .gguf under this folder (resuming partial runs), then compare them");
  cmp->add_option("-o,--output", c->out, "Report path without extension: writes <path>.md and <path>.html")->capture_default_str();
  cmp->add_option("--sort", c->sort, "Row order")->check(CLI::IsMember({"size", "accuracy", "none"}))->capture_default_str();
  add_eval_options(cmp, c->eval, false);
  cmp->callback([c] {
    std::vector<eval::Summary> runs;
    if (!c->all.empty()) {
      if (!is_directory(c->all)) fail("evaluate compare: --all {}: not a folder", c->all);
      std::vector<std::string> models;
      for (const auto& e : fs::recursive_directory_iterator(c->all))
        if (e.is_regular_file() && e.path().extension() == ".gguf") models.push_back(e.path().string());
      std::sort(models.begin(), models.end());
      if (models.empty()) fail("evaluate compare: --all {}: no .gguf files under this folder", c->all);
      for (size_t i = 0; i < models.size(); ++i) {
        const std::string label = fmt::format("model {}/{} {} ", i + 1, models.size(), fs::path(models[i]).filename().string());
        runs.push_back(evaluate_model(c->eval, models[i], "", label));
      }
    }
    for (const auto& p : c->paths)
      for (const auto& f : evaluations_at(p)) runs.push_back(eval::read_summary(f));
    if (runs.empty()) fail("evaluate compare: nothing to compare: give evaluation files, models or folders, or --all FOLDER");
    if (c->sort == "size")
      std::stable_sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.model_size_bytes > b.model_size_bytes; });
    else if (c->sort == "accuracy")
      std::stable_sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.accuracy > b.accuracy; });
    for (const auto& [ext, text] : {std::pair{std::string(".md"), eval::markdown_report(runs)},
                                    std::pair{std::string(".html"), eval::html_report(runs)}}) {
      AtomicFileWriter w(c->out + ext);
      w.write(text);
      w.commit();
      std::printf("wrote %s%s\n", c->out.c_str(), ext.c_str());
    }
  });
}

}  // namespace pj::cli
