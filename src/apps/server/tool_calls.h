// Function calling: turning OpenAI `tools` into what a chat template expects, and finding the calls a
// model wrote in its output. Two output styles are recognised:
//   Hermes / Qwen:  <tool_call>{"name": "f", "arguments": {...}}</tool_call>   (one block per call)
//   Llama 3:        {"name": "f", "parameters": {...}}  as the whole reply (optionally after
//                   <|python_tag|>), or a JSON list of such objects; Mistral's [TOOL_CALLS] [...] too.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace pj::server {

struct ToolCall {
  std::string name;
  std::string arguments;  // a JSON object as text, as OpenAI returns it
};

struct ParsedReply {
  std::string content;  // the text outside the calls, trimmed
  std::vector<ToolCall> calls;
};

ParsedReply parse_tool_calls(const std::string& text);

// A system-prompt paragraph describing `tools` in the Hermes format, for templates that do not render
// tools themselves.
std::string tools_system_prompt(const nlohmann::ordered_json& tools);

// The schema a forced call must match: {"name": one of the tools (or `only`), "arguments": that tool's
// parameters schema when the name is fixed (by `only`, or because there is one tool), else any object}.
nlohmann::json tool_call_schema(const nlohmann::ordered_json& tools, const std::string& only);

}  // namespace pj::server
