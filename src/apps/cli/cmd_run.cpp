// `pajamas generate` (alias `run`): one reply or completion. `pajamas chat`: a conversation, interactive
// or one turn with -p, the KV cache reused between turns.
#include "apps/cli/commands.h"
#include "apps/cli/llm_common.h"
#include "core/base/error.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

namespace pj::cli {

namespace {

// Streams text to stdout, showing <think>...</think> sections dimmed on a terminal. Tags may arrive
// split across pieces, so a tail that could begin a tag is held back until the next piece.
class ThinkPrinter {
 public:
  explicit ThinkPrinter(bool ansi) : ansi_(ansi) {}
  void write(const std::string& piece) {
    buf_ += piece;
    for (;;) {
      const std::string tag = in_think_ ? "</think>" : "<think>";
      size_t at = buf_.find(tag);
      if (at == std::string::npos) break;
      out(buf_.substr(0, at + (in_think_ ? tag.size() : 0)), in_think_);
      if (!in_think_) {
        in_think_ = true;
        out(tag, true);
      } else {
        in_think_ = false;
      }
      buf_.erase(0, at + tag.size());
    }
    size_t hold = 0;
    const std::string tag = in_think_ ? "</think>" : "<think>";
    for (size_t k = std::min(tag.size() - 1, buf_.size()); k > 0; --k)
      if (buf_.compare(buf_.size() - k, k, tag, 0, k) == 0) {
        hold = k;
        break;
      }
    out(buf_.substr(0, buf_.size() - hold), in_think_);
    buf_.erase(0, buf_.size() - hold);
  }
  void finish() {
    out(buf_, in_think_);
    buf_.clear();
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  void out(const std::string& s, bool dim) {
    if (s.empty()) return;
    if (ansi_ && dim) std::fputs("\x1b[2m", stdout);
    std::fwrite(s.data(), 1, s.size(), stdout);
    if (ansi_ && dim) std::fputs("\x1b[0m", stdout);
    std::fflush(stdout);
  }
  bool ansi_;
  bool in_think_ = false;
  std::string buf_;
};

void print_stats(const llm::GenerateResult& r) {
  std::fprintf(stderr,
               "[time to first token %.3f s | prompt %d tokens, %.1f tok/s | generation %d tokens, %.1f tok/s]\n",
               r.prompt_seconds, r.n_prompt, r.n_prompt / std::max(1e-9, r.prompt_seconds), r.n_generated,
               r.n_generated / std::max(1e-9, r.generate_seconds));
}

llm::GenerateResult reply(LoadedLlm& l, const SampleOptions& so, const std::vector<int32_t>& prompt, bool quiet) {
  llm::Sampler sampler = make_sampler(so);
  ThinkPrinter printer(::isatty(1));
  auto r = llm::generate(*l.session, *l.tok, sampler, prompt, make_generate_options(so), [&](const std::string& s) {
    printer.write(s);
    return true;
  });
  printer.finish();
  if (!quiet) print_stats(r);
  return r;
}

}  // namespace

void register_run(CLI::App& app, const GlobalOptions& g) {
  struct Opts {
    LlmOptions llm;
    SampleOptions sample;
    std::string prompt, system;
    bool raw = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "Generate a reply to one prompt (chat template applied), or a plain completion with --raw");
  cmd->alias("run");
  add_llm_options(cmd, o->llm);
  add_sample_options(cmd, o->sample);
  cmd->add_option("-p,--prompt", o->prompt, "The prompt")->required();
  cmd->add_option("-s,--system", o->system, "System message");
  cmd->add_flag("--raw", o->raw, "Complete the prompt as plain text, without the chat template");
  cmd->add_flag("-q,--quiet", o->quiet, "Do not print timings");
  cmd->callback([o, &g] {
    LoadedLlm l = load_llm(o->llm);
    std::vector<int32_t> prompt;
    if (o->raw) {
      prompt = tokenize_prompt(*l.tok, o->prompt, false);
    } else {
      nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
      if (!o->system.empty()) msgs.push_back({{"role", "system"}, {"content", o->system}});
      msgs.push_back({{"role", "user"}, {"content", o->prompt}});
      const std::string text = render_chat(l, msgs);
      if (g.verbosity > 0) std::fprintf(stderr, "[prompt]\n%s[/prompt]\n", text.c_str());
      prompt = tokenize_prompt(*l.tok, text, true);
    }
    reply(l, o->sample, prompt, o->quiet);
  });
}

void register_chat(CLI::App& app, const GlobalOptions& g) {
  struct Opts {
    LlmOptions llm;
    SampleOptions sample;
    std::string prompt, system;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("chat", "Chat with a model: interactive (/reset, /exit), or one turn with -p");
  add_llm_options(cmd, o->llm);
  add_sample_options(cmd, o->sample);
  cmd->add_option("-p,--prompt", o->prompt, "One user message: answer it and exit");
  cmd->add_option("-s,--system", o->system, "System message");
  cmd->add_flag("-q,--quiet", o->quiet, "Do not print timings");
  cmd->callback([o, &g] {
    LoadedLlm l = load_llm(o->llm);
    auto fresh = [&] {
      nlohmann::ordered_json m = nlohmann::ordered_json::array();
      if (!o->system.empty()) m.push_back({{"role", "system"}, {"content", o->system}});
      return m;
    };
    nlohmann::ordered_json msgs = fresh();
    const bool interactive = o->prompt.empty();
    const bool tty = ::isatty(0);
    if (interactive && tty)
      std::fprintf(stderr, "Chatting with %s. /reset starts over, /exit (or Ctrl-D) ends.\n", l.path.c_str());
    std::vector<int32_t> history;  // the tokens the KV cache holds
    std::string user = o->prompt;
    for (;;) {
      if (interactive) {
        if (tty) std::fputs("> ", stderr);
        if (!std::getline(std::cin, user) || user == "/exit" || user == "/quit") break;
        if (user == "/reset") {
          msgs = fresh();
          history.clear();
          l.session->truncate(0);
          if (tty) std::fputs("(conversation reset)\n", stderr);
          continue;
        }
        if (user.empty()) continue;
      }
      msgs.push_back({{"role", "user"}, {"content", user}});
      const std::string text = render_chat(l, msgs);
      if (g.verbosity > 0) std::fprintf(stderr, "[prompt]\n%s[/prompt]\n", text.c_str());
      std::vector<int32_t> all = tokenize_prompt(*l.tok, text, true);
      // Reuse the cached prefix that the re-rendered conversation shares with what was run before.
      size_t common = 0;
      while (common < history.size() && common < all.size() && history[common] == all[common]) ++common;
      if (common == all.size()) --common;  // at least one token must run to get logits
      l.session->truncate(int64_t(common));
      auto r = reply(l, o->sample, std::vector<int32_t>(all.begin() + common, all.end()), o->quiet);
      history = all;
      history.insert(history.end(), r.tokens.begin(), r.tokens.end());
      history.resize(size_t(l.session->n_past()));
      msgs.push_back({{"role", "assistant"}, {"content", r.text}});
      if (!interactive) break;
    }
  });
}

}  // namespace pj::cli
