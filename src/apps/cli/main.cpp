// pajamas: the one binary. Parses the command line, runs one subcommand, and turns every error into a
// single line on stderr with a non-zero exit status.
#include "apps/cli/commands.h"
#include "core/base/error.h"

#include <cstdio>
#include <exception>
#include <new>

#ifndef PJ_VERSION
#define PJ_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  pj::cli::GlobalOptions g;
  CLI::App app{"LlamaPajamas: local speech, vision and language models on the CPU", "pajamas"};
  app.set_version_flag("--version", std::string("pajamas ") + PJ_VERSION);
  app.add_flag("-v,--verbose", g.verbosity, "More detail (repeat for more)");
  app.require_subcommand(1);
  app.fallthrough();

  pj::cli::register_info(app, g);
  pj::cli::register_run(app, g);
  pj::cli::register_chat(app, g);
  pj::cli::register_convert(app, g);
  pj::cli::register_logits(app, g);
  pj::cli::register_bench(app, g);
  pj::cli::register_tokenize(app, g);
  pj::cli::register_template(app, g);
  pj::cli::register_serve(app, g);
  pj::cli::register_evaluate(app, g);
  pj::cli::register_quantize(app, g);
  pj::cli::register_detect(app, g);
  pj::cli::register_imatrix(app, g);
  pj::cli::register_perplexity(app, g);
  pj::cli::register_calibration(app, g);
  pj::cli::register_iq(app, g);
  pj::cli::register_vision(app, g);
  pj::cli::register_transcribe(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "pajamas: error: %s (see 'pajamas --help')\n", e.what());
    return 2;
  } catch (const pj::Error& e) {
    std::fprintf(stderr, "pajamas: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "pajamas: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pajamas: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
