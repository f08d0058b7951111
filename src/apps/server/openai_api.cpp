#include "apps/server/openai_api.h"

#include "core/base/error.h"

#include <cmath>
#include <cstring>
#include <random>

namespace pj::server {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

void require_object(const json& body) {
  if (!body.is_object()) throw bad_param("", std::string("the request body must be a JSON object, not ") + type_name(body));
}

// Optional members: absent or null -> unchanged; wrong type or out of range -> 400.
void opt_number(const json& b, const char* key, float& out, double lo, double hi) {
  if (!b.contains(key) || b[key].is_null()) return;
  const json& v = b[key];
  if (!v.is_number()) throw bad_param(key, fmt::format("'{}' must be a number, not {}", key, type_name(v)));
  const double d = v.get<double>();
  if (!(d >= lo && d <= hi)) throw bad_param(key, fmt::format("'{}' must be between {} and {}, not {}", key, lo, hi, d));
  out = float(d);
}

std::optional<int64_t> opt_int(const json& b, const char* key, int64_t lo, int64_t hi) {
  if (!b.contains(key) || b[key].is_null()) return std::nullopt;
  const json& v = b[key];
  if (!v.is_number_integer()) throw bad_param(key, fmt::format("'{}' must be an integer, not {}", key, type_name(v)));
  const int64_t i = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
  if (i < lo || i > hi) throw bad_param(key, fmt::format("'{}' must be between {} and {}, not {}", key, lo, hi, i));
  return i;
}

bool opt_bool(const json& b, const char* key, bool fallback) {
  if (!b.contains(key) || b[key].is_null()) return fallback;
  if (!b[key].is_boolean()) throw bad_param(key, fmt::format("'{}' must be a boolean, not {}", key, type_name(b[key])));
  return b[key].get<bool>();
}

std::string opt_string(const json& b, const char* key) {
  if (!b.contains(key) || b[key].is_null()) return {};
  if (!b[key].is_string()) throw bad_param(key, fmt::format("'{}' must be a string, not {}", key, type_name(b[key])));
  return b[key].get<std::string>();
}

// The fields both endpoints share: model, stream, sampling, max_tokens, stop, seed, n.
void parse_common(const json& b, CompletionRequest& r) {
  r.model = opt_string(b, "model");
  r.stream = opt_bool(b, "stream", false);
  if (b.contains("stream_options") && b["stream_options"].is_object())
    r.include_usage = opt_bool(b["stream_options"], "include_usage", false);
  // Defaults: temperature 0.8 (llama.cpp's; OpenAI's 1.0 is too loose for small local models).
  r.sampling.temperature = 0.8f;
  opt_number(b, "temperature", r.sampling.temperature, 0.0, 2.0);
  opt_number(b, "top_p", r.sampling.top_p, 0.0, 1.0);
  opt_number(b, "min_p", r.sampling.min_p, 0.0, 1.0);
  opt_number(b, "presence_penalty", r.sampling.presence_penalty, -2.0, 2.0);
  opt_number(b, "frequency_penalty", r.sampling.frequency_penalty, -2.0, 2.0);
  opt_number(b, "repeat_penalty", r.sampling.repeat_penalty, 0.0, 10.0);
  if (auto k = opt_int(b, "top_k", 0, 1 << 24)) r.sampling.top_k = int(*k);
  if (auto s = opt_int(b, "seed", INT64_MIN, INT64_MAX)) r.sampling.seed = uint64_t(*s);
  else r.sampling.seed = std::random_device{}();
  if (auto n = opt_int(b, "n", 1, 128); n && *n != 1) throw bad_param("n", "only n=1 is supported");
  for (const char* k : {"max_completion_tokens", "max_tokens"})
    if (auto m = opt_int(b, k, 1, 1 << 24)) r.max_tokens = int(*m);
  if (b.contains("stop") && !b["stop"].is_null()) {
    const json& s = b["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array() && s.size() <= 4) {
      for (const auto& x : s) {
        if (!x.is_string()) throw bad_param("stop", "'stop' must be a string or a list of up to 4 strings");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      throw bad_param("stop", "'stop' must be a string or a list of up to 4 strings");
    }
  }
  if (opt_bool(b, "logprobs", false)) throw bad_param("logprobs", "logprobs are not supported");
}

// OpenAI content: a string, null, or a list of parts of which only text is supported here.
std::string content_text(const json& c, const std::string& param) {
  if (c.is_null()) return {};
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) throw bad_param(param, fmt::format("'{}' must be a string or a list of content parts", param));
  std::string out;
  for (const auto& part : c) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw bad_param(param, "each content part must be an object with a 'type'");
    const std::string t = part["type"].get<std::string>();
    if (t != "text") throw bad_param(param, "content parts of type '" + t + "' are not supported by this model");
    if (!part.contains("text") || !part["text"].is_string()) throw bad_param(param, "a text part needs 'text' as a string");
    out += part["text"].get<std::string>();
  }
  return out;
}

}  // namespace

CompletionRequest parse_chat_request(const json& b) {
  require_object(b);
  CompletionRequest r;
  r.chat = true;
  parse_common(b, r);
  if (!b.contains("messages")) throw bad_param("messages", "'messages' is required");
  const json& msgs = b["messages"];
  if (!msgs.is_array() || msgs.empty()) throw bad_param("messages", "'messages' must be a non-empty array");
  r.messages = ojson::array();
  for (size_t i = 0; i < msgs.size(); ++i) {
    const std::string p = fmt::format("messages[{}]", i);
    const json& m = msgs[i];
    if (!m.is_object()) throw bad_param(p, p + " must be an object");
    const std::string role = opt_string(m, "role");
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
      throw bad_param(p + ".role", fmt::format("{}.role must be one of system, developer, user, assistant, tool; got '{}'", p, role));
    ojson out = {{"role", role == "developer" ? "system" : role},
                 {"content", content_text(m.contains("content") ? m["content"] : json(nullptr), p + ".content")}};
    if (role == "tool") {
      if (m.contains("tool_call_id")) out["tool_call_id"] = opt_string(m, "tool_call_id");
      if (m.contains("name")) out["name"] = opt_string(m, "name");
    }
    if (role == "assistant" && m.contains("tool_calls") && !m["tool_calls"].is_null()) {
      if (!m["tool_calls"].is_array()) throw bad_param(p + ".tool_calls", "'tool_calls' must be an array");
      ojson calls = ojson::array();
      for (const auto& c : m["tool_calls"]) {
        if (!c.is_object() || !c.contains("function") || !c["function"].is_object())
          throw bad_param(p + ".tool_calls", "each tool call needs a 'function' object");
        const json& fn = c["function"];
        // templates expect arguments as a mapping; OpenAI sends them as JSON text
        ojson args = ojson::object();
        if (fn.contains("arguments") && fn["arguments"].is_string()) {
          args = ojson::parse(fn["arguments"].get<std::string>(), nullptr, false);
          if (args.is_discarded()) args = fn["arguments"].get<std::string>();
        }
        calls.push_back({{"id", c.value("id", "")}, {"type", "function"},
                         {"function", {{"name", opt_string(fn, "name")}, {"arguments", args}}}});
      }
      out["tool_calls"] = calls;
    }
    r.messages.push_back(out);
  }

  r.tools = nullptr;
  if (b.contains("tools") && !b["tools"].is_null()) {
    const json& t = b["tools"];
    if (!t.is_array()) throw bad_param("tools", "'tools' must be an array");
    r.tools = ojson::array();
    for (size_t i = 0; i < t.size(); ++i) {
      const std::string p = fmt::format("tools[{}]", i);
      if (!t[i].is_object() || opt_string(t[i], "type") != "function" || !t[i].contains("function") ||
          !t[i]["function"].is_object())
        throw bad_param(p, p + " must be {\"type\": \"function\", \"function\": {...}}");
      const json& fn = t[i]["function"];
      if (opt_string(fn, "name").empty()) throw bad_param(p + ".function.name", "a function needs a name");
      if (fn.contains("parameters") && !fn["parameters"].is_object())
        throw bad_param(p + ".function.parameters", "'parameters' must be a JSON Schema object");
      r.tools.push_back(ojson::parse(t[i].dump()));
    }
    if (r.tools.empty()) r.tools = nullptr;
  }
  if (b.contains("tool_choice") && !b["tool_choice"].is_null()) {
    const json& c = b["tool_choice"];
    if (c.is_string()) {
      r.tool_choice = c.get<std::string>();
      if (r.tool_choice != "none" && r.tool_choice != "auto" && r.tool_choice != "required")
        throw bad_param("tool_choice", "'tool_choice' must be none, auto, required or a function");
    } else if (c.is_object() && c.contains("function") && c["function"].is_object()) {
      r.tool_choice = "function";
      r.forced_tool = opt_string(c["function"], "name");
    } else {
      throw bad_param("tool_choice", "'tool_choice' must be none, auto, required or a function");
    }
    if (r.tool_choice != "none" && r.tool_choice != "auto" && r.tools.is_null())
      throw bad_param("tool_choice", "'tool_choice' asks for a tool call but no 'tools' are given");
    if (r.tool_choice == "function") {
      bool found = false;
      for (const auto& t : r.tools) found = found || t["function"]["name"] == r.forced_tool;
      if (!found) throw bad_param("tool_choice", "'tool_choice' names a function that is not in 'tools'");
    }
  }
  if (r.tool_choice == "none") r.tools = nullptr;

  if (b.contains("response_format") && !b["response_format"].is_null()) {
    const json& f = b["response_format"];
    if (!f.is_object()) throw bad_param("response_format", "'response_format' must be an object");
    r.response_format = opt_string(f, "type");
    if (r.response_format == "json_schema") {
      if (!f.contains("json_schema") || !f["json_schema"].is_object())
        throw bad_param("response_format.json_schema", "'json_schema' must be an object with a 'schema'");
      const json& js = f["json_schema"];
      r.schema = js.contains("schema") ? js["schema"] : json::object();
      try {
        (void)JsonConstraint::from_schema(r.schema, "response_format.json_schema.schema");
      } catch (const Error& e) {
        throw bad_param("response_format.json_schema.schema", e.what());
      }
    } else if (r.response_format != "text" && r.response_format != "json_object") {
      throw bad_param("response_format.type", "'response_format.type' must be text, json_object or json_schema");
    }
  }
  return r;
}

CompletionRequest parse_completion_request(const json& b) {
  require_object(b);
  CompletionRequest r;
  r.chat = false;
  parse_common(b, r);
  if (!r.max_tokens) r.max_tokens = 16;  // OpenAI's default for /v1/completions
  r.echo = opt_bool(b, "echo", false);
  if (!b.contains("prompt")) throw bad_param("prompt", "'prompt' is required");
  const json& p = b["prompt"];
  auto tokens = [&](const json& a) {
    for (const auto& x : a) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
        throw bad_param("prompt", "a token prompt must be a list of non-negative integers");
      r.prompt_tokens.push_back(int32_t(x.get<int64_t>()));
    }
  };
  if (p.is_string()) r.prompt = p.get<std::string>();
  else if (p.is_array() && p.size() == 1 && p[0].is_string()) r.prompt = p[0].get<std::string>();
  else if (p.is_array() && p.size() == 1 && p[0].is_array()) tokens(p[0]);
  else if (p.is_array() && !p.empty() && p[0].is_number()) tokens(p);
  else throw bad_param("prompt", "'prompt' must be a string or a list of token ids (one prompt per request)");
  if (r.prompt.empty() && r.prompt_tokens.empty()) throw bad_param("prompt", "'prompt' is empty");
  return r;
}

GenParams prepare(const CompletionRequest& r, const LoadedModel& m, int64_t n_ctx) {
  GenParams g;
  g.sampling = r.sampling;
  g.stop = r.stop;
  const auto& sp = m.tok->spec();
  auto encode = [&](const std::string& text, bool special) {
    std::vector<int> ids = m.tok->encode(text, special, false);
    if (sp.add_bos && sp.bos_id >= 0 && (ids.empty() || ids.front() != sp.bos_id)) ids.insert(ids.begin(), sp.bos_id);
    return std::vector<int32_t>(ids.begin(), ids.end());
  };
  if (!r.chat) {
    if (!r.prompt_tokens.empty()) {
      for (int32_t t : r.prompt_tokens)
        if (t >= m.tok->n_vocab()) throw bad_param("prompt", fmt::format("token id {} is outside the vocabulary (0..{})", t, m.tok->n_vocab() - 1));
      g.prompt = r.prompt_tokens;
    } else {
      g.prompt = encode(r.prompt, false);
    }
  } else {
    ojson messages = r.messages;
    const bool tools_on = !r.tools.is_null();
    if (tools_on && !m.template_renders_tools) {
      // the template cannot show tools: describe them in the system message ourselves
      const std::string desc = tools_system_prompt(r.tools);
      if (!messages.empty() && messages[0]["role"] == "system")
        messages[0]["content"] = messages[0]["content"].get<std::string>() + "\n\n" + desc;
      else
        messages.insert(messages.begin(), ojson{{"role", "system"}, {"content", desc}});
    }
    std::string text;
    if (m.tmpl) {
      ojson ctx = {{"messages", messages}, {"add_generation_prompt", true},
                   {"tools", tools_on && m.template_renders_tools ? r.tools : ojson(nullptr)}};
      if (sp.bos_id >= 0) ctx["bos_token"] = std::string(m.tok->token(sp.bos_id));
      if (sp.eos_id >= 0) ctx["eos_token"] = std::string(m.tok->token(sp.eos_id));
      try {
        text = m.tmpl->render(ctx);
      } catch (const Error& e) {
        throw bad_param("messages", std::string("the model's chat template rejected the conversation: ") + e.what());
      }
    } else {
      for (const auto& msg : messages)
        text += "<|im_start|>" + msg["role"].get<std::string>() + "\n" + msg["content"].get<std::string>() + "<|im_end|>\n";
      text += "<|im_start|>assistant\n";
    }
    const bool forced = tools_on && (r.tool_choice == "required" || r.tool_choice == "function");
    if (forced) {
      // Hermes-style models open a call with <tool_call>; start it for them and constrain the JSON
      if (m.tmpl && m.template_renders_tools && m.tok->find_token("<tool_call>") >= 0)
        text += "<tool_call>\n";
      g.constraint = JsonConstraint::from_schema(tool_call_schema(r.tools, r.forced_tool), "tools");
    } else if (r.response_format == "json_object") {
      g.constraint = JsonConstraint::any_object();
    } else if (r.response_format == "json_schema") {
      g.constraint = JsonConstraint::from_schema(r.schema, "response_format.json_schema.schema");
    }
    g.prompt = encode(text, true);
  }
  const int64_t n_prompt = int64_t(g.prompt.size());
  if (n_prompt >= n_ctx)
    throw ApiError(400, fmt::format("This model's maximum context length is {} tokens. However, your messages resulted in {} tokens.",
                                    n_ctx, n_prompt), "invalid_request_error", r.chat ? "messages" : "prompt",
                   "context_length_exceeded");
  if (r.max_tokens && n_prompt + *r.max_tokens > n_ctx)
    throw ApiError(400, fmt::format("This model's maximum context length is {} tokens. However, you requested {} tokens "
                                    "({} in the prompt, {} for the completion).",
                                    n_ctx, n_prompt + *r.max_tokens, n_prompt, *r.max_tokens),
                   "invalid_request_error", "max_tokens", "context_length_exceeded");
  g.max_tokens = r.max_tokens ? *r.max_tokens : int(n_ctx - n_prompt);
  return g;
}

EmbeddingRequest parse_embedding_request(const json& b) {
  require_object(b);
  EmbeddingRequest r;
  r.model = opt_string(b, "model");
  const std::string fmt_ = opt_string(b, "encoding_format");
  if (!fmt_.empty() && fmt_ != "float" && fmt_ != "base64")
    throw bad_param("encoding_format", "'encoding_format' must be float or base64");
  r.base64 = fmt_ == "base64";
  if (auto d = opt_int(b, "dimensions", 1, 1 << 20)) r.dimensions = int(*d);
  if (!b.contains("input")) throw bad_param("input", "'input' is required");
  const json& in = b["input"];
  auto ids = [&](const json& a) {
    std::vector<int32_t> v;
    for (const auto& x : a) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
        throw bad_param("input", "token inputs must be lists of non-negative integers");
      v.push_back(int32_t(x.get<int64_t>()));
    }
    if (v.empty()) throw bad_param("input", "an input is empty");
    return v;
  };
  if (in.is_string()) {
    r.texts.push_back(in.get<std::string>());
  } else if (in.is_array() && !in.empty() && in[0].is_string()) {
    for (const auto& x : in) {
      if (!x.is_string()) throw bad_param("input", "'input' must be a string, a list of strings or token lists");
      r.texts.push_back(x.get<std::string>());
    }
  } else if (in.is_array() && !in.empty() && in[0].is_number()) {
    r.token_inputs.push_back(ids(in));
  } else if (in.is_array() && !in.empty() && in[0].is_array()) {
    for (const auto& x : in) {
      if (!x.is_array()) throw bad_param("input", "'input' must be a string, a list of strings or token lists");
      r.token_inputs.push_back(ids(x));
    }
  } else {
    throw bad_param("input", "'input' must be a non-empty string, list of strings or token lists");
  }
  for (const auto& t : r.texts)
    if (t.empty()) throw bad_param("input", "an input is empty");
  if (r.texts.size() + r.token_inputs.size() > 2048) throw bad_param("input", "at most 2048 inputs per request");
  return r;
}

json usage_json(const GenResult& g) {
  return {{"prompt_tokens", g.n_prompt},
          {"completion_tokens", g.n_generated},
          {"total_tokens", g.n_prompt + g.n_generated},
          {"prompt_tokens_details", {{"cached_tokens", g.n_cached}}}};
}

json tool_calls_json(const std::vector<ToolCall>& calls, const std::string& id_prefix) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i)
    out.push_back({{"id", id_prefix + std::to_string(i)}, {"type", "function"},
                   {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}});
  return out;
}

json chat_response(const CompletionRequest& r, const std::string& id, int64_t created, const std::string& model,
                   const GenResult& g) {
  json msg = {{"role", "assistant"}, {"content", g.text}};
  std::string finish = g.finish_reason;
  if (!r.tools.is_null()) {
    ParsedReply p = parse_tool_calls(g.text);
    if (!p.calls.empty()) {
      msg["content"] = p.content.empty() ? json(nullptr) : json(p.content);
      msg["tool_calls"] = tool_calls_json(p.calls, "call_" + id.substr(id.size() > 8 ? id.size() - 8 : 0) + "_");
      finish = "tool_calls";
    }
  }
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"system_fingerprint", "pajamas"},
          {"choices", json::array({{{"index", 0}, {"message", msg}, {"logprobs", nullptr}, {"finish_reason", finish}}})},
          {"usage", usage_json(g)}};
}

json chat_chunk(const std::string& id, int64_t created, const std::string& model, const json& delta,
                const json& finish_reason) {
  return {{"id", id},
          {"object", "chat.completion.chunk"},
          {"created", created},
          {"model", model},
          {"system_fingerprint", "pajamas"},
          {"choices", json::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish_reason}}})}};
}

json completion_response(const CompletionRequest& r, const std::string& id, int64_t created, const std::string& model,
                         const GenResult& g) {
  const std::string text = (r.echo ? r.prompt : std::string()) + g.text;
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", g.finish_reason}}})},
          {"usage", usage_json(g)}};
}

json completion_chunk(const std::string& id, int64_t created, const std::string& model, const std::string& text,
                      const json& finish_reason) {
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish_reason}}})}};
}

std::string base64_floats(const std::vector<float>& v) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(v.size() * 4, '\0');
  std::memcpy(bytes.data(), v.data(), bytes.size());  // x86-64 is little-endian, as the format wants
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) n |= uint32_t(uint8_t(bytes[i + 2]));
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += i + 1 < bytes.size() ? kAlphabet[n >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

}  // namespace pj::server
