#include "models/whisper/quantize.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "core/base/error.h"
#include "core/base/file.h"
#include "models/whisper/convert_gguf.h"
#include "models/whisper/model.h"
#include "models/whisper/tokenizer.h"

namespace pj::whisper {
namespace {

constexpr GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,  GgmlType::Q5_0,
                               GgmlType::Q5_1, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::IQ4_NL, GgmlType::Q2_K,
                               GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS};

bool divides(GgmlType t, int64_t cols) { return cols % ggml_type_info(t).block_size == 0; }

}  // namespace

bool is_whisper_weight_type(GgmlType t) {
  for (GgmlType k : kTypes)
    if (k == t) return true;
  return false;
}

std::string whisper_weight_types() {
  std::string s;
  for (GgmlType k : kTypes) s += std::string(s.empty() ? "" : ", ") + std::string(ggml_type_info(k).name);
  return s;
}

GgmlType weight_type_for(GgmlType want, int64_t cols) {
  if (divides(want, cols)) return want;
  GgmlType fb = GgmlType::F16;
  switch (want) {  // llama.cpp's fallbacks for rows that are not whole 256-blocks (llama-quant.cpp)
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::IQ4_XS: fb = GgmlType::IQ4_NL; break;
    case GgmlType::Q4_K: fb = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: fb = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: fb = GgmlType::Q8_0; break;
    default: break;
  }
  return divides(fb, cols) ? fb : GgmlType::F16;
}

GgmlType parse_whisper_type(const std::string& name) {
  std::string up = name;
  for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
  // llama.cpp file types of a single K-quant: the _S/_M/_L mixes mean nothing for Whisper's tensors.
  if (up.size() == 6 && up[0] == 'Q' && up[2] == '_' && up[3] == 'K' && up[4] == '_' &&
      (up[5] == 'S' || up[5] == 'M' || up[5] == 'L'))
    up = up.substr(0, 4);
  const auto t = ggml_type_from_name(up);
  if (!t || !is_whisper_weight_type(*t))
    fail("quantize: '{}' is not a type for Whisper weights; one of: {} (or Q4_K_M etc.)", name, whisper_weight_types());
  return *t;
}

std::string quantize_model(const std::string& in, const std::string& out, GgmlType type, bool allow_requantize) {
  if (!is_whisper_weight_type(type)) fail("quantize: {}: type {} is not one of {}", in, ggml_type_info(type).name, whisper_weight_types());
  const Model m = Model::load(in);
  auto is_float = [](GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; };
  if (!allow_requantize) {
    auto check = [&](const Matrix& w, const char* what) {
      if (!is_float(w.type))
        fail("quantize: {}: {} is already {} (quantizing it again loses quality; --allow-requantize to do it anyway)",
             in, what, ggml_type_info(w.type).name);
    };
    check(m.tok_emb, "decoder.token_embd.weight");
    for (const auto& l : m.enc) check(l.ffn_up.w, "an encoder weight");
    for (const auto& l : m.dec) check(l.ffn_up.w, "a decoder weight");
  }
  std::optional<Tokenizer> tok;
  if (Tokenizer::model_has_vocabulary(m)) tok = Tokenizer::for_model(m);
  std::string name = std::filesystem::path(in).stem().string();
  if (name.empty()) name = std::filesystem::path(in).parent_path().filename().string();
  write_gguf(m, tok ? &*tok : nullptr, out, type, name);
  const auto bytes_in = [&] {
    std::error_code ec;
    if (!std::filesystem::is_directory(in, ec)) return std::filesystem::file_size(in, ec);
    uintmax_t s = 0;
    for (const auto& e : std::filesystem::directory_iterator(in, ec))
      if (e.is_regular_file()) s += e.file_size();
    return s;
  }();
  const uintmax_t bytes_out = std::filesystem::file_size(out);
  const int64_t da = m.hp.n_audio_state, dt = m.hp.n_text_state;
  auto tn = [&](int64_t cols) { return std::string(ggml_type_info(weight_type_for(type, cols)).name); };
  const std::string types = "attention and ffn_up " + tn(da) + ", ffn_down " + tn(m.hp.n_audio_ffn) +
                            ", token_embd " + tn(dt);
  char buf[512];
  std::snprintf(buf, sizeof buf, "quantized %s -> %s as %s: %.2f MiB -> %.2f MiB (%s)", in.c_str(), out.c_str(),
                std::string(ggml_type_info(type).name).c_str(), double(bytes_in) / 1048576.0, double(bytes_out) / 1048576.0, types.c_str());
  return buf;
}

}  // namespace pj::whisper
