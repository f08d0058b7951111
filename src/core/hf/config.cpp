// config.json and generation_config.json: normalisation of the transformers 4 and 5 key styles.
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/hf/hf_folder.h"

#include <cmath>

namespace pj::hf {

namespace {

const json* find(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::optional<int64_t> opt_int(const json& j, const char* key, const std::string& name) {
  const json* v = find(j, key);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  fail("hf: {}: \"{}\" should be an integer, found {}", name, key, v->dump());
}

int64_t get_int(const json& j, const char* key, const std::string& name) { return opt_int(j, key, name).value_or(0); }

std::optional<double> opt_num(const json& j, const char* key, const std::string& name) {
  const json* v = find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) fail("hf: {}: \"{}\" should be a number, found {}", name, key, v->dump());
  return v->get<double>();
}

std::optional<bool> opt_bool(const json& j, const char* key, const std::string& name) {
  const json* v = find(j, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) fail("hf: {}: \"{}\" should be true or false, found {}", name, key, v->dump());
  return v->get<bool>();
}

std::string get_string(const json& j, const char* key, const std::string& name) {
  const json* v = find(j, key);
  if (!v) return {};
  if (!v->is_string()) fail("hf: {}: \"{}\" should be a string, found {}", name, key, v->dump());
  return v->get<std::string>();
}

// bos/eos ids: an integer, a list of integers, or null.
std::vector<int64_t> id_list(const json& j, const char* key, const std::string& name) {
  const json* v = find(j, key);
  std::vector<int64_t> out;
  if (!v) return out;
  if (v->is_number_integer()) return {v->get<int64_t>()};
  if (v->is_array()) {
    for (const json& x : *v) {
      if (!x.is_number_integer()) fail("hf: {}: \"{}\" should hold integers, found {}", name, key, x.dump());
      out.push_back(x.get<int64_t>());
    }
    return out;
  }
  fail("hf: {}: \"{}\" should be an integer or a list of integers, found {}", name, key, v->dump());
}

// One set of RoPE parameters in the transformers 5 style ({rope_theta, rope_type, factor, ...}); the
// transformers 4 rope_scaling object uses "type" where 5 uses "rope_type" and has no theta.
RopeParams rope_from(const json& p, double default_theta, const std::string& name) {
  if (!p.is_object()) fail("hf: {}: RoPE parameters should be an object, found {}", name, p.dump());
  RopeParams r;
  r.raw = p;
  r.theta = opt_num(p, "rope_theta", name).value_or(default_theta);
  std::string type = get_string(p, "rope_type", name);
  if (type.empty()) type = get_string(p, "type", name);
  if (!type.empty()) r.type = type;
  r.factor = opt_num(p, "factor", name).value_or(1.0);
  r.original_max_position_embeddings = get_int(p, "original_max_position_embeddings", name);
  return r;
}

void normalise_rope(const json& j, ModelConfig& c, const std::string& name) {
  if (const json* rp = find(j, "rope_parameters")) {
    if (!rp->is_object()) fail("hf: {}: \"rope_parameters\" should be an object", name);
    if (rp->contains("rope_theta") || rp->contains("rope_type")) {
      c.rope[""] = rope_from(*rp, 10000.0, name);
    } else {  // one set per layer type (Gemma 3 style)
      for (auto it = rp->begin(); it != rp->end(); ++it) c.rope[it.key()] = rope_from(it.value(), 10000.0, name);
    }
    return;
  }
  auto theta = opt_num(j, "rope_theta", name);
  const json* scaling = find(j, "rope_scaling");
  if (!theta && !scaling) return;
  RopeParams r = scaling ? rope_from(*scaling, theta.value_or(10000.0), name) : RopeParams{};
  r.theta = theta.value_or(10000.0);
  if (!scaling) r.raw = json{{"rope_theta", r.theta}, {"rope_type", "default"}};
  else r.raw["rope_theta"] = r.theta;
  if (auto local = opt_num(j, "rope_local_base_freq", name)) {
    // transformers 4 Gemma 3: rope_theta and rope_scaling apply to full-attention layers; sliding layers
    // use rope_local_base_freq without scaling (modeling_gemma3.py, rotary_emb_local).
    c.rope["full_attention"] = r;
    RopeParams l;
    l.theta = *local;
    l.raw = json{{"rope_theta", l.theta}, {"rope_type", "default"}};
    c.rope["sliding_attention"] = l;
  } else {
    c.rope[""] = r;
  }
}

}  // namespace

const RopeParams* ModelConfig::rope_for(const std::string& layer_type) const {
  auto it = rope.find(layer_type);
  if (it != rope.end()) return &it->second;
  it = rope.find("");
  return it == rope.end() ? nullptr : &it->second;
}

ModelConfig parse_config(const json& j, const std::string& name) {
  if (!j.is_object()) fail("hf: {}: config is not a JSON object", name);
  ModelConfig c;
  c.raw = j;
  if (const json* a = find(j, "architectures")) {
    if (!a->is_array()) fail("hf: {}: \"architectures\" should be a list", name);
    for (const json& x : *a)
      if (x.is_string()) c.architectures.push_back(x.get<std::string>());
  }
  c.model_type = get_string(j, "model_type", name);
  c.dtype = get_string(j, "dtype", name);
  if (c.dtype.empty()) c.dtype = get_string(j, "torch_dtype", name);
  c.vocab_size = get_int(j, "vocab_size", name);
  c.hidden_size = get_int(j, "hidden_size", name);
  c.intermediate_size = get_int(j, "intermediate_size", name);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", name);
  c.num_attention_heads = get_int(j, "num_attention_heads", name);
  c.num_key_value_heads = opt_int(j, "num_key_value_heads", name).value_or(c.num_attention_heads);
  c.head_dim = get_int(j, "head_dim", name);
  if (c.head_dim == 0 && c.num_attention_heads > 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  c.max_position_embeddings = get_int(j, "max_position_embeddings", name);
  c.sliding_window = get_int(j, "sliding_window", name);
  if (opt_bool(j, "use_sliding_window", name) == false) c.sliding_window = 0;  // Qwen2 keeps a value but ignores it
  c.norm_eps = opt_num(j, "rms_norm_eps", name)
                   .value_or(opt_num(j, "layer_norm_eps", name).value_or(opt_num(j, "layer_norm_epsilon", name).value_or(0)));
  c.tie_word_embeddings = opt_bool(j, "tie_word_embeddings", name).value_or(false);
  c.bos_token_ids = id_list(j, "bos_token_id", name);
  c.eos_token_ids = id_list(j, "eos_token_id", name);
  c.pad_token_id = opt_int(j, "pad_token_id", name);

  if (const json* lt = find(j, "layer_types")) {
    if (!lt->is_array()) fail("hf: {}: \"layer_types\" should be a list", name);
    for (const json& x : *lt) {
      if (!x.is_string()) fail("hf: {}: \"layer_types\" should hold strings, found {}", name, x.dump());
      c.layer_types.push_back(x.get<std::string>());
    }
    if (c.num_hidden_layers && static_cast<int64_t>(c.layer_types.size()) != c.num_hidden_layers)
      fail("hf: {}: {} layer_types for {} layers", name, c.layer_types.size(), c.num_hidden_layers);
  } else if (c.model_type == "gemma2" && c.sliding_window > 0) {
    // transformers 4 Gemma 2: even layers use the sliding window (modeling_gemma2.py, layer_idx % 2 == 0)
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
      c.layer_types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  } else if ((c.model_type == "gemma3" || c.model_type == "gemma3_text") && c.sliding_window > 0) {
    // transformers 4 Gemma 3: every sliding_window_pattern-th layer is global (default 6)
    int64_t pattern = opt_int(j, "sliding_window_pattern", name).value_or(get_int(j, "_sliding_window_pattern", name));
    if (pattern <= 0) pattern = 6;
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
      c.layer_types.push_back((i + 1) % pattern == 0 ? "full_attention" : "sliding_attention");
  }
  normalise_rope(j, c, name);

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() > 7 && k.compare(k.size() - 7, 7, "_config") == 0 && it.value().is_object())
      c.sub_configs[k] = parse_config(it.value(), name + ":" + k);
  }
  return c;
}

GenerationConfig parse_generation_config(const json& j, const std::string& name) {
  if (!j.is_object()) fail("hf: {}: generation config is not a JSON object", name);
  GenerationConfig g;
  g.raw = j;
  g.bos_token_ids = id_list(j, "bos_token_id", name);
  g.eos_token_ids = id_list(j, "eos_token_id", name);
  g.pad_token_id = opt_int(j, "pad_token_id", name);
  g.decoder_start_token_id = opt_int(j, "decoder_start_token_id", name);
  g.do_sample = opt_bool(j, "do_sample", name);
  g.temperature = opt_num(j, "temperature", name);
  g.top_p = opt_num(j, "top_p", name);
  g.repetition_penalty = opt_num(j, "repetition_penalty", name);
  g.top_k = opt_int(j, "top_k", name);
  g.max_new_tokens = opt_int(j, "max_new_tokens", name);
  g.max_length = opt_int(j, "max_length", name);
  return g;
}

json read_json_file(const std::string& path) {
  std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("hf: {}: not valid JSON: {}", path, e.what());
  }
}

}  // namespace pj::hf
