#include "apps/cli/commands.h"
#include "apps/cli/info.h"
#include "core/base/error.h"
#include "core/base/file.h"

#include <cstring>
#include <fstream>
#include <memory>

namespace pj::cli {

namespace {

enum class Kind { gguf, safetensors, folder };

Kind detect(const std::string& path) {
  if (is_directory(path)) return Kind::folder;
  if (!file_exists(path)) fail("{}: no such file or directory", path);
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  if (in.gcount() >= 4 && std::memcmp(magic, "GGUF", 4) == 0) return Kind::gguf;
  // safetensors: 8-byte little-endian header length, then a JSON object starting with '{'
  if (in.gcount() == 8) {
    char c = 0;
    in.read(&c, 1);
    if (in.gcount() == 1 && c == '{') return Kind::safetensors;
  }
  fail("{}: not a GGUF file, a safetensors file or a model folder", path);
}

}  // namespace

void register_info(CLI::App& app, const GlobalOptions& g) {
  auto opts = std::make_shared<InfoOptions>();
  auto path = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "Describe a GGUF file, a safetensors file or a Hugging Face model folder");
  cmd->add_option("PATH", *path, "GGUF file, .safetensors file or model folder")->required();
  cmd->add_flag("--json", opts->json, "Print JSON instead of text");
  cmd->callback([opts, path, &g] {
    opts->verbosity = g.verbosity;
    switch (detect(*path)) {
      case Kind::gguf: info_gguf(*path, *opts); break;
      case Kind::safetensors: info_safetensors(*path, *opts); break;
      case Kind::folder: info_hf_folder(*path, *opts); break;
    }
  });
}

}  // namespace pj::cli
