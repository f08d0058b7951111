// pajamas template: render a model's chat template for a conversation and print the prompt exactly
// (no newline added), as transformers' apply_chat_template(tokenize=False) would produce it.
#include "apps/cli/commands.h"
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/gguf/gguf.h"
#include "models/chat/template.h"

#include <cstdio>
#include <memory>

namespace pj::cli {

namespace {

struct TemplateOptions {
  std::string model, messages, tools, enable_thinking, template_name = "default";
  bool no_generation_prompt = false;
  int64_t now = -1;
};

nlohmann::ordered_json read_json(const std::string& path) {
  try {
    return nlohmann::ordered_json::parse(read_text_file(path));
  } catch (const nlohmann::ordered_json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
}

// A GGUF's tokenizer.chat_template, with the BOS/EOS strings from its vocabulary.
chat::HfChatConfig gguf_chat_config(const std::string& path) {
  auto f = gguf::File::open(path);
  chat::HfChatConfig cfg;
  cfg.origin = path + ": tokenizer.chat_template";
  cfg.source = f.get_string_or("tokenizer.chat_template", "");
  if (cfg.source.empty()) fail("{}: the model has no chat template (tokenizer.chat_template)", path);
  if (f.has("tokenizer.ggml.tokens")) {
    const auto& tokens = f.get_array("tokenizer.ggml.tokens").get<std::string>();
    auto piece = [&](const char* key) -> std::optional<std::string> {
      if (!f.has(key)) return std::nullopt;
      const uint32_t id = f.get_u32(key);
      if (id >= tokens.size()) fail("{}: {} = {} is outside the vocabulary", path, key, id);
      return tokens[id];
    };
    cfg.bos_token = piece("tokenizer.ggml.bos_token_id");
    cfg.eos_token = piece("tokenizer.ggml.eos_token_id");
  }
  return cfg;
}

void run_template(const TemplateOptions& o) {
  chat::HfChatConfig cfg = is_directory(o.model) ? chat::load_hf_chat_config(o.model, o.template_name)
                                                 : gguf_chat_config(o.model);
  nlohmann::ordered_json doc = read_json(o.messages);
  nlohmann::ordered_json messages, tools = nullptr;
  if (doc.is_array()) {
    messages = doc;
  } else if (doc.is_object() && doc.contains("messages") && doc["messages"].is_array()) {
    messages = doc["messages"];
    if (doc.contains("tools")) tools = doc["tools"];
  } else {
    fail("{}: expected a JSON array of messages or an object with a 'messages' array", o.messages);
  }
  if (!o.tools.empty()) tools = read_json(o.tools);
  if (!tools.is_null() && !tools.is_array()) fail("tools: expected a JSON array of tool definitions");
  std::optional<bool> thinking;
  if (o.enable_thinking == "on") thinking = true;
  else if (o.enable_thinking == "off") thinking = false;
  else if (!o.enable_thinking.empty()) fail("--enable-thinking: expected 'on' or 'off', got '{}'", o.enable_thinking);

  chat::Template t(cfg.source, cfg.origin);
  chat::RenderOptions ro;
  if (o.now >= 0) ro.now_unix = o.now;
  std::string out = t.render(chat::make_chat_context(cfg, messages, tools, !o.no_generation_prompt, thinking), ro);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void register_template(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<TemplateOptions>();
  auto* cmd = app.add_subcommand("template", "Render a model's chat template for a conversation");
  cmd->add_option("-m,--model", o->model, "GGUF file (tokenizer.chat_template) or Hugging Face model folder (tokenizer_config.json)")->required();
  cmd->add_option("--messages", o->messages, "JSON file: an array of messages, or {\"messages\": [...], \"tools\": [...]}")
      ->required();
  cmd->add_option("--tools", o->tools, "JSON file: an array of tool definitions");
  cmd->add_flag("--no-generation-prompt", o->no_generation_prompt, "Do not open an assistant turn at the end");
  cmd->add_option("--enable-thinking", o->enable_thinking, "Reasoning switch for Qwen3-style templates: on|off");
  cmd->add_option("--template-name", o->template_name, "Which named template when the model has several");
  cmd->add_option("--now", o->now, "Fixed clock for strftime_now: seconds since the Unix epoch (UTC)");
  cmd->callback([o] { run_template(*o); });
}

}  // namespace pj::cli
