#include "models/tokenizer/hf_tokenizer.h"

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/hf/sentencepiece_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <unordered_map>

namespace pj::tok {
namespace {

using nlohmann::json;

// j[key] for a const object, or null when absent (nlohmann's const operator[] asserts on a missing key).
const json& field(const json& j, const char* key) {
  static const json null_value;
  if (!j.is_object()) return null_value;
  auto it = j.find(key);
  return it == j.end() ? null_value : *it;
}

// A token id from tokenizer.json, checked before it is used as an index.
size_t token_id(const json& v, const std::string& path) {
  const auto id = v.get<int64_t>();
  if (id < 0 || id >= (int64_t{1} << 24)) fail("tokenizer: {}: token id {} out of range", path, id);
  return static_cast<size_t>(id);
}

json parse_json_file(const std::string& path) {
  const std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("tokenizer: {}: invalid JSON: {}", path, e.what());
  }
}

// A token named in tokenizer_config.json: a string, or {"content": ...} (AddedToken), or null.
std::string token_name(const json& cfg, const char* key) {
  if (!cfg.contains(key)) return {};
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

int id_of(const TokenizerSpec& spec, const std::string& piece) {
  if (piece.empty()) return -1;
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    if (spec.tokens[i] == piece) return static_cast<int>(i);
  }
  return -1;
}

void parse_pre_tokenizer(const json& pt, TokenizerSpec& spec, const std::string& path) {
  if (pt.is_null()) return;
  const std::string type = pt.value("type", "");
  if (type == "Sequence") {
    for (const json& p : pt.at("pretokenizers")) parse_pre_tokenizer(p, spec, path);
  } else if (type == "ByteLevel") {
    if (pt.value("use_regex", true)) spec.pre_splits.push_back(PreSplit::gpt2);
    spec.add_prefix_space = pt.value("add_prefix_space", false);
  } else if (type == "Split") {
    const json& pat = pt.at("pattern");
    if (!pat.contains("Regex")) fail("tokenizer: {}: Split pre-tokenizer with a plain string pattern is not supported", path);
    const std::string re = pat["Regex"].get<std::string>();
    auto s = pre_split_from_regex(re);
    if (!s) fail("tokenizer: {}: unsupported pre-tokenizer regex '{}'", path, re);
    if (pt.value("behavior", "") != "Isolated" || pt.value("invert", false))
      fail("tokenizer: {}: Split pre-tokenizer must be behavior Isolated, invert false", path);
    spec.pre_splits.push_back(*s);
  } else if (type == "Digits") {
    if (!pt.value("individual_digits", false)) fail("tokenizer: {}: Digits without individual_digits is not supported", path);
    spec.pre_splits.push_back(PreSplit::digits);
  } else {
    fail("tokenizer: {}: unsupported pre-tokenizer '{}'", path, type);
  }
}

// TemplateProcessing "single": a leading special token means add-BOS, a trailing one add-EOS.
void parse_post_processor(const json& pp, TokenizerSpec& spec) {
  if (pp.is_null()) return;
  const std::string type = pp.value("type", "");
  if (type == "Sequence") {
    for (const json& p : pp.at("processors")) parse_post_processor(p, spec);
    return;
  }
  if (type != "TemplateProcessing" || !pp.contains("single")) return;
  const json& specials = field(pp, "special_tokens");
  const json& single = pp["single"];
  if (!single.is_array() || single.empty()) return;
  auto special_id = [&](const json& item) -> int {
    if (!item.contains("SpecialToken")) return -1;
    const std::string name = item["SpecialToken"].at("id").get<std::string>();
    if (specials.is_object() && specials.contains(name)) {
      const json& ids = specials.at(name).at("ids");
      if (ids.size() == 1) return ids[0].get<int>();
    }
    return id_of(spec, name);
  };
  if (int id = special_id(single.front()); id >= 0) spec.add_bos = true, spec.bos_id = id;
  if (single.size() > 1) {
    if (int id = special_id(single.back()); id >= 0) spec.add_eos = true, spec.eos_id = id;
  }
}

void load_tokenizer_json(const std::string& path, TokenizerSpec& spec) {
  const json j = parse_json_file(path);
  if (!j.is_object()) fail("tokenizer: {}: expected a JSON object", path);
  try {
    const json& model = j.at("model");
    if (model.value("type", "BPE") != "BPE")
      fail("tokenizer: {}: model type '{}' is not supported (only BPE)", path, model.value("type", ""));
    if (!field(j, "normalizer").is_null())
      fail("tokenizer: {}: normalizer '{}' is not supported", path, field(j, "normalizer").value("type", "?"));
    const json& dec = field(j, "decoder");
    if (!dec.is_null() && dec.value("type", "") != "ByteLevel")
      fail("tokenizer: {}: decoder '{}' is not supported (only ByteLevel)", path, dec.value("type", "?"));
    spec.kind = TokenizerKind::byte_bpe;

    size_t n = 0;
    const json& added = field(j, "added_tokens");
    for (const auto& [piece, id] : model.at("vocab").items()) n = std::max(n, token_id(id, path) + 1);
    for (const json& a : added) n = std::max(n, token_id(a.at("id"), path) + 1);
    std::vector<std::string> pieces(n);
    std::vector<bool> seen(n, false);
    spec.types.assign(n, TokenType::normal);
    for (const auto& [piece, id] : model.at("vocab").items()) {
      const size_t i = token_id(id, path);
      pieces[i] = piece, seen[i] = true;
    }
    for (const json& a : added) {
      AddedToken t;
      t.id = static_cast<int>(token_id(a.at("id"), path));
      t.content = a.at("content").get<std::string>();
      t.special = a.value("special", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      pieces[t.id] = t.content, seen[t.id] = true;
      spec.types[t.id] = t.special ? TokenType::control : TokenType::user_defined;
      spec.added.push_back(std::move(t));
    }
    if (auto gap = std::find(seen.begin(), seen.end(), false); gap != seen.end())
      fail("tokenizer: {}: no token has id {} (ids must be contiguous)", path, gap - seen.begin());
    spec.tokens = PieceList(pieces);

    for (const json& m : model.at("merges")) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) fail("tokenizer: {}: merge '{}' is not two tokens", path, s);
        spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else {
        if (!m.is_array() || m.size() != 2) fail("tokenizer: {}: merge {} is not a pair", path, m.dump());
        spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      }
    }
    parse_pre_tokenizer(field(j, "pre_tokenizer"), spec, path);
    parse_post_processor(field(j, "post_processor"), spec);
    if (model.contains("unk_token") && model["unk_token"].is_string())
      spec.unk_id = id_of(spec, model["unk_token"].get<std::string>());
  } catch (const json::exception& e) {
    fail("tokenizer: {}: unexpected structure: {}", path, e.what());
  }
  spec.pre_name.clear();
  // llama.cpp's name for the split, so that a converted GGUF states it (tokenizer.ggml.pre).
  if (spec.pre_splits == std::vector{PreSplit::llama3}) spec.pre_name = "llama-bpe";
  if (spec.pre_splits == std::vector{PreSplit::qwen2}) spec.pre_name = "qwen2";
  if (spec.pre_splits == std::vector{PreSplit::gpt2}) spec.pre_name = "gpt-2";
  if (spec.pre_splits == std::vector{PreSplit::digits, PreSplit::gpt2}) spec.pre_name = "smollm";
}

void load_spm(const std::string& path, TokenizerSpec& spec) {
  const hf::SpmModel m = hf::load_spm_model(path);
  if (m.model_type != 2)
    fail("tokenizer: {}: SentencePiece model type '{}' is not supported (only bpe)", path,
         hf::spm_model_type_name(m.model_type));
  if (!m.precompiled_charsmap.empty())
    fail("tokenizer: {}: SentencePiece normalizer '{}' is not supported (only identity)", path, m.normalizer_name);
  spec.kind = TokenizerKind::spm_bpe;
  for (const hf::SpmPiece& p : m.pieces) {
    spec.tokens.push_back(p.piece);
    spec.scores.push_back(p.score);
    spec.types.push_back(static_cast<TokenType>(static_cast<int>(p.type)));
  }
  spec.unk_id = m.unk_id, spec.bos_id = m.bos_id, spec.eos_id = m.eos_id, spec.pad_id = m.pad_id;
  spec.add_dummy_prefix = m.add_dummy_prefix;
  spec.remove_extra_whitespaces = m.remove_extra_whitespaces;
  spec.escape_whitespaces = m.escape_whitespaces;
  spec.treat_whitespace_as_suffix = m.treat_whitespace_as_suffix;
  spec.byte_fallback = m.byte_fallback;
  spec.add_bos = true;  // LlamaTokenizer's default; tokenizer_config.json may say otherwise
}

}  // namespace

int find_eot_token(const TokenizerSpec& spec) {
  for (const char* name : {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<|end_of_turn|>", "<|eot|>"}) {
    if (int id = id_of(spec, name); id >= 0) return id;
  }
  return -1;
}

TokenizerSpec load_hf_tokenizer_spec(const std::string& dir) {
  TokenizerSpec spec;
  const std::string tj = dir + "/tokenizer.json", tm = dir + "/tokenizer.model";
  const std::string cfg_path = dir + "/tokenizer_config.json";
  if (!is_directory(dir)) fail("tokenizer: {}: not a folder", dir);
  // Llama 2 / Mistral folders carry both files; their tokenizer.json is HF's re-expression of the
  // SentencePiece model (Metaspace, ByteFallback decoder), so the original tokenizer.model is used.
  bool json_is_spm = false;
  if (file_exists(tj) && file_exists(tm)) {
    const json j = parse_json_file(tj);
    const json& dec = field(j, "decoder");
    json_is_spm = !dec.is_object() || dec.value("type", "") != "ByteLevel";
  }
  if (file_exists(tj) && !json_is_spm) {
    spec.source = tj;
    load_tokenizer_json(tj, spec);
  } else if (file_exists(tm)) {
    spec.source = tm;
    load_spm(tm, spec);
  } else {
    fail("tokenizer: {}: neither tokenizer.json nor tokenizer.model is there", dir);
  }
  if (file_exists(cfg_path)) {
    const json cfg = parse_json_file(cfg_path);
    if (!cfg.is_object()) fail("tokenizer: {}: expected a JSON object", cfg_path);
    auto set = [&](const char* key, int& id) {
      const std::string name = token_name(cfg, key);
      if (name.empty()) return;
      const int found = id_of(spec, name);
      if (found < 0) fail("tokenizer: {}: {} '{}' is not in the vocabulary", cfg_path, key, name);
      id = found;
    };
    set("bos_token", spec.bos_id);
    set("eos_token", spec.eos_id);
    set("pad_token", spec.pad_id);
    set("unk_token", spec.unk_id);
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) spec.add_bos = cfg["add_bos_token"].get<bool>();
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) spec.add_eos = cfg["add_eos_token"].get<bool>();
  }
  spec.eot_id = find_eot_token(spec);
  if (spec.eot_id < 0) spec.eot_id = spec.eos_id;
  return spec;
}

}  // namespace pj::tok
