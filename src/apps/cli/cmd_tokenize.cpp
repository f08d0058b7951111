// pajamas tokenize -m MODEL (--text T | --file F) [--special] [--json] [--bos]
// Prints the token ids of the text, space-separated (or a JSON array with --json). MODEL is a Hugging
// Face folder (tokenizer.json or tokenizer.model) or a GGUF file.
#include "apps/cli/commands.h"
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"
#include "models/tokenizer/gguf_tokenizer.h"
#include "models/tokenizer/hf_tokenizer.h"

#include <cstdio>
#include <memory>
#include <string>

namespace pj::cli {
namespace {

struct TokenizeOptions {
  std::string model, text, file;
  bool special = false, json = false, bos = false;
};

tok::Tokenizer load_tokenizer(const std::string& path) {
  if (is_directory(path)) return tok::load_hf_tokenizer(path);
  if (!file_exists(path)) fail("tokenize: {}: no such file or directory", path);
  return tok::load_gguf_tokenizer(gguf::File::open(path));
}

void run_tokenize(const TokenizeOptions& o) {
  const tok::Tokenizer t = load_tokenizer(o.model);
  const std::string text = o.file.empty() ? o.text : read_text_file(o.file);
  const std::vector<int> ids = t.encode(text, o.special, o.bos);
  std::string out = o.json ? "[" : "";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += o.json ? ", " : " ";
    out += std::to_string(ids[i]);
  }
  out += o.json ? "]\n" : "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void register_tokenize(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("-m,--model", o->model, "Hugging Face model folder or GGUF file")->required();
  auto* text = cmd->add_option("--text", o->text, "Text to tokenize");
  auto* file = cmd->add_option("--file", o->file, "File whose contents to tokenize");
  text->excludes(file);
  cmd->add_flag("--special", o->special, "Turn special tokens written in the text (<|im_start|>) into their ids");
  cmd->add_flag("--bos", o->bos, "Add BOS/EOS as the model's add_bos/add_eos flags say");
  cmd->add_flag("--json", o->json, "Print a JSON array");
  cmd->callback([o, text, file] {
    if (text->count() == 0 && file->count() == 0) fail("tokenize: give --text or --file");
    run_tokenize(*o);
  });
}

}  // namespace pj::cli
