// `pajamas calibration`: the built-in calibration sets (data/calibration, compiled in).
//   pajamas calibration list [-m MODEL]       names, samples, tokens (with MODEL's tokenizer)
//   pajamas calibration show NAME [--heldout]
//   pajamas calibration export NAME -o FILE [--heldout]   (a text file for -f, here or in llama.cpp)
#include <cstdio>

#include "apps/cli/commands.h"
#include "apps/cli/model_path.h"
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"
#include "models/imatrix/calibration.h"
#include "models/imatrix/chunks.h"
#include "models/tokenizer/gguf_tokenizer.h"

namespace pj::cli {

void register_calibration(CLI::App& app, const GlobalOptions& g) {
  struct Opts {
    std::string model, name, output;
    bool heldout = false;
    int64_t ctx = 512;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("calibration", "Built-in calibration texts for importance matrices");
  cmd->require_subcommand(1);

  auto* list = cmd->add_subcommand("list", "List the sets with their samples and token counts");
  list->add_option("-m,--model", o->model, "Count tokens with this model's tokenizer (default: the installed model)");
  list->add_option("--ctx", o->ctx, "Show how many chunks of this size each set gives")->capture_default_str();
  list->callback([o] {
    const std::string path = resolve_model_path(o->model);
    const gguf::File f = gguf::File::open(path);
    const tok::Tokenizer t = tok::load_gguf_tokenizer(f);
    std::printf("tokens counted with %s; chunks of %lld tokens (llama-imatrix needs at least 2)\n\n", path.c_str(),
                (long long)o->ctx);
    std::printf("%-16s %8s %9s %7s   %8s %9s %7s\n", "set", "samples", "tokens", "chunks", "held-out", "tokens", "chunks");
    for (const auto& s : imatrix::calibration_sets()) {
      const auto cs = imatrix::split_samples(s.calibration), hs = imatrix::split_samples(s.heldout);
      const size_t ct = cs.empty() ? 0 : imatrix::tokenize_text(t, imatrix::join_samples(cs)).size();
      const size_t ht = hs.empty() ? 0 : imatrix::tokenize_text(t, imatrix::join_samples(hs)).size();
      std::printf("%-16s %8zu %9zu %7lld   %8zu %9zu %7lld\n", s.name.c_str(), cs.size(), ct, (long long)(ct / size_t(o->ctx)),
                  hs.size(), ht, (long long)(ht / size_t(o->ctx)));
    }
  });

  auto* show = cmd->add_subcommand("show", "Print a set's samples");
  show->add_option("NAME", o->name, "Set name")->required();
  show->add_flag("--heldout", o->heldout, "The held-out (evaluation) text");
  show->callback([o] {
    const imatrix::CalibrationText t = imatrix::resolve_calibration(o->name, o->heldout);
    std::printf("# %s%s: %zu samples, %zu bytes\n\n", t.name.c_str(), o->heldout ? " (held-out)" : "", t.n_samples, t.text.size());
    std::fwrite(t.text.data(), 1, t.text.size(), stdout);
    std::printf("\n");
  });

  auto* exp = cmd->add_subcommand("export", "Write a set's text (samples joined by blank lines) to a file");
  exp->add_option("NAME", o->name, "Set name(s), comma-separated")->required();
  exp->add_option("-o,--output", o->output, "Output text file")->required();
  exp->add_flag("--heldout", o->heldout, "The held-out (evaluation) text");
  exp->callback([o] {
    const imatrix::CalibrationText t = imatrix::resolve_calibration(o->name, o->heldout);
    AtomicFileWriter w(o->output);
    w.write(t.text);
    w.write("\n");  // llama.cpp's -f drops one trailing newline, as ours does: both see t.text
    w.commit();
    std::fprintf(stderr, "calibration: wrote %s (%zu samples, %zu bytes)\n", o->output.c_str(), t.n_samples, t.text.size() + 1);
  });
  (void)g;
}

}  // namespace pj::cli
