#include "models/vision/convert_vision.h"

#include <cstring>
#include <map>

#include <fmt/format.h>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"
#include "core/kernels/context.h"
#include "core/safetensors/safetensors.h"
#include "models/vision/vision_weights.h"
#include "models/vision/yolo.h"

namespace pj::vision {

GgmlType vision_weight_type(GgmlType want, int64_t cols) {
  using G = GgmlType;
  const int64_t bs = int64_t(ggml_type_info(want).block_size);
  if (cols % bs == 0) return want;
  G r = want == G::F32 ? G::F32 : G::F16;
  switch (want) {  // llama.cpp's tensor_type_fallback (as src/models/quantize/file_types.cpp)
    case G::IQ1_S: case G::IQ1_M: case G::IQ2_XXS: case G::IQ2_XS: case G::IQ2_S: case G::IQ3_XXS:
    case G::IQ3_S: case G::IQ4_XS: r = G::IQ4_NL; break;
    case G::Q2_K: case G::Q3_K: case G::TQ1_0: case G::TQ2_0: r = G::Q4_0; break;
    case G::Q4_K: r = G::Q5_0; break;
    case G::Q5_K: r = G::Q5_1; break;
    case G::Q6_K: r = G::Q8_0; break;
    default: break;
  }
  if (cols % int64_t(ggml_type_info(r).block_size) != 0) r = want == G::F32 ? G::F32 : G::F16;
  return r;
}

namespace {

bool plain_float(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

std::string gguf_arch(const std::string& path) {
  if (is_directory(path) || !file_exists(path)) return "";
  {
    const MappedFile probe(path);
    if (probe.size() < 4 || std::memcmp(probe.data(), "GGUF", 4) != 0) return "";
  }
  return gguf::File::open(path).get_string_or("general.architecture", "");
}

bool is_yolo_state_dict(const std::string& path) {
  if (is_directory(path) || !file_exists(path) || path.size() < 12 ||
      path.compare(path.size() - 12, 12, ".safetensors") != 0)
    return false;
  return safetensors::File::open(path).find("model.22.cv3.0.2.weight") != nullptr;
}

}  // namespace

bool is_vision_model(const std::string& path) {
  if (is_vision_folder(path) || is_yolo_state_dict(path)) return true;
  const std::string arch = gguf_arch(path);
  return arch == "vit" || arch == "clip" || arch == "yolov8";
}

std::string quantize_vision_model(const std::string& in, const std::string& out, GgmlType type,
                                  bool allow_requantize) {
  KernelContext ctx;
  (void)ctx.traits(type);  // pj::Error for a type without kernels
  const std::string arch = gguf_arch(in);
  int fallbacks = 0;
  std::string what;
  if (arch == "yolov8" || is_yolo_state_dict(in)) {
    if (arch == "yolov8" && !allow_requantize) {
      const gguf::File src = gguf::File::open(in);
      for (const gguf::Tensor& t : src.tensors())
        if (!plain_float(t.type))
          fail("quantize: {}: '{}' is already {} (pass --allow-requantize to quantize it again)", in, t.name,
               ggml_type_info(t.type).name);
    }
    const YoloModel m = YoloModel::load(in);
    gguf::Writer w;
    fallbacks = m.add_to_gguf(w, type, "yolov8" + m.scale());
    w.write(out);
    what = "yolov8";
  } else if (arch == "vit" || arch == "clip" || is_vision_folder(in)) {
    const std::string name = VisionWeights::open(in).config().value("_name_or_path", std::string());
    fallbacks = write_vision_gguf(ctx, in, out, type, name.empty() ? (arch.empty() ? "vision" : arch) : name,
                                  allow_requantize);
    what = arch.empty() ? vision_model_type(VisionWeights::open(in).config()) : arch;
  } else {
    fail("quantize: {}: not a vision model (ViT/CLIP folder or GGUF, YOLOv8 .safetensors or GGUF)", in);
  }
  std::map<std::string, int> counts;
  const gguf::File written = gguf::File::open(out);
  for (const gguf::Tensor& t : written.tensors())
    if (t.shape.size() == 2) ++counts[std::string(ggml_type_info(t.type).name)];
  std::string types;
  for (const auto& [n, c] : counts) types += fmt::format("{}{} {}", types.empty() ? "" : ", ", c, n);
  return fmt::format("quantized {} ({}) -> {} as {}: 2-D tensors {}; {} weights fell back (rows not a multiple of the block)",
                     in, what, out, ggml_type_info(type).name, types, fallbacks);
}

bool is_vision_folder(const std::string& path) {
  if (!is_directory(path) || !file_exists(path + "/config.json")) return false;
  try {
    return !vision_model_type(json::parse(read_text_file(path + "/config.json"))).empty();
  } catch (const json::exception&) {
    return false;
  }
}

int write_vision_gguf(KernelContext& ctx, const std::string& folder, const std::string& out, GgmlType type,
                      const std::string& name, bool allow_requantize) {
  VisionWeights w = VisionWeights::open(folder);
  (void)ctx.traits(type);  // pj::Error for a type without kernels
  gguf::Writer g;
  std::string arch = vision_model_type(w.config());
  g.add_kv("general.architecture", gguf::Value(arch));
  g.add_kv("general.name", gguf::Value(name));
  if (w.is_gguf()) {  // the folder's JSON as the GGUF kept it (the reader adds "preprocessor" to config)
    json cfg = w.config();
    cfg.erase("preprocessor");
    const gguf::File src = gguf::File::open(folder);
    const auto* c = src.find("vision.hf_config");
    g.add_kv("vision.hf_config", gguf::Value(c && c->get_if<std::string>() ? *c->get_if<std::string>() : cfg.dump()));
    if (const auto* p = src.find("vision.hf_preprocessor"); p && p->get_if<std::string>())
      g.add_kv("vision.hf_preprocessor", gguf::Value(*p->get_if<std::string>()));
  } else {
    g.add_kv("vision.hf_config", gguf::Value(read_text_file(folder + "/config.json")));
    if (file_exists(folder + "/preprocessor_config.json"))
      g.add_kv("vision.hf_preprocessor", gguf::Value(read_text_file(folder + "/preprocessor_config.json")));
  }
  int fallbacks = 0;
  // Owned buffers must outlive g.write(): one per tensor.
  std::vector<std::vector<uint8_t>> bufs;
  std::vector<std::string> names = w.names();
  bufs.reserve(names.size());
  for (const auto& n : names) {
    auto shape = w.shape(n);
    bool is_matrix = shape.size() >= 2 && n.size() > 7 && n.compare(n.size() - 7, 7, ".weight") == 0 &&
                     n.find("position_embedding") == std::string::npos;
    if (!is_matrix) {
      std::vector<float> v = w.f32(n);
      bufs.emplace_back(v.size() * 4);
      std::memcpy(bufs.back().data(), v.data(), v.size() * 4);
      std::vector<uint64_t> ne(shape.rbegin(), shape.rend());
      if (ne.empty()) ne.push_back(1);
      g.add_tensor(n, GgmlType::F32, ne, std::span<const uint8_t>(bufs.back()));
      continue;
    }
    Matrix m = w.matrix(n);
    if (!allow_requantize && !plain_float(m.type))
      fail("quantize: {}: '{}' is already {} (pass --allow-requantize to quantize it again)", folder, n,
           ggml_type_info(m.type).name);
    GgmlType t = vision_weight_type(type, m.cols);
    if (t != type) ++fallbacks;
    const auto& tt = ctx.traits(t);
    size_t row_bytes = ggml_row_size(t, m.cols);
    bufs.emplace_back(row_bytes * m.rows);
    std::vector<float> row(m.cols);
    size_t src_row = ggml_row_size(m.type, m.cols);
    std::vector<float> all(size_t(m.rows) * m.cols);
    for (int64_t r = 0; r < m.rows; ++r)
      ctx.dequantize_row(m.type, static_cast<const uint8_t*>(m.data) + src_row * r, &all[size_t(r) * m.cols], m.cols);
    if (tt.quantize_rows) tt.quantize_rows(all.data(), bufs.back().data(), m.rows, m.cols, nullptr);
    else
      for (int64_t r = 0; r < m.rows; ++r) ctx.quantize_row(t, &all[size_t(r) * m.cols], bufs.back().data() + row_bytes * r, m.cols);
    g.add_tensor(n, t, {uint64_t(m.cols), uint64_t(m.rows)}, std::span<const uint8_t>(bufs.back()));
  }
  g.write(out);
  return fallbacks;
}

}  // namespace pj::vision
