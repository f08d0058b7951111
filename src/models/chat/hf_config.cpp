// Chat settings from a Hugging Face model folder, and the render context transformers'
// apply_chat_template builds from them.
#include "models/chat/template.h"

#include "core/base/error.h"
#include "core/base/file.h"

namespace pj::chat {

namespace {

// Special tokens are stored as a plain string or as an AddedToken object {"content": "<s>", ...}.
std::optional<std::string> token_string(const nlohmann::ordered_json& cfg, const char* key, const std::string& path) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  fail("{}: '{}' is neither a string nor an object with a string 'content'", path, key);
}

}  // namespace

HfChatConfig load_hf_chat_config(const std::string& folder, const std::string& template_name) {
  HfChatConfig cfg;
  std::string path = folder + "/tokenizer_config.json";
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (file_exists(path)) {
    try {
      j = nlohmann::ordered_json::parse(read_text_file(path));
    } catch (const nlohmann::ordered_json::exception& e) {
      fail("{}: not valid JSON: {}", path, e.what());
    }
    if (!j.is_object()) fail("{}: expected a JSON object", path);
    cfg.bos_token = token_string(j, "bos_token", path);
    cfg.eos_token = token_string(j, "eos_token", path);
  }
  auto it = j.find("chat_template");
  if (it != j.end() && !it->is_null()) {
    cfg.origin = path;
    if (it->is_string()) {
      cfg.source = it->get<std::string>();
      return cfg;
    }
    if (!it->is_array()) fail("{}: 'chat_template' must be a string or a list of {{name, template}}", path);
    std::string names;
    for (const auto& e : *it) {
      if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["name"].is_string() ||
          !e["template"].is_string())
        fail("{}: 'chat_template' list entries must be objects with string 'name' and 'template'", path);
      if (e["name"].get<std::string>() == template_name) {
        cfg.source = e["template"].get<std::string>();
        cfg.origin = path + " (" + template_name + ")";
        return cfg;
      }
      names += (names.empty() ? "" : ", ") + e["name"].get<std::string>();
    }
    fail("{}: no chat template named '{}' (have: {})", path, template_name, names);
  }
  std::string jinja = folder + "/chat_template.jinja";
  if (file_exists(jinja)) {
    cfg.source = read_text_file(jinja);
    cfg.origin = jinja;
    return cfg;
  }
  if (!file_exists(path)) fail("{}: no tokenizer_config.json or chat_template.jinja in this folder", folder);
  fail("{}: no 'chat_template' (and no chat_template.jinja beside it)", path);
}

nlohmann::ordered_json make_chat_context(const HfChatConfig& cfg, const nlohmann::ordered_json& messages,
                                 const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                 std::optional<bool> enable_thinking) {
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = messages;
  ctx["tools"] = tools;
  ctx["add_generation_prompt"] = add_generation_prompt;
  if (cfg.bos_token) ctx["bos_token"] = *cfg.bos_token;
  if (cfg.eos_token) ctx["eos_token"] = *cfg.eos_token;
  if (enable_thinking) ctx["enable_thinking"] = *enable_thinking;
  return ctx;
}

}  // namespace pj::chat
