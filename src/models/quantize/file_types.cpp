// File types and per-tensor rules (see file_types.h). Rule order and conditions follow
// llama_tensor_get_type / llama_tensor_get_type_impl / tensor_type_fallback in llama.cpp's
// src/llama-quant.cpp; names of the llama.cpp variables are kept in comments where they help.
#include "models/quantize/file_types.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/base/error.h"

namespace pj::quantize {

namespace {
using G = GgmlType;
using F = FileType;

bool is_quantized(G t) { return ggml_type_info(t).quantized; }

int n_dims(const std::vector<uint64_t>& ne) {
  int n = 1;
  for (size_t i = 0; i < ne.size(); ++i)
    if (ne[i] > 1) n = int(i) + 1;
  return n;
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

}  // namespace

const std::vector<FileTypeInfo>& file_types() {
  static const std::vector<FileTypeInfo> table = {
      {F::F32, "F32", G::F32, "32-bit float, no quantization"},
      {F::F16, "F16", G::F16, "16-bit float"},
      {F::BF16, "BF16", G::BF16, "bfloat16"},
      {F::Q8_0, "Q8_0", G::Q8_0, "8.5 bpw"},
      {F::Q4_0, "Q4_0", G::Q4_0, "4.5 bpw"},
      {F::Q4_1, "Q4_1", G::Q4_1, "5.0 bpw"},
      {F::Q5_0, "Q5_0", G::Q5_0, "5.5 bpw"},
      {F::Q5_1, "Q5_1", G::Q5_1, "6.0 bpw"},
      {F::Q2_K, "Q2_K", G::Q2_K, "~2.96 bpw mix: Q2_K, attn_v/ffn_down Q3_K or Q4_K"},
      {F::Q2_K_S, "Q2_K_S", G::Q2_K, "~2.96 bpw, needs an importance matrix"},
      {F::Q3_K_S, "Q3_K_S", G::Q3_K, "~3.41 bpw"},
      {F::Q3_K_M, "Q3_K_M", G::Q3_K, "~3.74 bpw mix"},
      {F::Q3_K_L, "Q3_K_L", G::Q3_K, "~4.03 bpw mix"},
      {F::Q4_K_S, "Q4_K_S", G::Q4_K, "~4.37 bpw"},
      {F::Q4_K_M, "Q4_K_M", G::Q4_K, "~4.58 bpw mix (attn_v/ffn_down partly Q6_K)"},
      {F::Q5_K_S, "Q5_K_S", G::Q5_K, "~5.21 bpw"},
      {F::Q5_K_M, "Q5_K_M", G::Q5_K, "~5.33 bpw mix"},
      {F::Q6_K, "Q6_K", G::Q6_K, "~6.56 bpw"},
      {F::IQ2_XXS, "IQ2_XXS", G::IQ2_XXS, "2.06 bpw, needs an importance matrix"},
      {F::IQ2_XS, "IQ2_XS", G::IQ2_XS, "2.31 bpw, needs an importance matrix"},
      {F::IQ2_S, "IQ2_S", G::IQ2_XS, "2.5 bpw, needs an importance matrix"},
      {F::IQ2_M, "IQ2_M", G::IQ2_S, "2.7 bpw, needs an importance matrix"},
      {F::IQ1_S, "IQ1_S", G::IQ1_S, "1.56 bpw, needs an importance matrix"},
      {F::IQ1_M, "IQ1_M", G::IQ1_M, "1.75 bpw, needs an importance matrix"},
      {F::IQ3_XXS, "IQ3_XXS", G::IQ3_XXS, "3.06 bpw"},
      {F::IQ3_XS, "IQ3_XS", G::IQ3_S, "3.3 bpw"},
      {F::IQ3_S, "IQ3_S", G::IQ3_S, "3.44 bpw"},
      {F::IQ3_M, "IQ3_M", G::IQ3_S, "3.66 bpw mix"},
      {F::IQ4_NL, "IQ4_NL", G::IQ4_NL, "4.50 bpw non-linear"},
      {F::IQ4_XS, "IQ4_XS", G::IQ4_XS, "4.25 bpw non-linear"},
      {F::TQ1_0, "TQ1_0", G::TQ1_0, "1.69 bpw ternary"},
      {F::TQ2_0, "TQ2_0", G::TQ2_0, "2.06 bpw ternary"},
  };
  return table;
}

const FileTypeInfo* find_file_type(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& f : file_types())
    if (f.name == upper) return &f;
  return nullptr;
}

const FileTypeInfo& file_type_info(FileType id) {
  for (const auto& f : file_types())
    if (f.id == id) return f;
  fail("quantize: unknown file type id {}", uint32_t(id));
}

std::vector<std::string> tensor_order(std::vector<std::string> names) {
  std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    const int la = layer_of(a), lb = layer_of(b);
    if (la != lb) return la < lb;
    return a < b;
  });
  return names;
}

TypeChooser::TypeChooser(ModelInfo model, Options opts, const std::vector<std::string>& names)
    : model_(std::move(model)), opts_(std::move(opts)) {
  for (const auto& [pattern, type] : opts_.tensor_types) {
    try {
      patterns_.emplace_back(std::regex(pattern), type);
    } catch (const std::regex_error& e) {
      fail("quantize: --tensor-type pattern '{}' is not a valid regular expression ({})", pattern, e.what());
    }
  }
  for (const auto& n : names) {
    const Category c = category(n);
    if (c == Category::AttnV || c == Category::AttnQkv || c == Category::AttnKvB) ++n_attention_wv_;
    if (c == Category::Output) tied_embeddings_ = false;
  }
}

TypeChooser::Category TypeChooser::category(const std::string& name) {
  if (name == "output.weight") return Category::Output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::TokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::AttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Category::AttnKvB;
  if (contains(name, "attn_v.weight")) return Category::AttnV;
  if (contains(name, "attn_k.weight")) return Category::AttnK;
  if (contains(name, "attn_q.weight")) return Category::AttnQ;
  if (contains(name, "attn_output.weight")) return Category::AttnOutput;
  if (contains(name, "ffn_up")) return Category::FfnUp;
  if (contains(name, "ffn_gate")) return Category::FfnGate;
  if (contains(name, "ffn_down")) return Category::FfnDown;
  return Category::Other;
}

// llama.cpp's tensor_allows_quantization: 2-D and 3-D weights, never norms, gates of experts,
// positional embeddings and a list of small special tensors.
bool TypeChooser::allows_quantization(const std::string& name, const std::vector<uint64_t>& ne) const {
  if (n_dims(ne) < 2) return false;
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  if (contains(name, "_norm.weight")) return false;
  if (!opts_.quantize_output && name == "output.weight") return false;
  static const char* const kNever[] = {
      "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
      "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
      "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
      "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
      "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
      "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
      "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
      ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd"};
  for (const char* part : kNever)
    if (contains(name, part)) return false;
  if (name == "position_embd.weight" || name == "token_types.weight") return false;
  return true;
}

std::pair<int, int> TypeChooser::layer_info(int i, int n, const std::string& name) const {
  if (model_.n_expert > 1) {
    // Expert FFN tensors are not in layer order in some models: take the layer from the name.
    int layer = -1;
    if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) fail("quantize: cannot determine the layer of tensor '{}'", name);
    if (layer < 0 || layer >= n) fail("quantize: tensor '{}' has layer {}, the model has {}", name, layer, n);
    i = layer;
  }
  return {i, n};
}

GgmlType TypeChooser::fallback(const std::string& name, GgmlType t, uint64_t ncols) {
  const uint64_t bs = ggml_type_info(t).block_size;
  if (ncols % bs == 0) return t;
  ++n_fallback_;
  GgmlType r = t;
  switch (t) {
    case G::IQ1_S: case G::IQ1_M: case G::IQ2_XXS: case G::IQ2_XS: case G::IQ2_S: case G::IQ3_XXS:
    case G::IQ3_S: case G::IQ4_XS: r = G::IQ4_NL; break;
    case G::Q2_K: case G::Q3_K: case G::TQ1_0: case G::TQ2_0: r = G::Q4_0; break;
    case G::Q4_K: r = G::Q5_0; break;
    case G::Q5_K: r = G::Q5_1; break;
    case G::Q6_K: r = G::Q8_0; break;
    default:
      if (bs > 32) fail("quantize: no fallback type is defined for {}", ggml_type_info(t).name);
  }
  if (ncols % ggml_type_info(r).block_size != 0) r = G::F16;
  warnings_.push_back(fmt::format("{}: {} columns is not a multiple of {} (required by {}): using {}", name, ncols,
                                  bs, ggml_type_info(t).name, ggml_type_info(r).name));
  return r;
}

GgmlType TypeChooser::choose(const std::string& name, GgmlType cur, const std::vector<uint64_t>& ne) {
  if (!allows_quantization(name, ne)) return cur;
  const Category cat = category(name);
  if (opts_.token_embedding_type && cat == Category::TokenEmbd) {
    bool named = false;  // per_layer_token_embd follows --token-embedding-type unless a --tensor-type names it
    if (name == "per_layer_token_embd.weight")
      for (const auto& [re, type] : patterns_)
        if (std::regex_search(name, re)) named = true;
    if (!named) return *opts_.token_embedding_type;
  }
  if (opts_.output_tensor_type && cat == Category::Output) return *opts_.output_tensor_type;

  const GgmlType def = file_type_info(opts_.ftype).default_type;
  GgmlType t = def;
  if (!is_quantized(def)) return t;
  bool manual = false;
  for (const auto& [re, type] : patterns_) {
    if (std::regex_search(name, re)) {
      if (type != t)
        warnings_.push_back(fmt::format("{}: manual override {} -> {}", name, ggml_type_info(t).name, ggml_type_info(type).name));
      t = type;
      manual = true;
      break;
    }
  }
  if (!manual && !opts_.pure) t = mix_rules(t, name, ne, cat);
  return fallback(name, t, ne.empty() ? 1 : ne[0]);
}

GgmlType TypeChooser::mix_rules(GgmlType t, const std::string& name, const std::vector<uint64_t>& ne, Category cat) {
  const F ft = opts_.ftype;
  const bool falcon = model_.arch == "falcon";
  const int n_gqa = model_.n_gqa(), n_expert = model_.n_expert;
  const bool is_70b = model_.arch == "llama" && model_.n_layer == 80 && model_.n_head != model_.n_head_kv;
  auto use_more_bits = [](int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; };
  auto any = [ft](std::initializer_list<F> l) { return std::find(l.begin(), l.end(), ft) != l.end(); };
  const bool attn_v_like = cat == Category::AttnV || cat == Category::AttnQkv || cat == Category::AttnKvB;

  if (cat == Category::Output || (tied_embeddings_ && cat == Category::TokenEmbd)) {
    if (opts_.output_tensor_type) return *opts_.output_tensor_type;
    const uint64_t nx = ne.empty() ? 1 : ne[0];
    if (falcon || nx % ggml_type_info(t).block_size != 0) return G::Q8_0;
    if (any({F::IQ2_XXS, F::IQ2_XS, F::IQ3_XXS, F::IQ1_S, F::IQ2_S, F::IQ2_M, F::IQ1_M})) return G::Q5_K;
    if (t != G::Q8_0) return G::Q6_K;
    return t;
  }
  if (cat == Category::TokenEmbd) {
    if (any({F::IQ2_XXS, F::IQ2_XS, F::IQ1_S, F::IQ1_M})) return G::Q2_K;
    if (any({F::IQ2_S, F::IQ2_M, F::IQ3_XXS})) return G::IQ3_S;
    if (any({F::TQ1_0, F::TQ2_0})) return G::Q4_K;
    return t;
  }
  if (any({F::IQ2_XXS, F::IQ2_XS, F::IQ1_S, F::IQ2_S, F::IQ2_M, F::IQ1_M})) {
    const G iq3_or_q2 = any({F::IQ2_S, F::IQ2_M}) ? G::IQ3_S : G::Q2_K;
    if (attn_v_like) {
      t = n_gqa >= 4 || n_expert >= 4 ? G::Q4_K : iq3_or_q2;
      ++i_attention_wv_;
    } else if (n_expert == 8 && cat == Category::AttnK) {
      t = G::Q4_K;
    } else if (cat == Category::FfnDown) {
      if (i_ffn_down_ < model_.n_layer / 8) t = iq3_or_q2;
      ++i_ffn_down_;
    } else if (cat == Category::AttnOutput) {
      if (n_expert == 8) t = G::Q5_K;
      else if (any({F::IQ1_S, F::IQ1_M})) t = G::IQ2_XXS;
      else if (any({F::IQ2_S, F::IQ2_M})) t = G::IQ3_S;
    }
    return t;
  }
  if (attn_v_like) {
    if (ft == F::Q2_K) t = n_gqa >= 4 ? G::Q4_K : G::Q3_K;
    else if (ft == F::Q2_K_S && n_gqa >= 4) t = G::Q4_K;
    else if (ft == F::IQ3_XXS) t = n_gqa >= 4 ? G::Q4_K : !opts_.has_imatrix ? G::IQ3_S : G::IQ3_XXS;
    else if (any({F::IQ3_XS, F::IQ3_S}) && n_gqa >= 4) t = G::Q4_K;
    else if (ft == F::IQ3_M) t = G::Q4_K;
    else if (ft == F::Q3_K_M) t = i_attention_wv_ < 2 ? G::Q5_K : G::Q4_K;
    else if (ft == F::Q3_K_L) t = G::Q5_K;
    else if (any({F::IQ4_NL, F::IQ4_XS}) && n_gqa >= 4) t = G::Q5_K;
    else if (any({F::Q4_K_M, F::Q5_K_M}) && use_more_bits(i_attention_wv_, n_attention_wv_)) t = G::Q6_K;
    else if (ft == F::Q4_K_S && i_attention_wv_ < 4) t = G::Q5_K;
    if (is_70b && (t == G::Q3_K || t == G::Q4_K)) t = G::Q5_K;
    if (n_expert == 8) t = G::Q8_0;
    ++i_attention_wv_;
    return t;
  }
  if (cat == Category::AttnK) {
    if (n_expert == 8) t = G::Q8_0;
    else if (ft == F::IQ3_XS) t = G::IQ3_XXS;
    else if (ft == F::IQ3_XXS) t = G::IQ2_S;
    return t;
  }
  if (cat == Category::AttnQ) {
    if (ft == F::IQ3_XS) t = G::IQ3_XXS;
    else if (ft == F::IQ3_XXS) t = G::IQ2_S;
    return t;
  }
  if (cat == Category::FfnDown) {
    const auto [i_layer, n_layer] = layer_info(i_ffn_down_, model_.n_layer, name);
    if (ft == F::Q2_K) t = G::Q3_K;
    else if (ft == F::Q2_K_S) { if (i_layer < n_layer / 8) t = G::Q4_K; }
    else if (ft == F::IQ3_XXS && !opts_.has_imatrix) t = i_layer < n_layer / 8 ? G::Q4_K : G::Q3_K;
    else if (ft == F::Q3_K_M)
      t = i_layer < n_layer / 16 ? G::Q5_K : !falcon || use_more_bits(i_layer, n_layer) ? G::Q4_K : G::Q3_K;
    else if (ft == F::IQ3_M && (i_layer < n_layer / 8 || (n_expert == 8 && use_more_bits(i_layer, n_layer)))) t = G::Q4_K;
    else if (ft == F::Q3_K_L) t = falcon ? G::Q4_K : G::Q5_K;
    else if (ft == F::Q4_K_M) {
      if (falcon) t = i_layer < n_layer / 16 ? G::Q6_K : use_more_bits(i_layer, n_layer) ? G::Q5_K : G::Q4_K;
      else if (use_more_bits(i_layer, n_layer)) t = G::Q6_K;
    } else if (i_layer < n_layer / 8 && any({F::IQ4_NL, F::IQ4_XS}) && !opts_.has_imatrix) t = G::Q5_K;
    else if (ft == F::Q5_K_M && use_more_bits(i_layer, n_layer)) t = G::Q6_K;
    else if (ft == F::Q4_K_S && !falcon && i_layer < n_layer / 8) t = G::Q5_K;
    else if (any({F::Q4_0, F::Q5_0}) && opts_.has_imatrix && i_layer < n_layer / 8)
      t = ft == F::Q4_0 ? G::Q4_1 : G::Q5_1;
    ++i_ffn_down_;
    return t;
  }
  if (cat == Category::AttnOutput) {
    if (!falcon) {
      if (n_expert == 8) {
        if (any({F::Q2_K, F::IQ3_XS, F::IQ3_XXS, F::Q3_K_S, F::Q3_K_M, F::IQ4_NL, F::Q4_K_S, F::Q4_K_M, F::IQ3_S,
                 F::IQ3_M, F::IQ4_XS}))
          t = G::Q5_K;
      } else {
        if (ft == F::Q2_K) t = G::Q3_K;
        else if (ft == F::IQ3_XXS) t = G::IQ3_S;
        else if (ft == F::Q3_K_M) t = G::Q4_K;
        else if (ft == F::Q3_K_L) t = G::Q5_K;
        else if (ft == F::IQ3_M) t = G::Q4_K;
      }
    } else if (ft == F::Q3_K_L) {
      t = G::Q4_K;
    }
    return t;
  }
  if (cat == Category::AttnQkv) {  // unreachable (attn_v_like above), kept as in llama.cpp
    return t;
  }
  if (cat == Category::FfnGate || cat == Category::FfnUp) {
    int& counter = cat == Category::FfnGate ? i_ffn_gate_ : i_ffn_up_;
    const auto [i_layer, n_layer] = layer_info(counter, model_.n_layer, name);
    if (ft == F::IQ3_XS && i_layer >= n_layer / 8 && i_layer < 7 * n_layer / 8) t = G::IQ3_XXS;
    ++counter;
    return t;
  }
  return t;
}

bool TypeChooser::requires_imatrix(const std::string& name, GgmlType type) const {
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight") return false;
  switch (type) {
    case G::IQ3_XXS: case G::IQ2_XXS: case G::IQ2_XS: case G::IQ2_S: case G::IQ1_M: case G::IQ1_S: return true;
    case G::Q2_K: return opts_.ftype == F::Q2_K_S;  // the one K-quant mix that needs it
    default: return false;
  }
}

}  // namespace pj::quantize
