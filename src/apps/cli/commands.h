// The CLI is a list of subcommands, one file each (cmd_<name>.cpp). A command registers its options on
// a CLI11 subcommand and a callback that does the work; errors are thrown as pj::Error and reported by
// main() as one line.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace pj::cli {

struct GlobalOptions {
  int verbosity = 0;  // -v, -vv
};

void register_info(CLI::App& app, const GlobalOptions& g);
void register_run(CLI::App& app, const GlobalOptions& g);
void register_chat(CLI::App& app, const GlobalOptions& g);
void register_convert(CLI::App& app, const GlobalOptions& g);
void register_logits(CLI::App& app, const GlobalOptions& g);
void register_bench(CLI::App& app, const GlobalOptions& g);
void register_tokenize(CLI::App& app, const GlobalOptions& g);
void register_template(CLI::App& app, const GlobalOptions& g);
void register_serve(CLI::App& app, const GlobalOptions& g);
void register_evaluate(CLI::App& app, const GlobalOptions& g);
void register_quantize(CLI::App& app, const GlobalOptions& g);
void register_detect(CLI::App& app, const GlobalOptions& g);  // detect, localize (cmd_detect.cpp)
// `pajamas convert` of an Ultralytics YOLO .safetensors state_dict; false when `input` is not one.
bool convert_yolo(const std::string& input, std::string out, const std::string& outtype, const std::string& name,
                  int verbosity);
void register_imatrix(CLI::App& app, const GlobalOptions& g);
void register_perplexity(CLI::App& app, const GlobalOptions& g);
void register_calibration(CLI::App& app, const GlobalOptions& g);
void register_iq(CLI::App& app, const GlobalOptions& g);
void register_vision(CLI::App& app, const GlobalOptions& g);  // classify, clip (cmd_vision.cpp)
// `pajamas convert` of a ViT/CLIP folder (cmd_vision.cpp); false if `input` is not one.
bool convert_vision(const std::string& input, std::string out, const std::string& outtype, std::string name,
                    int verbosity);
void register_transcribe(CLI::App& app, const GlobalOptions& g);

}  // namespace pj::cli
