// `pajamas quantize`: a GGUF model to a quantization file type (llama.cpp's mixes and per-tensor
// rules, bit-identical output), optionally with an importance matrix.
//   pajamas quantize IN.gguf OUT.gguf TYPE [--imatrix FILE] [-t N] [overrides]
//   pajamas quantize --model PATH --format gguf --precision TYPE --output DIR   (PATH: GGUF or HF folder)
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/cli/commands.h"
#include "core/base/error.h"
#include "core/gguf/gguf.h"
#include "core/hf/hf_folder.h"
#include "models/convert/convert_llm.h"
#include "models/quantize/quantize.h"
#include "models/tokenizer/gguf_tokenizer.h"
#include "models/tokenizer/hf_tokenizer.h"
#include "models/vision/convert_vision.h"
#include "models/whisper/model.h"
#include "models/whisper/quantize.h"

namespace pj::cli {
namespace {

GgmlType parse_type(const std::string& s, const char* what) {
  std::string up = s;
  for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
  const auto t = ggml_type_from_name(up);
  if (!t) fail("quantize: {} '{}' is not a ggml type name (e.g. q8_0, q6_k, f16)", what, s);
  return *t;
}

std::string file_type_list() {
  std::string s;
  for (const auto& f : quantize::file_types()) s += std::string(s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

// HF folder -> temporary F32 GGUF next to the output (removed afterwards by the caller).
void convert_folder(const std::string& dir, const std::string& out) {
  auto folder = hf::open_folder(dir);
  convert::ConvertOptions co;
  co.out_type = GgmlType::F32;
  gguf::Writer w;
  convert::add_llm(folder, co, w);
  if (!folder.tokenizer.present()) fail("quantize: {}: no tokenizer files (tokenizer.json or tokenizer.model)", dir);
  tok::Tokenizer t = tok::load_hf_tokenizer(dir);
  tok::add_tokenizer_kv(w, t.spec());
  if (!folder.tokenizer.chat_template.empty()) w.add_kv("tokenizer.chat_template", folder.tokenizer.chat_template);
  w.write(out);
}

}  // namespace

void register_quantize(CLI::App& app, const GlobalOptions& g) {
  struct Opts {
    std::vector<std::string> positional;
    std::string model, format = "gguf", precision, output_dir;
    std::string imatrix, output_tensor_type, token_embedding_type;
    std::vector<std::string> tensor_types;
    bool pure = false, leave_output = false, allow_requantize = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("quantize", "Quantize a GGUF model (llama.cpp file types, bit-identical output)");
  cmd->add_option("IN_OUT_TYPE", o->positional, "IN.gguf OUT.gguf TYPE (" + file_type_list() + ")")->expected(0, 3);
  cmd->add_option("--imatrix", o->imatrix, "Importance matrix (llama.cpp GGUF or legacy .dat)");
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  cmd->add_flag("--pure", o->pure, "No mixes: every quantizable tensor gets the file type's default type");
  cmd->add_option("--tensor-type", o->tensor_types, "PATTERN=TYPE: tensors whose name matches the regex get TYPE");
  cmd->add_option("--output-tensor-type", o->output_tensor_type, "Type of output.weight");
  cmd->add_option("--token-embedding-type", o->token_embedding_type, "Type of token_embd.weight");
  cmd->add_flag("--leave-output-tensor", o->leave_output, "Keep output.weight as it is");
  cmd->add_flag("--allow-requantize", o->allow_requantize, "Allow an already quantized input (lower quality)");
  cmd->add_option("--model", o->model, "Seed form: GGUF file or Hugging Face folder");
  cmd->add_option("--format", o->format, "Seed form: output format")->check(CLI::IsMember({"gguf"}));
  cmd->add_option("--precision", o->precision, "Seed form: file type");
  cmd->add_option("--output", o->output_dir, "Seed form: output folder");
  cmd->callback([o, &g] {
    // Output path and type name for the models that take one type for all their matrices (Whisper,
    // vision): positional IN OUT TYPE, or the seed form's --output DIR/<stem>-<precision>.gguf.
    const auto single_type_target = [](const Opts& opt, const std::string& in) {
      if (opt.model.empty()) return std::pair<std::string, std::string>(opt.positional[1], opt.positional[2]);
      if (opt.precision.empty() || opt.output_dir.empty()) fail("quantize: --model needs --precision TYPE and --output DIR");
      std::filesystem::create_directories(opt.output_dir);
      std::string stem = std::filesystem::path(in).stem().string();
      if (stem.empty()) stem = std::filesystem::path(in).parent_path().filename().string();
      return std::pair<std::string, std::string>(
          (std::filesystem::path(opt.output_dir) / (stem + "-" + opt.precision + ".gguf")).string(), opt.precision);
    };
    // Whisper (GGUF, Hugging Face or CTranslate2 folder): one type for its matrices, the rule in
    // models/whisper/quantize.h (llama.cpp's LLM mixes do not apply).
    const std::string in = !o->model.empty() ? o->model : o->positional.size() == 3 ? o->positional[0] : "";
    if (!in.empty() && (whisper::is_whisper_gguf(in) || whisper::is_ct2_whisper_folder(in) || whisper::is_hf_whisper_folder(in))) {
      const auto [out, tname] = single_type_target(*o, in);
      const std::string line = whisper::quantize_model(in, out, whisper::parse_whisper_type(tname), o->allow_requantize);
      if (g.verbosity >= 0) std::printf("%s\n", line.c_str());
      return;
    }
    // Vision models (ViT/CLIP folder or GGUF, YOLOv8 .safetensors or GGUF): one type for the weight
    // matrices, the rule in models/vision/convert_vision.h. TYPE: a ggml type, or a llama.cpp file type
    // name whose mix does not apply (Q4_K_M -> Q4_K).
    if (!in.empty() && vision::is_vision_model(in)) {
      const auto [out, tname] = single_type_target(*o, in);
      std::string up = tname;
      for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
      for (const char* mix : {"_M", "_S", "_L"})
        if (!ggml_type_from_name(up) && up.size() > 2 && up.compare(up.size() - 2, 2, mix) == 0) up.resize(up.size() - 2);
      const std::string line = vision::quantize_vision_model(in, out, parse_type(up, "TYPE"), o->allow_requantize);
      if (g.verbosity >= 0) std::printf("%s\n", line.c_str());
      return;
    }
    quantize::Request r;
    std::string type_name, temp_input;
    if (!o->model.empty()) {
      if (o->precision.empty() || o->output_dir.empty()) fail("quantize: --model needs --precision TYPE and --output DIR");
      type_name = o->precision;
      namespace fs = std::filesystem;
      fs::create_directories(o->output_dir);
      std::string stem = fs::path(o->model).stem().string();
      if (fs::is_directory(o->model)) {
        stem = fs::path(o->model).filename().string();
        if (stem.empty()) stem = fs::path(o->model).parent_path().filename().string();
        temp_input = (fs::path(o->output_dir) / (stem + ".f32.tmp.gguf")).string();
        if (g.verbosity >= 0) std::printf("converting %s to F32 GGUF first\n", o->model.c_str());
        convert_folder(o->model, temp_input);
        r.input = temp_input;
      } else {
        r.input = o->model;
      }
      r.output = (fs::path(o->output_dir) / (stem + "-" + o->precision + ".gguf")).string();
    } else {
      if (o->positional.size() != 3) fail("quantize: expected IN.gguf OUT.gguf TYPE (or --model/--precision/--output)");
      r.input = o->positional[0];
      r.output = o->positional[1];
      type_name = o->positional[2];
    }
    const quantize::FileTypeInfo* ft = quantize::find_file_type(type_name);
    if (!ft) fail("quantize: unknown file type '{}'; one of: {}", type_name, file_type_list());
    r.options.ftype = ft->id;
    r.options.pure = o->pure;
    r.options.quantize_output = !o->leave_output;
    if (!o->output_tensor_type.empty()) r.options.output_tensor_type = parse_type(o->output_tensor_type, "--output-tensor-type");
    if (!o->token_embedding_type.empty())
      r.options.token_embedding_type = parse_type(o->token_embedding_type, "--token-embedding-type");
    for (const auto& tt : o->tensor_types) {
      const size_t eq = tt.rfind('=');
      if (eq == std::string::npos || eq == 0) fail("quantize: --tensor-type '{}' is not PATTERN=TYPE", tt);
      r.options.tensor_types.emplace_back(tt.substr(0, eq), parse_type(tt.substr(eq + 1), "--tensor-type"));
    }
    r.imatrix_path = o->imatrix;
    r.allow_requantize = o->allow_requantize;
    r.threads = o->threads;
    const bool quiet = g.verbosity < 0;
    struct Cleanup {
      std::string path;
      ~Cleanup() {
        if (!path.empty()) std::filesystem::remove(path);
      }
    } cleanup{temp_input};
    const quantize::Report rep = quantize::quantize_gguf(r, [quiet](const std::string& line) {
      if (!quiet) std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    });
    if (!quiet) {
      std::printf("quantized %s -> %s as %s\n", r.input.c_str(), r.output.c_str(), std::string(ft->name).c_str());
      std::printf("  size: %.2f MiB (%.2f bpw) -> %.2f MiB (%.2f bpw), %llu tensors, %.2f s\n",
                  double(rep.bytes_in) / 1048576.0, rep.bpw_in(), double(rep.bytes_out) / 1048576.0, rep.bpw_out(),
                  static_cast<unsigned long long>(rep.n_tensors), rep.seconds);
      if (rep.n_fallback)
        std::printf("  %d tensors needed a fallback type (row length not a multiple of the block size)\n", rep.n_fallback);
    }
  });
}

}  // namespace pj::cli
