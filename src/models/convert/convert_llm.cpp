#include "models/convert/convert_llm.h"

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/kernels/kernel_table.h"
#include "core/ops/rope.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <regex>
#include <vector>

namespace pj::convert {

namespace {

struct ArchMap {
  const char* hf;
  const char* gguf;
};
// Hugging Face class -> GGUF general.architecture (as llama.cpp's convert_hf_to_gguf.py registers them).
constexpr ArchMap kArchs[] = {
    {"LlamaForCausalLM", "llama"},   {"MistralForCausalLM", "llama"}, {"Qwen2ForCausalLM", "qwen2"},
    {"Qwen3ForCausalLM", "qwen3"},   {"Gemma2ForCausalLM", "gemma2"}, {"Gemma3ForCausalLM", "gemma3"},
};

bool is_gemma(const std::string& arch) { return arch == "gemma2" || arch == "gemma3"; }

// Hugging Face tensor name -> GGUF name; empty for tensors that are not written.
std::string gguf_tensor_name(const std::string& hf, const std::string& arch) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  static const std::regex layer_re(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (!std::regex_match(hf, m, layer_re)) return {};
  const std::string blk = "blk." + m[1].str() + ".";
  const std::string rest = m[2].str();
  struct Pair {
    const char* hf;
    const char* gguf;
  };
  static const Pair common[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},     {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.weight", "attn_k.weight"},     {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.weight", "attn_v.weight"},     {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  for (const auto& p : common)
    if (rest == p.hf) return blk + p.gguf;
  if (is_gemma(arch)) {
    if (rest == "post_attention_layernorm.weight") return blk + "post_attention_norm.weight";
    if (rest == "pre_feedforward_layernorm.weight") return blk + "ffn_norm.weight";
    if (rest == "post_feedforward_layernorm.weight") return blk + "post_ffw_norm.weight";
  } else if (rest == "post_attention_layernorm.weight") {
    return blk + "ffn_norm.weight";
  }
  return {};
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Reorders the rows of a Q or K projection from Hugging Face's rotate_half layout (within a head: the
// first half of the rotary dims, then the second) to interleaved pairs, as llama.cpp stores `llama`
// models: new row h*D + 2i + j = old row h*D + j*D/2 + i.
std::vector<int64_t> llama_qk_row_order(int64_t rows, int64_t n_head) {
  const int64_t D = rows / n_head;
  std::vector<int64_t> src(static_cast<size_t>(rows));
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < D / 2; ++i)
      for (int64_t j = 0; j < 2; ++j) src[size_t(h * D + 2 * i + j)] = h * D + j * (D / 2) + i;
  return src;
}

void put_rope_scaling(const hf::RopeParams& r, const std::string& a, const hf::ModelConfig& c,
                      gguf::Writer& w, int64_t head_dim, std::vector<float>* freq_factors) {
  if (r.type == "linear") {
    w.add_kv(a + ".rope.scaling.type", "linear");
    w.add_kv(a + ".rope.scaling.factor", float(r.factor));
  } else if (r.type == "yarn") {
    w.add_kv(a + ".rope.scaling.type", "yarn");
    w.add_kv(a + ".rope.scaling.factor", float(r.factor));
    if (r.original_max_position_embeddings > 0)
      w.add_kv(a + ".rope.scaling.original_context_length", uint32_t(r.original_max_position_embeddings));
    if (r.raw.contains("beta_fast")) w.add_kv(a + ".rope.scaling.yarn_beta_fast", r.raw["beta_fast"].get<float>());
    if (r.raw.contains("beta_slow")) w.add_kv(a + ".rope.scaling.yarn_beta_slow", r.raw["beta_slow"].get<float>());
  } else if (r.type == "llama3") {
    *freq_factors = ops::llama3_freq_factors(int(head_dim), r.theta, r.factor,
                                             r.raw.value("low_freq_factor", 1.0),
                                             r.raw.value("high_freq_factor", 4.0),
                                             double(r.original_max_position_embeddings));
  } else if (r.type != "default") {
    fail("convert: rope scaling type '{}' is not supported", r.type);
  }
}

}  // namespace

std::string gguf_arch_for(const std::string& hf_architecture) {
  for (const auto& a : kArchs)
    if (hf_architecture == a.hf) return a.gguf;
  return {};
}

void add_llm(const hf::Folder& folder, const ConvertOptions& o, gguf::Writer& w) {
  if (!folder.config) fail("convert: {}: no config.json", folder.path);
  if (!folder.weights) fail("convert: {}: no safetensors weights", folder.path);
  const hf::ModelConfig& c = *folder.config;
  const std::string hf_arch = c.architectures.empty() ? std::string() : c.architectures[0];
  const std::string a = gguf_arch_for(hf_arch);
  if (a.empty()) {
    std::string list;
    for (const auto& x : kArchs) list += std::string(list.empty() ? "" : ", ") + x.hf;
    fail("convert: {}: architecture '{}' is not supported (supported: {})", folder.path, hf_arch, list);
  }
  if (o.out_type != GgmlType::F32 && o.out_type != GgmlType::F16 && o.out_type != GgmlType::BF16 &&
      o.out_type != GgmlType::Q8_0)
    fail("convert: output type {} is not F32, F16, BF16 or Q8_0 (quantize the result with 'pajamas quantize')",
         ggml_type_info(o.out_type).name);
  const int64_t n_head = c.num_attention_heads;
  const int64_t n_head_kv = c.num_key_value_heads > 0 ? c.num_key_value_heads : n_head;
  const int64_t head_dim = c.head_dim > 0 ? c.head_dim : c.hidden_size / n_head;

  std::string name = o.name;
  if (name.empty()) name = std::filesystem::path(folder.path).filename().string();
  w.add_kv("general.architecture", a);
  w.add_kv("general.type", "model");
  w.add_kv("general.name", name);
  // llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_BF16 32 (llama.h)
  const uint32_t ftype = o.out_type == GgmlType::F32 ? 0 : o.out_type == GgmlType::F16 ? 1
                         : o.out_type == GgmlType::Q8_0 ? 7 : 32;
  w.add_kv("general.file_type", ftype);
  if (o.out_type == GgmlType::Q8_0) w.add_kv("general.quantization_version", uint32_t(2));
  w.add_kv(a + ".context_length", uint32_t(c.max_position_embeddings));
  w.add_kv(a + ".embedding_length", uint32_t(c.hidden_size));
  w.add_kv(a + ".block_count", uint32_t(c.num_hidden_layers));
  w.add_kv(a + ".feed_forward_length", uint32_t(c.intermediate_size));
  w.add_kv(a + ".attention.head_count", uint32_t(n_head));
  w.add_kv(a + ".attention.head_count_kv", uint32_t(n_head_kv));
  w.add_kv(a + ".attention.key_length", uint32_t(head_dim));
  w.add_kv(a + ".attention.value_length", uint32_t(head_dim));
  w.add_kv(a + ".attention.layer_norm_rms_epsilon", float(c.norm_eps));
  if (a == "llama") w.add_kv(a + ".vocab_size", uint32_t(c.vocab_size));
  w.add_kv(a + ".rope.dimension_count", uint32_t(head_dim));

  std::vector<float> freq_factors;
  const bool per_type = c.rope.count("full_attention") > 0;
  const hf::RopeParams* rope = c.rope_for(per_type ? "full_attention" : "");
  if (rope) {
    w.add_kv(a + ".rope.freq_base", float(rope->theta));
    put_rope_scaling(*rope, a, c, w, head_dim, &freq_factors);
  }
  if (const hf::RopeParams* local = per_type ? c.rope_for("sliding_attention") : nullptr)
    w.add_kv(a + ".rope.freq_base_swa", float(local->theta));

  const bool any_sliding = [&] {
    for (const auto& t : c.layer_types)
      if (t == "sliding_attention") return true;
    return a == "llama" && c.sliding_window > 0;  // Mistral v0.1: every layer
  }();
  if (c.sliding_window > 0 && any_sliding) {
    w.add_kv(a + ".attention.sliding_window", uint32_t(c.sliding_window));
    if (!c.layer_types.empty()) {
      std::vector<bool> pattern;
      for (const auto& t : c.layer_types) pattern.push_back(t == "sliding_attention");
      w.add_kv(a + ".attention.sliding_window_pattern", gguf::Array(pattern));
    }
  }
  if (a == "gemma2") {
    auto number = [&](const char* k) { return c.raw.contains(k) && c.raw[k].is_number(); };
    if (number("attn_logit_softcapping"))
      w.add_kv(a + ".attn_logit_softcapping", c.raw["attn_logit_softcapping"].get<float>());
    if (number("final_logit_softcapping"))
      w.add_kv(a + ".final_logit_softcapping", c.raw["final_logit_softcapping"].get<float>());
  }
  if (is_gemma(a) && c.raw.contains("query_pre_attn_scalar") && c.raw["query_pre_attn_scalar"].is_number()) {
    const double s = c.raw["query_pre_attn_scalar"].get<double>();
    if (s != double(head_dim)) w.add_kv(a + ".attention.scale", float(1.0 / std::sqrt(s)));
  }

  // Tensors, in the checkpoint's order with llama.cpp's names.
  const auto& ckpt = *folder.weights;
  for (const safetensors::TensorInfo* t : ckpt.tensors()) {
    const std::string gname = gguf_tensor_name(t->name, a);
    if (gname.empty()) {
      if (ends_with(t->name, "rotary_emb.inv_freq")) continue;
      fail("convert: {}: tensor '{}' has no GGUF name for architecture {}", folder.path, t->name, a);
    }
    if (gname == "output.weight" && c.tie_word_embeddings) continue;
    if (!safetensors::dtype_is_float(t->dtype))
      fail("convert: {}: tensor '{}' has non-float dtype {}", folder.path, t->name, safetensors::dtype_name(t->dtype));
    if (t->shape.empty() || t->shape.size() > 2)
      fail("convert: {}: tensor '{}' has {} dimensions, expected 1 or 2", folder.path, t->name, t->shape.size());
    const bool is_1d = t->shape.size() == 1;
    GgmlType type = is_1d ? GgmlType::F32 : o.out_type;
    // rows that are not whole Q8_0 blocks stay F16, as llama.cpp's converter does
    if (type == GgmlType::Q8_0 && t->shape.back() % 32 != 0) type = GgmlType::F16;
    const int64_t cols = t->shape.back();
    const int64_t rows = is_1d ? 1 : t->shape[0];
    const bool add_one = is_gemma(a) && ends_with(gname, "norm.weight");
    std::vector<int64_t> order;
    if (a == "llama" && (ends_with(gname, "attn_q.weight") || ends_with(gname, "attn_q.bias")))
      order = llama_qk_row_order(is_1d ? cols : rows, n_head);
    if (a == "llama" && (ends_with(gname, "attn_k.weight") || ends_with(gname, "attn_k.bias")))
      order = llama_qk_row_order(is_1d ? cols : rows, n_head_kv);
    std::vector<uint64_t> shape = is_1d ? std::vector<uint64_t>{uint64_t(cols)}
                                        : std::vector<uint64_t>{uint64_t(cols), uint64_t(rows)};
    w.add_tensor(gname, type, shape, [t, type, cols, rows, is_1d, add_one, order](gguf::TensorSink& sink) {
      std::vector<float> row(static_cast<size_t>(cols));
      std::vector<uint16_t> half(static_cast<size_t>(cols));
      if (is_1d) {
        std::vector<float> v(static_cast<size_t>(cols));
        safetensors::to_f32(*t, 0, uint64_t(cols), v.data());
        for (int64_t i = 0; i < cols; ++i) row[size_t(i)] = order.empty() ? v[size_t(i)] : v[size_t(order[size_t(i)])];
        if (add_one)
          for (float& x : row) x += 1.0f;
        sink.write(row.data(), row.size() * 4);
        return;
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t src = order.empty() ? r : order[size_t(r)];
        safetensors::to_f32(*t, uint64_t(src * cols), uint64_t(cols), row.data());
        if (type == GgmlType::F32) {
          sink.write(row.data(), row.size() * 4);
          continue;
        }
        if (type == GgmlType::Q8_0) {
          std::vector<uint8_t> q(ggml_row_size(type, uint64_t(cols)));
          kernel_table(Isa::Scalar).types[size_t(type)].from_float_ref(row.data(), q.data(), cols);
          sink.write(q.data(), q.size());
          continue;
        }
        for (int64_t i = 0; i < cols; ++i)
          half[size_t(i)] = type == GgmlType::F16 ? f32_to_fp16(row[size_t(i)]) : f32_to_bf16(row[size_t(i)]);
        sink.write(half.data(), half.size() * 2);
      }
    });
  }
  if (!freq_factors.empty()) {
    auto data = std::make_shared<std::vector<float>>(std::move(freq_factors));
    w.add_tensor("rope_freqs.weight", GgmlType::F32, {uint64_t(data->size())},
                 [data](gguf::TensorSink& sink) { sink.write(data->data(), data->size() * 4); });
  }
}

}  // namespace pj::convert
