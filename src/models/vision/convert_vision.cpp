#include "models/vision/convert_vision.h"

#include <cstring>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"
#include "core/kernels/context.h"
#include "models/vision/vision_weights.h"

namespace pj::vision {

bool is_vision_folder(const std::string& path) {
  if (!is_directory(path) || !file_exists(path + "/config.json")) return false;
  try {
    return !vision_model_type(json::parse(read_text_file(path + "/config.json"))).empty();
  } catch (const json::exception&) {
    return false;
  }
}

int write_vision_gguf(KernelContext& ctx, const std::string& folder, const std::string& out, GgmlType type,
                      const std::string& name) {
  VisionWeights w = VisionWeights::open(folder);
  const auto& traits = ctx.traits(type);  // pj::Error for a type without kernels
  gguf::Writer g;
  std::string arch = vision_model_type(w.config());
  g.add_kv("general.architecture", gguf::Value(arch));
  g.add_kv("general.name", gguf::Value(name));
  g.add_kv("vision.hf_config", gguf::Value(read_text_file(folder + "/config.json")));
  if (file_exists(folder + "/preprocessor_config.json"))
    g.add_kv("vision.hf_preprocessor", gguf::Value(read_text_file(folder + "/preprocessor_config.json")));
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
    GgmlType t = m.cols % traits.block_size == 0 ? type : GgmlType::F16;
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
