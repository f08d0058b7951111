// Model folders and their tokenizer files.
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/hf/hf_folder.h"

#include <algorithm>
#include <cctype>

namespace pj::hf {

namespace {

// Special tokens in tokenizer_config.json are a string, null, or a serialised AddedToken
// ({"__type": "AddedToken", "content": "<s>", ...}) in older files.
std::string token_string(const json& cfg, const char* key, const std::string& name) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  fail("hf: {}: \"{}\" should be a string or an AddedToken object, found {}", name, key, it->dump());
}

AddedToken added_token_from(const json& v, const std::string& name, const std::string& where) {
  if (!v.is_object() || !v.contains("content") || !v["content"].is_string())
    fail("hf: {}: {} should be an object with a string \"content\"", name, where);
  AddedToken t;
  t.content = v["content"].get<std::string>();
  auto flag = [&](const char* k) { return v.contains(k) && v[k].is_boolean() && v[k].get<bool>(); };
  t.special = flag("special");
  t.lstrip = flag("lstrip");
  t.rstrip = flag("rstrip");
  t.normalized = flag("normalized");
  t.single_word = flag("single_word");
  return t;
}

int64_t parse_id(const std::string& s, const std::string& name) {
  if (s.empty() || s.size() > 12 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    fail("hf: {}: added_tokens_decoder key '{}' is not a token id", name, s);
  return std::stoll(s);
}

std::string chat_template_from(const json& cfg, const std::string& name) {
  auto it = cfg.find("chat_template");
  if (it == cfg.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {  // [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
    std::string first;
    for (const json& t : *it) {
      if (!t.is_object() || !t.contains("template") || !t["template"].is_string()) continue;
      if (first.empty()) first = t["template"].get<std::string>();
      if (t.contains("name") && t["name"] == "default") return t["template"].get<std::string>();
    }
    return first;
  }
  fail("hf: {}: \"chat_template\" should be a string or a list of named templates", name);
}

}  // namespace

std::string TokenizerFiles::kind() const {
  if (tokenizer_json.is_object() && tokenizer_json.contains("model") && tokenizer_json["model"].is_object()) {
    const json& m = tokenizer_json["model"];
    if (m.contains("type") && m["type"].is_string()) {
      std::string t = m["type"].get<std::string>();
      std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
      return t;
    }
    return "unknown";
  }
  if (spm) return std::string("sentencepiece-") + spm_model_type_name(spm->model_type);
  return "none";
}

int64_t TokenizerFiles::vocab_size() const {
  int64_t n = 0;
  if (tokenizer_json.is_object() && tokenizer_json.contains("model") && tokenizer_json["model"].is_object()) {
    const json& m = tokenizer_json["model"];
    if (m.contains("vocab")) {
      const json& v = m["vocab"];
      if (v.is_array()) n = static_cast<int64_t>(v.size());  // Unigram: [[piece, score], ...]
      else if (v.is_object())
        for (auto it = v.begin(); it != v.end(); ++it)
          if (it.value().is_number_integer()) n = std::max(n, it.value().get<int64_t>() + 1);
    }
  } else if (spm) {
    n = static_cast<int64_t>(spm->pieces.size());
  }
  if (!added_tokens.empty()) n = std::max(n, added_tokens.rbegin()->first + 1);
  return n;
}

TokenizerFiles load_tokenizer_files(const std::string& folder) {
  TokenizerFiles t;
  const std::string tj = folder + "/tokenizer.json", tc = folder + "/tokenizer_config.json",
                    tm = folder + "/tokenizer.model";
  if (file_exists(tj)) {
    t.tokenizer_json = read_json_file(tj);
    if (!t.tokenizer_json.is_object()) fail("hf: {}: not a JSON object", tj);
    if (auto it = t.tokenizer_json.find("added_tokens"); it != t.tokenizer_json.end() && !it->is_null()) {
      if (!it->is_array()) fail("hf: {}: \"added_tokens\" should be a list", tj);
      for (const json& a : *it) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0)
          fail("hf: {}: added token {} has no valid id", tj, a.dump());
        t.added_tokens[a["id"].get<int64_t>()] = added_token_from(a, tj, "added token");
      }
    }
  }
  if (file_exists(tm)) t.spm = load_spm_model(tm);
  if (file_exists(tc)) {
    t.tokenizer_config = read_json_file(tc);
    const json& c = t.tokenizer_config;
    if (!c.is_object()) fail("hf: {}: not a JSON object", tc);
    t.chat_template = chat_template_from(c, tc);
    t.bos_token = token_string(c, "bos_token", tc);
    t.eos_token = token_string(c, "eos_token", tc);
    t.unk_token = token_string(c, "unk_token", tc);
    t.pad_token = token_string(c, "pad_token", tc);
    for (const char* k : {"add_bos_token", "add_eos_token"}) {
      auto it = c.find(k);
      if (it == c.end() || it->is_null()) continue;
      if (!it->is_boolean()) fail("hf: {}: \"{}\" should be true or false", tc, k);
      (std::string(k) == "add_bos_token" ? t.add_bos_token : t.add_eos_token) = it->get<bool>();
    }
    if (auto it = c.find("added_tokens_decoder"); it != c.end() && !it->is_null()) {
      if (!it->is_object()) fail("hf: {}: \"added_tokens_decoder\" should be an object", tc);
      for (auto a = it->begin(); a != it->end(); ++a)
        t.added_tokens[parse_id(a.key(), tc)] = added_token_from(a.value(), tc, "added_tokens_decoder['" + a.key() + "']");
    }
  }
  // transformers 5 saves the template next to the config rather than inside it.
  if (t.chat_template.empty() && file_exists(folder + "/chat_template.jinja"))
    t.chat_template = read_text_file(folder + "/chat_template.jinja");
  if (t.chat_template.empty() && file_exists(folder + "/chat_template.json")) {
    json ct = read_json_file(folder + "/chat_template.json");
    t.chat_template = chat_template_from(ct, folder + "/chat_template.json");
  }
  return t;
}

Folder open_folder(const std::string& path) {
  if (!is_directory(path)) fail("hf: {}: not a folder", path);
  Folder f;
  f.path = path;
  if (file_exists(path + "/config.json")) f.config = parse_config(read_json_file(path + "/config.json"), path + "/config.json");
  if (file_exists(path + "/generation_config.json"))
    f.generation = parse_generation_config(read_json_file(path + "/generation_config.json"),
                                           path + "/generation_config.json");
  if (file_exists(path + "/preprocessor_config.json")) f.preprocessor_config = read_json_file(path + "/preprocessor_config.json");
  f.tokenizer = load_tokenizer_files(path);
  if (safetensors::Checkpoint::folder_has_weights(path)) f.weights = safetensors::Checkpoint::open(path);
  if (!f.config && !f.weights && !f.tokenizer.present())
    fail("hf: {}: no config.json, model.safetensors or tokenizer files in this folder", path);
  return f;
}

}  // namespace pj::hf
