// `pajamas run` (one completion) and `pajamas chat` (a conversation, interactive or one turn).
#include "apps/cli/commands.h"
#include "apps/cli/model_path.h"
#include "core/base/error.h"
#include "core/kernels/context.h"
#include "models/chat/template.h"
#include "models/llm/generate.h"
#include "models/llm/model.h"
#include "models/tokenizer/gguf_tokenizer.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

namespace pj::cli {

namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string system;
  int max_tokens = 256;
  int threads = 0;
  int64_t ctx = 4096;
  float temperature = 0.0f, top_p = 1.0f, min_p = 0.0f, repeat_penalty = 1.0f;
  int top_k = 0;
  uint64_t seed = 0xC0FFEE;
  bool raw = false;
  bool stats = false;
  int verbosity = 0;
  std::string kv_type = "f16";
};

void add_common(CLI::App* cmd, RunOptions& o) {
  cmd->add_option("-m,--model", o.model, "GGUF model (default: the model installed by setup.sh)");
  cmd->add_option("-n,--max-tokens", o.max_tokens, "Tokens to generate at most")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("-t,--threads", o.threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx", o.ctx, "Context length (KV cache positions)")->check(CLI::Range(16, 1 << 22));
  cmd->add_option("--temp", o.temperature, "Sampling temperature (0: greedy)")->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--top-k", o.top_k, "Keep the K most likely tokens (0: off)")->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--top-p", o.top_p, "Nucleus sampling mass (1: off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", o.min_p, "Drop tokens below min-p times the top probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", o.repeat_penalty, "Penalty for repeated tokens (1: off)");
  cmd->add_option("--seed", o.seed, "Random seed");
  cmd->add_option("--kv-type", o.kv_type, "KV cache type")->check(CLI::IsMember({"f16", "f32"}));
  cmd->add_flag("--stats", o.stats, "Print timings to stderr");
}

struct Loaded {
  std::unique_ptr<llm::LlmModel> model;
  std::unique_ptr<tok::Tokenizer> tok;
  std::unique_ptr<KernelContext> kctx;
  std::unique_ptr<llm::LlmSession> session;
  std::unique_ptr<chat::Template> tmpl;
};

Loaded load(RunOptions& o) {
  Loaded l;
  o.model = resolve_model_path(o.model);
  l.model = llm::LlmModel::load(o.model);
  l.tok = std::make_unique<tok::Tokenizer>(tok::load_gguf_tokenizer(l.model->file()));
  KernelContext::Options ko;
  ko.threads = o.threads;
  l.kctx = std::make_unique<KernelContext>(ko);
  llm::SessionOptions so;
  so.n_ctx = o.ctx;
  so.kv_type = o.kv_type == "f32" ? ops::KvType::f32 : ops::KvType::f16;
  l.session = std::make_unique<llm::LlmSession>(*l.model, *l.kctx, so);
  const std::string src = l.model->file().get_string_or("tokenizer.chat_template", "");
  if (!src.empty()) l.tmpl = std::make_unique<chat::Template>(src, o.model + ": chat template");
  return l;
}

llm::Sampler make_sampler(const RunOptions& o) {
  llm::SamplerParams p;
  p.temperature = o.temperature;
  p.top_k = o.top_k;
  p.top_p = o.top_p;
  p.min_p = o.min_p;
  p.repeat_penalty = o.repeat_penalty;
  p.seed = o.seed;
  return llm::Sampler(p);
}

std::vector<int32_t> tokenize_prompt(const tok::Tokenizer& t, const std::string& text, bool specials) {
  std::vector<int> ids = t.encode(text, specials, false);
  const auto& sp = t.spec();
  if (sp.add_bos && sp.bos_id >= 0 && (ids.empty() || ids.front() != sp.bos_id)) ids.insert(ids.begin(), sp.bos_id);
  return {ids.begin(), ids.end()};
}

std::string render_chat(const Loaded& l, const nlohmann::json& messages, int verbosity) {
  if (!l.tmpl) fail("{}: the model has no chat template (tokenizer.chat_template); use 'pajamas run --raw'", l.model->file().path());
  nlohmann::json ctx = {{"messages", messages}, {"add_generation_prompt", true}, {"tools", nullptr}};
  const auto& sp = l.tok->spec();
  if (sp.bos_id >= 0) ctx["bos_token"] = l.tok->token(sp.bos_id);
  if (sp.eos_id >= 0) ctx["eos_token"] = l.tok->token(sp.eos_id);
  std::string out = l.tmpl->render(ctx);
  if (verbosity > 0) std::fprintf(stderr, "[prompt]\n%s[/prompt]\n", out.c_str());
  return out;
}

void print_stats(const llm::GenerateResult& r) {
  std::fprintf(stderr, "\n[prompt %d tokens in %.3f s (%.1f tok/s), generated %d tokens in %.3f s (%.1f tok/s)]\n",
               r.n_prompt, r.prompt_seconds, r.n_prompt / std::max(1e-9, r.prompt_seconds), r.n_generated,
               r.generate_seconds, r.n_generated / std::max(1e-9, r.generate_seconds));
}

llm::GenerateResult stream_reply(Loaded& l, const RunOptions& o, const std::vector<int32_t>& prompt) {
  llm::Sampler sampler = make_sampler(o);
  llm::GenerateOptions go;
  go.max_tokens = o.max_tokens;
  auto r = llm::generate(*l.session, *l.tok, sampler, prompt, go, [](const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  if (o.stats) print_stats(r);
  return r;
}

}  // namespace

void register_run(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Generate a reply to one prompt with a GGUF model");
  add_common(cmd, *o);
  cmd->add_option("-p,--prompt", o->prompt, "The prompt")->required();
  cmd->add_option("-s,--system", o->system, "System message (chat mode)");
  cmd->add_flag("--raw", o->raw, "Complete the prompt as plain text, without the chat template");
  cmd->callback([o, &g] {
    o->verbosity = g.verbosity;
    Loaded l = load(*o);
    std::vector<int32_t> prompt;
    if (o->raw) {
      prompt = tokenize_prompt(*l.tok, o->prompt, false);
    } else {
      nlohmann::json msgs = nlohmann::json::array();
      if (!o->system.empty()) msgs.push_back({{"role", "system"}, {"content", o->system}});
      msgs.push_back({{"role", "user"}, {"content", o->prompt}});
      prompt = tokenize_prompt(*l.tok, render_chat(l, msgs, o->verbosity), true);
    }
    stream_reply(l, *o, prompt);
  });
}

void register_chat(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("chat", "Chat with a GGUF model (interactive; with -p, one turn)");
  add_common(cmd, *o);
  cmd->add_option("-p,--prompt", o->prompt, "First user message; without it, read messages from standard input");
  cmd->add_option("-s,--system", o->system, "System message");
  cmd->callback([o, &g] {
    o->verbosity = g.verbosity;
    Loaded l = load(*o);
    nlohmann::json msgs = nlohmann::json::array();
    if (!o->system.empty()) msgs.push_back({{"role", "system"}, {"content", o->system}});
    const bool interactive = o->prompt.empty();
    const bool tty = ::isatty(0);
    std::string user = o->prompt;
    std::vector<int32_t> history;  // the tokens the session's KV cache holds
    if (interactive && tty)
      std::fprintf(stderr, "Chatting with %s. An empty line or Ctrl-D ends.\n", o->model.c_str());
    for (;;) {
      if (interactive) {
        if (tty) std::fputs("> ", stderr);
        if (!std::getline(std::cin, user) || user.empty()) break;
      }
      msgs.push_back({{"role", "user"}, {"content", user}});
      // The whole conversation is re-rendered each turn; the session keeps the longest common prefix.
      std::vector<int32_t> all = tokenize_prompt(*l.tok, render_chat(l, msgs, o->verbosity), true);
      size_t common = 0;
      while (common < history.size() && common < all.size() && history[common] == all[common]) ++common;
      if (common == all.size()) --common;  // at least one token must run to get logits
      l.session->truncate(int64_t(common));
      auto r = stream_reply(l, *o, std::vector<int32_t>(all.begin() + common, all.end()));
      history = all;
      history.insert(history.end(), r.tokens.begin(), r.tokens.end());
      history.resize(size_t(l.session->n_past()));
      msgs.push_back({{"role", "assistant"}, {"content", r.text}});
      if (!interactive) break;
    }
  });
}

}  // namespace pj::cli
