#include "apps/server/tool_calls.h"

namespace pj::server {

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return {};
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

// {"name": ..., "arguments" | "parameters": {...} | "<json text>"} -> a call; false if it is not one.
bool to_call(const nlohmann::json& j, ToolCall& out) {
  if (!j.is_object()) return false;
  const nlohmann::json* fn = &j;
  if (j.contains("function") && j["function"].is_object()) fn = &j["function"];  // {"type":"function","function":{..}}
  if (!fn->contains("name") || !(*fn)["name"].is_string()) return false;
  out.name = (*fn)["name"].get<std::string>();
  nlohmann::json args = nlohmann::json::object();
  for (const char* k : {"arguments", "parameters"})
    if (fn->contains(k)) args = (*fn)[k];
  if (args.is_string()) {
    // some models write the arguments as a JSON string; pass it on when it holds an object
    auto inner = nlohmann::json::parse(args.get<std::string>(), nullptr, false);
    args = inner.is_object() ? inner : nlohmann::json::object();
  }
  if (!args.is_object()) return false;
  out.arguments = args.dump();
  return true;
}

bool parse_call_list(const std::string& text, std::vector<ToolCall>& calls) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return false;
  std::vector<ToolCall> found;
  if (j.is_array()) {
    for (const auto& e : j) {
      ToolCall c;
      if (!to_call(e, c)) return false;
      found.push_back(std::move(c));
    }
  } else {
    ToolCall c;
    if (!to_call(j, c)) return false;
    found.push_back(std::move(c));
  }
  if (found.empty()) return false;
  calls = std::move(found);
  return true;
}

}  // namespace

ParsedReply parse_tool_calls(const std::string& text) {
  ParsedReply r;
  const std::string open = "<tool_call>", close = "</tool_call>";
  if (text.find(open) != std::string::npos) {
    std::string rest;
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t a = text.find(open, pos);
      if (a == std::string::npos) {
        rest += text.substr(pos);
        break;
      }
      rest += text.substr(pos, a - pos);
      const size_t body = a + open.size();
      size_t b = text.find(close, body);
      const std::string inner = trim(text.substr(body, b == std::string::npos ? std::string::npos : b - body));
      std::vector<ToolCall> calls;
      if (parse_call_list(inner, calls)) {
        for (auto& c : calls) r.calls.push_back(std::move(c));
      } else {
        rest += text.substr(a, b == std::string::npos ? std::string::npos : b + close.size() - a);
      }
      pos = b == std::string::npos ? text.size() : b + close.size();
    }
    r.content = trim(rest);
    return r;
  }
  std::string t = trim(text);
  for (const char* prefix : {"<|python_tag|>", "[TOOL_CALLS]"})
    if (t.rfind(prefix, 0) == 0) t = trim(t.substr(std::char_traits<char>::length(prefix)));
  if (!t.empty() && (t.front() == '{' || t.front() == '[') && parse_call_list(t, r.calls)) return r;
  r.content = trim(text);
  return r;
}

std::string tools_system_prompt(const nlohmann::ordered_json& tools) {
  std::string s =
      "You may call one or more functions to assist with the user query. The function signatures are "
      "inside <tools></tools> XML tags:\n<tools>";
  for (const auto& t : tools) s += "\n" + t.dump();
  s += "\n</tools>\n\nFor each function call, return a JSON object with the function name and arguments "
       "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
       "<args-json-object>}\n</tool_call>";
  return s;
}

nlohmann::json tool_call_schema(const nlohmann::ordered_json& tools, const std::string& only_) {
  // with one tool, "required" means that one: its parameters apply
  const std::string only = only_.empty() && tools.size() == 1 ? tools[0]["function"]["name"].get<std::string>() : only_;
  nlohmann::json names = nlohmann::json::array();
  nlohmann::json params = {{"type", "object"}};
  for (const auto& t : tools) {
    const auto& fn = t["function"];
    const std::string name = fn["name"].get<std::string>();
    if (!only.empty() && name != only) continue;
    names.push_back(name);
    if (!only.empty() && fn.contains("parameters")) params = nlohmann::json::parse(fn["parameters"].dump());
  }
  nlohmann::json schema = {{"type", "object"},
                           {"properties", {{"name", {{"enum", names}}}, {"arguments", params}}},
                           {"required", {"name", "arguments"}},
                           {"additionalProperties", false}};
  // $refs in the parameters point at the parameters' own root: move their definitions to ours
  for (const char* defs : {"$defs", "definitions"})
    if (params.is_object() && params.contains(defs)) schema[defs] = params[defs];
  return schema;
}

}  // namespace pj::server
