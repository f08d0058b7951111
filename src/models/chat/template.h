// Chat templates: a model's own Jinja `chat_template`, rendered by a built-in interpreter that covers the
// subset of Jinja real templates use, with the semantics of jinja2 3.1 in the environment Hugging Face
// transformers renders with (trim_blocks, lstrip_blocks, loopcontrols, raise_exception, strftime_now,
// a tojson that is json.dumps(ensure_ascii=False)). Anything outside that subset is a pj::Error naming
// the construct and the template line, never a silently different prompt.
//
//   pj::chat::Template t(source);
//   std::string prompt = t.render({{"messages", msgs}, {"add_generation_prompt", true},
//                                  {"bos_token", "<s>"}, {"eos_token", "</s>"}});
//
// The source is just a string: a Hugging Face folder (load_hf_chat_config below) or a GGUF's
// tokenizer.chat_template can both provide it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace pj::chat {

struct Node;

struct RenderOptions {
  // Seconds since the Unix epoch that strftime_now() formats, as UTC; unset: the local time now.
  std::optional<int64_t> now_unix;
};

class Template {
 public:
  // Parses `source`; `name` prefixes error messages ("<name>: line 3: ...").
  explicit Template(const std::string& source, std::string name = "chat template");
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // `context` is a JSON object whose members become the template's variables (messages, tools,
  // add_generation_prompt, bos_token, eos_token, enable_thinking, ...). An absent member is undefined,
  // a null one is None: Hugging Face passes tools=None when there are none. It is an ordered_json
  // because dict order shows in the output: tojson prints tool schemas in their given key order.
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& opts = {}) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  struct Parsed;
  std::unique_ptr<Parsed> parsed_;
};

// What a Hugging Face model folder says about chat formatting.
struct HfChatConfig {
  std::string source;  // the chat template text
  std::string origin;  // where it came from, for error messages
  std::optional<std::string> bos_token, eos_token;
};

// Reads <folder>/tokenizer_config.json: `chat_template` as a string, or a list of {name, template} from
// which `template_name` is taken; falls back to <folder>/chat_template.jinja. bos_token/eos_token may
// be strings or AddedToken objects ({"content": ...}).
HfChatConfig load_hf_chat_config(const std::string& folder, const std::string& template_name = "default");

// The context Hugging Face's apply_chat_template builds: messages, tools (null when absent),
// add_generation_prompt, the special tokens that are set, and enable_thinking only when given.
nlohmann::ordered_json make_chat_context(const HfChatConfig& cfg, const nlohmann::ordered_json& messages,
                                 const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                 std::optional<bool> enable_thinking);

}  // namespace pj::chat
