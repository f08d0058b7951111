// `pajamas logits`: the logits of every position, raw little-endian float32 [n_tokens x n_vocab], for
// checking the engine against other implementations. F32 KV cache unless told otherwise.
#include "apps/cli/commands.h"
#include "apps/cli/llm_common.h"
#include "core/base/error.h"
#include "core/base/file.h"

#include <charconv>
#include <cstdio>

namespace pj::cli {

namespace {

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    int32_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + j, v);
    if (ec != std::errc() || p != s.data() + j) fail("--ids: '{}' is not a token id", s.substr(i, j - i));
    ids.push_back(v);
    i = j + 1;
  }
  if (ids.empty()) fail("--ids: no token ids given");
  return ids;
}

}  // namespace

void register_logits(CLI::App& app, const GlobalOptions& g) {
  struct Opts {
    LlmOptions llm;
    std::string ids, text, output;
    bool incremental = false, special = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("logits", "Write the logits of every position as raw float32 [n_tokens x n_vocab]");
  add_llm_options(cmd, o->llm, "f32");
  auto* ids = cmd->add_option("--ids", o->ids, "Comma-separated token ids");
  auto* text = cmd->add_option("--text", o->text, "Text to tokenize (BOS added if the model asks)");
  ids->excludes(text);
  cmd->add_flag("--special", o->special, "Parse special tokens in --text");
  cmd->add_option("-o,--output", o->output, "Output file")->required();
  cmd->add_flag("--incremental", o->incremental, "One token at a time through the KV cache");
  cmd->callback([o, &g] {
    if (o->ids.empty() && o->text.empty()) fail("logits: give --ids or --text");
    LoadedLlm l = load_llm(o->llm);
    std::vector<int32_t> tokens = o->ids.empty() ? tokenize_prompt(*l.tok, o->text, o->special) : parse_ids(o->ids);
    const int64_t V = l.model->hparams().n_vocab;
    AtomicFileWriter out(o->output);
    if (o->incremental) {
      for (int32_t t : tokens) {
        auto lg = l.session->decode({&t, 1});
        out.write(lg.data(), lg.size() * sizeof(float));
      }
    } else {
      auto lg = l.session->decode(tokens, true);
      out.write(lg.data(), lg.size() * sizeof(float));
    }
    out.commit();
    if (g.verbosity > 0)
      std::fprintf(stderr, "wrote %zu x %lld logits to %s\n", tokens.size(), (long long)V, o->output.c_str());
  });
}

}  // namespace pj::cli
