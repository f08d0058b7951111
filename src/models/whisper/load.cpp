// Whisper loaders: GGUF (our canonical names), Hugging Face folders and CTranslate2 folders all end in
// bind_weights() with canonical names; see weights.md for the name table.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"
#include "core/safetensors/safetensors.h"
#include "models/whisper/model.h"

namespace pj::whisper {
namespace {

using json = nlohmann::json;
using TensorMap = std::map<std::string, RawTensor>;

std::function<const RawTensor*(const std::string&)> lookup(const TensorMap& t) {
  return [&t](const std::string& name) -> const RawTensor* {
    auto it = t.find(name);
    return it == t.end() ? nullptr : &it->second;
  };
}

json read_json(const std::string& path) {
  try {
    return json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail("whisper: {}: invalid JSON ({})", path, e.what());
  }
}

int json_int(const json& j, const char* key, const std::string& src) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) fail("whisper: {}: config has no integer '{}'", src, key);
  const int64_t v = it->get<int64_t>();
  if (v <= 0 || v > (1 << 24)) fail("whisper: {}: config '{}' = {} is out of range", src, key, v);
  return int(v);
}

void read_int_list(const json& j, const char* key, std::vector<int>& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return;
  for (const auto& v : *it)
    if (v.is_number_integer()) out.push_back(v.get<int>());
}

// Hugging Face name (without "model.") -> canonical name; empty if not a Whisper weight we use.
std::string hf_to_canonical(std::string n) {
  if (n.rfind("model.", 0) == 0) n = n.substr(6);
  if (n == "proj_out.weight") return "decoder.output.weight";
  auto rep = [&](const std::string& from, const std::string& to) {
    const size_t p = n.find(from);
    if (p != std::string::npos) n.replace(p, from.size(), to);
  };
  rep("encoder.embed_positions.weight", "encoder.position_embd");
  rep("decoder.embed_positions.weight", "decoder.position_embd");
  rep("decoder.embed_tokens.weight", "decoder.token_embd.weight");
  rep(".layers.", ".blk.");
  rep("encoder.layer_norm.", "encoder.norm.");
  rep("decoder.layer_norm.", "decoder.norm.");
  rep(".self_attn_layer_norm.", ".attn_norm.");
  rep(".encoder_attn_layer_norm.", ".cross_attn_norm.");
  rep(".final_layer_norm.", ".ffn_norm.");
  rep(".self_attn.q_proj.", ".attn_q.");
  rep(".self_attn.k_proj.", ".attn_k.");
  rep(".self_attn.v_proj.", ".attn_v.");
  rep(".self_attn.out_proj.", ".attn_out.");
  rep(".encoder_attn.q_proj.", ".cross_attn_q.");
  rep(".encoder_attn.k_proj.", ".cross_attn_k.");
  rep(".encoder_attn.v_proj.", ".cross_attn_v.");
  rep(".encoder_attn.out_proj.", ".cross_attn_out.");
  rep(".fc1.", ".ffn_up.");
  rep(".fc2.", ".ffn_down.");
  return n;
}

GgmlType st_type(safetensors::Dtype d, const std::string& src, const std::string& name) {
  switch (d) {
    case safetensors::Dtype::F32: return GgmlType::F32;
    case safetensors::Dtype::F16: return GgmlType::F16;
    case safetensors::Dtype::BF16: return GgmlType::BF16;
    default: fail("whisper: {}: tensor '{}' has unsupported dtype {}", src, name, safetensors::dtype_name(d));
  }
}

// ---- CTranslate2 model.bin (CTranslate2's src/models/model.cc, binary version 5/6):
//   u32 version, string spec name, u32 spec revision, u32 n_variables,
//   n x { string name, u8 rank, u32 dims[rank], u8 dtype, u32 n_bytes, bytes },
//   u32 n_aliases, n x { string alias, string variable }
// string = u16 length (including a NUL) + bytes. dtype: 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16.
struct Ct2Var {
  uint8_t dtype = 0;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
};

class Ct2Reader {
 public:
  Ct2Reader(const MappedFile& f) : f_(f) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, f_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    const uint16_t n = get<uint16_t>();
    if (n == 0) bad("empty string");
    need(n);
    std::string s(reinterpret_cast<const char*>(f_.data() + pos_), n - 1);
    pos_ += n;
    return s;
  }
  const uint8_t* bytes(uint64_t n) {
    need(n);
    const uint8_t* p = f_.data() + pos_;
    pos_ += n;
    return p;
  }
  [[noreturn]] void bad(const std::string& what) const {
    fail("whisper: {}: malformed CTranslate2 model ({} at offset {})", f_.path(), what, pos_);
  }

 private:
  void need(uint64_t n) const {
    if (n > f_.size() - pos_) bad("truncated");
  }
  const MappedFile& f_;
  uint64_t pos_ = 0;
};

size_t ct2_dtype_size(uint8_t t) {
  switch (t) {
    case 0: case 3: return 4;
    case 1: return 1;
    case 2: case 4: case 5: return 2;
    default: return 0;
  }
}

}  // namespace

bool is_hf_whisper_folder(const std::string& folder) {
  if (!is_directory(folder) || !file_exists(folder + "/config.json")) return false;
  try {
    const json j = json::parse(read_text_file(folder + "/config.json"));
    return j.value("model_type", "") == "whisper";
  } catch (...) {
    return false;
  }
}

bool is_ct2_whisper_folder(const std::string& folder) {
  if (!is_directory(folder) || !file_exists(folder + "/model.bin")) return false;
  MappedFile f(folder + "/model.bin");
  static constexpr char kSpec[] = "WhisperSpec";
  return f.size() > 20 && std::memcmp(f.data() + 6, kSpec, sizeof kSpec - 1) == 0;
}

bool is_whisper_gguf(const std::string& path) {
  if (is_directory(path) || !file_exists(path)) return false;
  try {
    auto f = gguf::File::open(path);
    return f.get_string_or("general.architecture", "") == "whisper";
  } catch (const Error&) {
    return false;
  }
}

void load_hf_folder(Model& m, const std::string& folder) {
  m.format = "hf";
  const std::string cfg_path = folder + "/config.json";
  const json cfg = read_json(cfg_path);
  if (cfg.value("model_type", "") != "whisper") fail("whisper: {}: model_type is not 'whisper'", cfg_path);
  HParams& hp = m.hp;
  hp.n_vocab = json_int(cfg, "vocab_size", cfg_path);
  hp.n_mels = json_int(cfg, "num_mel_bins", cfg_path);
  hp.n_audio_ctx = json_int(cfg, "max_source_positions", cfg_path);
  hp.n_text_ctx = json_int(cfg, "max_target_positions", cfg_path);
  hp.n_audio_state = hp.n_text_state = json_int(cfg, "d_model", cfg_path);
  hp.n_audio_head = json_int(cfg, "encoder_attention_heads", cfg_path);
  hp.n_text_head = json_int(cfg, "decoder_attention_heads", cfg_path);
  hp.n_audio_layer = json_int(cfg, "encoder_layers", cfg_path);
  hp.n_text_layer = json_int(cfg, "decoder_layers", cfg_path);
  hp.n_audio_ffn = json_int(cfg, "encoder_ffn_dim", cfg_path);
  hp.n_text_ffn = json_int(cfg, "decoder_ffn_dim", cfg_path);
  if (cfg.value("activation_function", "gelu") != "gelu")
    fail("whisper: {}: activation '{}' is not supported", cfg_path, cfg.value("activation_function", ""));
  if (cfg.value("scale_embedding", false)) fail("whisper: {}: scale_embedding is not supported", cfg_path);
  read_int_list(cfg, "suppress_tokens", m.suppress_tokens);
  const std::string gen_path = folder + "/generation_config.json";
  if (file_exists(gen_path)) {
    const json gen = read_json(gen_path);
    if (m.suppress_tokens.empty()) read_int_list(gen, "suppress_tokens", m.suppress_tokens);
    if (auto it = gen.find("alignment_heads"); it != gen.end() && it->is_array())
      for (const auto& p : *it)
        if (p.is_array() && p.size() == 2 && p[0].is_number_integer() && p[1].is_number_integer())
          m.alignment_heads.emplace_back(p[0].get<int>(), p[1].get<int>());
  }

  auto ckpt = std::make_shared<safetensors::Checkpoint>(safetensors::Checkpoint::open(folder));
  TensorMap tensors;
  for (const safetensors::TensorInfo* t : ckpt->tensors()) {
    const std::string c = hf_to_canonical(t->name);
    tensors[c] = RawTensor{st_type(t->dtype, folder, t->name), t->data, t->shape};
  }
  m.storage.push_back(ckpt);
  bind_weights(m, lookup(tensors));
}

void load_ct2_folder(Model& m, const std::string& folder) {
  m.format = "ct2";
  const std::string bin = folder + "/model.bin";
  auto map = std::make_shared<MappedFile>(bin);
  Ct2Reader r(*map);
  const uint32_t version = r.get<uint32_t>();
  if (version < 5 || version > 6) fail("whisper: {}: CTranslate2 binary version {} is not supported (5, 6)", bin, version);
  const std::string spec = r.str();
  if (spec != "WhisperSpec") fail("whisper: {}: a CTranslate2 '{}' model, not Whisper", bin, spec);
  r.get<uint32_t>();  // spec revision
  const uint32_t n_vars = r.get<uint32_t>();
  if (n_vars > 100000) r.bad("too many variables");
  std::map<std::string, Ct2Var> vars;
  for (uint32_t i = 0; i < n_vars; ++i) {
    Ct2Var v;
    const std::string name = r.str();
    const uint8_t rank = r.get<uint8_t>();
    if (rank > 4) r.bad("rank " + std::to_string(rank) + " of '" + name + "'");
    uint64_t count = 1;
    for (uint8_t k = 0; k < rank; ++k) {
      const uint32_t dim = r.get<uint32_t>();
      if (dim == 0 || count > (uint64_t(1) << 40) / dim) r.bad("dimensions of '" + name + "'");
      v.shape.push_back(dim);
      count *= dim;
    }
    v.dtype = r.get<uint8_t>();
    v.n_bytes = r.get<uint32_t>();
    const size_t es = ct2_dtype_size(v.dtype);
    if (es == 0) r.bad("data type " + std::to_string(v.dtype) + " of '" + name + "'");
    if (v.n_bytes != count * es) r.bad("size of '" + name + "'");
    v.data = r.bytes(v.n_bytes);
    if (!vars.emplace(name, std::move(v)).second) r.bad("duplicate variable '" + name + "'");
  }
  const uint32_t n_alias = r.get<uint32_t>();
  if (n_alias > 100000) r.bad("too many aliases");
  for (uint32_t i = 0; i < n_alias; ++i) {
    const std::string alias = r.str(), target = r.str();
    auto it = vars.find(target);
    if (it == vars.end()) r.bad("alias of unknown variable '" + target + "'");
    vars[alias] = it->second;
  }
  m.storage.push_back(map);

  auto var = [&](const std::string& name) -> const Ct2Var& {
    auto it = vars.find(name);
    if (it == vars.end()) fail("whisper: {}: missing variable '{}'", bin, name);
    return it->second;
  };
  auto scalar_int = [&](const std::string& name) -> int {
    const Ct2Var& v = var(name);
    if (!v.shape.empty()) fail("whisper: {}: '{}' is not a scalar", bin, name);
    if (v.dtype == 2) { int16_t x; std::memcpy(&x, v.data, 2); return x; }
    if (v.dtype == 3) { int32_t x; std::memcpy(&x, v.data, 4); return x; }
    if (v.dtype == 1) return int8_t(v.data[0]);
    fail("whisper: {}: '{}' is not an integer", bin, name);
  };

  TensorMap tensors;
  // A variable as a tensor; int8 weights (quantization "int8*") are dequantized with their per-row
  // scale (CTranslate2 stores q = round(w * scale)).
  auto add = [&](const std::string& canon, const std::string& name, int64_t row0 = 0, int64_t n_rows = -1) {
    const Ct2Var& v = var(name);
    if (v.shape.empty()) fail("whisper: {}: '{}' is a scalar", bin, name);
    const int64_t rows = v.shape[0];
    if (n_rows < 0) n_rows = rows;
    if (row0 + n_rows > rows) fail("whisper: {}: '{}' has {} rows, fewer than {}", bin, name, rows, row0 + n_rows);
    int64_t row_elems = 1;
    for (size_t k = 1; k < v.shape.size(); ++k) row_elems *= v.shape[k];
    std::vector<int64_t> shape = v.shape;
    shape[0] = n_rows;
    const size_t es = ct2_dtype_size(v.dtype);
    if (v.dtype == 0 || v.dtype == 4 || v.dtype == 5) {
      const GgmlType t = v.dtype == 0 ? GgmlType::F32 : v.dtype == 4 ? GgmlType::F16 : GgmlType::BF16;
      const uint8_t* src = v.data + size_t(row0 * row_elems) * es;
      if (reinterpret_cast<uintptr_t>(src) % 16 != 0) {
        // model.bin packs variables without padding, so a 16-bit tensor can start at an odd address:
        // the kernels read whole elements (and vectors), so such a tensor gets an aligned copy.
        const size_t n_bytes = size_t(n_rows * row_elems) * es;
        auto buf = std::make_shared<std::vector<uint64_t>>((n_bytes + 7) / 8);
        std::memcpy(buf->data(), src, n_bytes);
        src = reinterpret_cast<const uint8_t*>(buf->data());
        m.storage.push_back(buf);
      }
      tensors[canon] = RawTensor{t, src, shape};
      return;
    }
    if (v.dtype != 1) fail("whisper: {}: '{}' has an unsupported data type", bin, name);
    const std::string sname = name.substr(0, name.rfind('/')) + "/weight_scale";
    const Ct2Var& sc = var(sname);
    if (sc.dtype != 0 || sc.shape.size() != 1 || sc.shape[0] != rows)
      fail("whisper: {}: '{}' does not fit '{}'", bin, sname, name);
    auto buf = std::make_shared<std::vector<float>>(size_t(n_rows * row_elems));
    for (int64_t rr = 0; rr < n_rows; ++rr) {
      float s;
      std::memcpy(&s, sc.data + size_t(row0 + rr) * 4, 4);
      if (s == 0) s = 1;
      const auto* q = reinterpret_cast<const int8_t*>(v.data) + (row0 + rr) * row_elems;
      for (int64_t c = 0; c < row_elems; ++c) (*buf)[size_t(rr * row_elems + c)] = float(q[c]) / s;
    }
    tensors[canon] = RawTensor{GgmlType::F32, buf->data(), shape};
    m.storage.push_back(buf);
  };
  auto add_norm = [&](const std::string& canon, const std::string& name) {
    add(canon + ".weight", name + "/gamma");
    add(canon + ".bias", name + "/beta");
  };
  auto add_lin = [&](const std::string& canon, const std::string& name, int64_t row0 = 0, int64_t n_rows = -1) {
    add(canon + ".weight", name + "/weight", row0, n_rows);
    if (vars.count(name + "/bias")) add(canon + ".bias", name + "/bias", row0, n_rows);
  };

  HParams& hp = m.hp;
  const Ct2Var& emb = var("decoder/embeddings/weight");
  const Ct2Var& conv1 = var("encoder/conv1/weight");
  if (emb.shape.size() != 2 || conv1.shape.size() != 3) fail("whisper: {}: unexpected embedding or conv1 shape", bin);
  hp.n_vocab = int(emb.shape[0]);
  hp.n_text_state = hp.n_audio_state = int(emb.shape[1]);
  hp.n_mels = int(conv1.shape[1]);
  hp.n_audio_ctx = int(var("encoder/position_encodings/encodings").shape.at(0));
  hp.n_text_ctx = int(var("decoder/position_encodings/encodings").shape.at(0));
  hp.n_audio_head = scalar_int("encoder/num_heads");
  hp.n_text_head = scalar_int("decoder/num_heads");
  while (vars.count("encoder/layer_" + std::to_string(hp.n_audio_layer) + "/ffn/linear_0/weight")) ++hp.n_audio_layer;
  while (vars.count("decoder/layer_" + std::to_string(hp.n_text_layer) + "/ffn/linear_0/weight")) ++hp.n_text_layer;
  if (hp.n_audio_layer == 0 || hp.n_text_layer == 0) fail("whisper: {}: no layers", bin);
  hp.n_audio_ffn = int(var("encoder/layer_0/ffn/linear_0/weight").shape.at(0));
  hp.n_text_ffn = int(var("decoder/layer_0/ffn/linear_0/weight").shape.at(0));
  const int64_t d = hp.n_text_state;

  add("encoder.conv1.weight", "encoder/conv1/weight");
  add("encoder.conv1.bias", "encoder/conv1/bias");
  add("encoder.conv2.weight", "encoder/conv2/weight");
  add("encoder.conv2.bias", "encoder/conv2/bias");
  add("encoder.position_embd", "encoder/position_encodings/encodings");
  for (int i = 0; i < hp.n_audio_layer; ++i) {
    const std::string c = "encoder.blk." + std::to_string(i) + ".", s = "encoder/layer_" + std::to_string(i) + "/";
    add_norm(c + "attn_norm", s + "self_attention/layer_norm");
    add_lin(c + "attn_q", s + "self_attention/linear_0", 0, d);
    add_lin(c + "attn_k", s + "self_attention/linear_0", d, d);
    add_lin(c + "attn_v", s + "self_attention/linear_0", 2 * d, d);
    add_lin(c + "attn_out", s + "self_attention/linear_1");
    add_norm(c + "ffn_norm", s + "ffn/layer_norm");
    add_lin(c + "ffn_up", s + "ffn/linear_0");
    add_lin(c + "ffn_down", s + "ffn/linear_1");
  }
  add_norm("encoder.norm", "encoder/layer_norm");
  add("decoder.token_embd.weight", "decoder/embeddings/weight");
  add("decoder.position_embd", "decoder/position_encodings/encodings");
  for (int i = 0; i < hp.n_text_layer; ++i) {
    const std::string c = "decoder.blk." + std::to_string(i) + ".", s = "decoder/layer_" + std::to_string(i) + "/";
    add_norm(c + "attn_norm", s + "self_attention/layer_norm");
    add_lin(c + "attn_q", s + "self_attention/linear_0", 0, d);
    add_lin(c + "attn_k", s + "self_attention/linear_0", d, d);
    add_lin(c + "attn_v", s + "self_attention/linear_0", 2 * d, d);
    add_lin(c + "attn_out", s + "self_attention/linear_1");
    add_norm(c + "cross_attn_norm", s + "attention/layer_norm");
    add_lin(c + "cross_attn_q", s + "attention/linear_0");
    add_lin(c + "cross_attn_k", s + "attention/linear_1", 0, d);
    add_lin(c + "cross_attn_v", s + "attention/linear_1", d, d);
    add_lin(c + "cross_attn_out", s + "attention/linear_2");
    add_norm(c + "ffn_norm", s + "ffn/layer_norm");
    add_lin(c + "ffn_up", s + "ffn/linear_0");
    add_lin(c + "ffn_down", s + "ffn/linear_1");
  }
  add_norm("decoder.norm", "decoder/layer_norm");
  if (vars.count("decoder/projection/weight") &&
      vars["decoder/projection/weight"].data != vars["decoder/embeddings/weight"].data)
    add("decoder.output.weight", "decoder/projection/weight");

  const std::string cfg_path = folder + "/config.json";
  if (file_exists(cfg_path)) {
    const json cfg = read_json(cfg_path);
    read_int_list(cfg, "suppress_ids", m.suppress_tokens);
    if (auto it = cfg.find("alignment_heads"); it != cfg.end() && it->is_array())
      for (const auto& p : *it)
        if (p.is_array() && p.size() == 2 && p[0].is_number_integer() && p[1].is_number_integer())
          m.alignment_heads.emplace_back(p[0].get<int>(), p[1].get<int>());
  }
  bind_weights(m, lookup(tensors));
}

void load_gguf(Model& m, const std::string& path) {
  m.format = "gguf";
  auto f = std::make_shared<gguf::File>(gguf::File::open(path));
  if (f->get_string_or("general.architecture", "") != "whisper")
    fail("whisper: {}: general.architecture is not 'whisper'", path);
  HParams& hp = m.hp;
  auto u = [&](const char* k) { return int(f->get_u32(k)); };
  hp.n_vocab = u("whisper.vocab_size");
  hp.n_mels = u("whisper.n_mels");
  hp.n_audio_ctx = u("whisper.encoder.context_length");
  hp.n_audio_state = u("whisper.encoder.embedding_length");
  hp.n_audio_head = u("whisper.encoder.attention.head_count");
  hp.n_audio_layer = u("whisper.encoder.block_count");
  hp.n_audio_ffn = u("whisper.encoder.feed_forward_length");
  hp.n_text_ctx = u("whisper.decoder.context_length");
  hp.n_text_state = u("whisper.decoder.embedding_length");
  hp.n_text_head = u("whisper.decoder.attention.head_count");
  hp.n_text_layer = u("whisper.decoder.block_count");
  hp.n_text_ffn = u("whisper.decoder.feed_forward_length");
  if (const auto* v = f->find("whisper.suppress_tokens")) {
    if (const auto* a = v->get_if<gguf::Array>()) {
      if (const auto* xs = std::get_if<std::vector<int32_t>>(&a->storage()))
        m.suppress_tokens.assign(xs->begin(), xs->end());
    }
  }
  if (const auto* v = f->find("whisper.alignment_heads")) {
    if (const auto* a = v->get_if<gguf::Array>()) {
      if (const auto* xs = std::get_if<std::vector<int32_t>>(&a->storage()))
        for (size_t i = 0; i + 1 < xs->size(); i += 2) m.alignment_heads.emplace_back((*xs)[i], (*xs)[i + 1]);
    }
  }
  TensorMap tensors;
  for (const gguf::Tensor& t : f->tensors()) {
    RawTensor r{t.type, t.data, {}};
    for (size_t i = t.shape.size(); i-- > 0;) r.shape.push_back(int64_t(t.shape[i]));
    tensors[t.name] = std::move(r);
  }
  m.storage.push_back(f);
  bind_weights(m, lookup(tensors));
}

Model Model::load(const std::string& path) {
  Model m;
  m.source = path;
  if (!file_exists(path)) fail("whisper: {}: no such file or folder", path);
  if (is_directory(path)) {
    if (file_exists(path + "/model.bin")) {
      load_ct2_folder(m, path);
    } else if (file_exists(path + "/config.json")) {
      load_hf_folder(m, path);
    } else {
      fail("whisper: {}: neither a Hugging Face folder (config.json) nor a CTranslate2 folder (model.bin)", path);
    }
  } else {
    load_gguf(m, path);
  }
  return m;
}

}  // namespace pj::whisper
