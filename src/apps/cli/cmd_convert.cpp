// `pajamas convert`: a Hugging Face model folder to GGUF (weights, hyper-parameters, tokenizer and chat
// template), written atomically.
#include "apps/cli/commands.h"
#include "core/base/error.h"
#include "core/base/ggml_types.h"
#include "core/gguf/gguf.h"
#include "core/hf/hf_folder.h"
#include "models/chat/template.h"
#include "models/convert/convert_llm.h"
#include "models/tokenizer/gguf_tokenizer.h"
#include "models/tokenizer/hf_tokenizer.h"
#include "models/whisper/convert_gguf.h"
#include "models/whisper/model.h"
#include "models/whisper/tokenizer.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace pj::cli {
namespace {

// Whisper (Hugging Face WhisperForConditionalGeneration or a CTranslate2/faster-whisper folder): one GGUF
// with our canonical names and the vocabulary (src/models/whisper/weights.md).
void convert_whisper(const std::string& input, std::string out, const std::string& outtype, std::string name,
                     const GlobalOptions& g) {
  const whisper::Model m = whisper::Model::load(input);
  // The vocabulary goes into the file when the folder has one (vocabulary.txt, vocab.json).
  std::optional<whisper::Tokenizer> tok;
  if (whisper::Tokenizer::model_has_vocabulary(m)) tok = whisper::Tokenizer::for_model(m);
  const GgmlType type = ggml_type_from_name(outtype == "q8_0" ? "Q8_0" : outtype == "bf16" ? "BF16"
                                            : outtype == "f32" ? "F32" : "F16").value();
  std::string folder = std::filesystem::path(input).filename().string();
  if (folder.empty()) folder = std::filesystem::path(input).parent_path().filename().string();
  if (name.empty()) name = folder;
  if (out.empty()) out = (std::filesystem::path(input) / (folder + "-" + outtype + ".gguf")).string();
  whisper::write_gguf(m, tok ? &*tok : nullptr, out, type, name);
  if (g.verbosity >= 0) std::printf("wrote %s\n", out.c_str());
}

}  // namespace

void register_convert(CLI::App& app, const GlobalOptions& g) {
  struct Opts {
    std::string input, output, outtype = "f16", name;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("convert", "Convert a Hugging Face model folder to GGUF");
  cmd->add_option("MODEL_DIR", o->input, "Hugging Face folder (config.json, *.safetensors, tokenizer files), or a CTranslate2 Whisper folder")->required();
  cmd->add_option("-o,--output", o->output, "Output GGUF file (default: <MODEL_DIR>/<name>-<type>.gguf)");
  // f32, f16, bf16, q8_0 for every model; vision models (ViT, CLIP, YOLO) take any ggml type with kernels
  // (q4_k, q5_0, ...: the rule in models/vision/convert_vision.h).
  cmd->add_option("--outtype", o->outtype, "Type of 2-D weights (f32, f16, bf16, q8_0; vision models: any ggml type)");
  cmd->add_option("--name", o->name, "general.name (default: the folder name)");
  cmd->callback([o, &g] {
    if (convert_yolo(o->input, o->output, o->outtype, o->name, g.verbosity)) return;  // YOLO .safetensors
    if (convert_vision(o->input, o->output, o->outtype, o->name, g.verbosity)) return;  // ViT / CLIP folders
    if (o->outtype != "f32" && o->outtype != "f16" && o->outtype != "bf16" && o->outtype != "q8_0")
      fail("convert: --outtype {}: this model takes f32, f16, bf16 or q8_0 (use `pajamas quantize` for other types)",
           o->outtype);
    if (whisper::is_hf_whisper_folder(o->input) || whisper::is_ct2_whisper_folder(o->input)) {
      convert_whisper(o->input, o->output, o->outtype, o->name, g);
      return;
    }
    auto folder = hf::open_folder(o->input);
    convert::ConvertOptions co;
    co.out_type = o->outtype == "f32"    ? GgmlType::F32
                  : o->outtype == "bf16" ? GgmlType::BF16
                  : o->outtype == "q8_0" ? GgmlType::Q8_0
                                         : GgmlType::F16;
    co.name = o->name;
    gguf::Writer w;
    convert::add_llm(folder, co, w);
    if (!folder.tokenizer.present()) fail("convert: {}: no tokenizer files (tokenizer.json or tokenizer.model)", o->input);
    tok::Tokenizer t = tok::load_hf_tokenizer(o->input);
    tok::add_tokenizer_kv(w, t.spec());
    if (!folder.tokenizer.chat_template.empty()) {
      chat::Template check(folder.tokenizer.chat_template, o->input + ": chat template");  // must parse
      w.add_kv("tokenizer.chat_template", folder.tokenizer.chat_template);
    }
    std::string out = o->output;
    if (out.empty()) {
      std::string name = std::filesystem::path(o->input).filename().string();
      if (name.empty()) name = std::filesystem::path(o->input).parent_path().filename().string();
      out = (std::filesystem::path(o->input) / (name + "-" + o->outtype + ".gguf")).string();
    }
    w.write(out);
    if (g.verbosity >= 0) std::printf("wrote %s\n", out.c_str());
  });
}

}  // namespace pj::cli
