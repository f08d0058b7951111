// The OpenAI request bodies, checked and turned into generation parameters, and the response objects.
// Every malformed or unsupported field is an ApiError 400 naming the parameter.
#pragma once

#include "apps/server/api_error.h"
#include "apps/server/engine.h"
#include "apps/server/tool_calls.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace pj::server {

// What a chat or completion request asks for, before the model is known.
struct CompletionRequest {
  std::string model;
  bool chat = true;
  bool stream = false, include_usage = false;
  nlohmann::ordered_json messages;  // chat: normalised for chat templates
  std::string prompt;               // completions: the text
  std::vector<int32_t> prompt_tokens;  // completions: given as token ids
  bool echo = false;
  llm::SamplerParams sampling;
  std::optional<int> max_tokens;
  std::vector<std::string> stop;
  nlohmann::ordered_json tools;   // null when none are usable
  std::string tool_choice = "auto";  // none | auto | required | function
  std::string forced_tool;           // tool_choice {"type":"function","function":{"name": ...}}
  std::string response_format = "text";  // text | json_object | json_schema
  nlohmann::json schema;
};

CompletionRequest parse_chat_request(const nlohmann::json& body);
CompletionRequest parse_completion_request(const nlohmann::json& body);

// The prompt tokens and generation parameters for `m`; ApiError 400 when the prompt and max_tokens do
// not fit the context.
GenParams prepare(const CompletionRequest& r, const LoadedModel& m, int64_t n_ctx);

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> token_inputs;  // used instead of texts when given as ids
  bool base64 = false;
  int dimensions = 0;  // 0: all
};
EmbeddingRequest parse_embedding_request(const nlohmann::json& body);

// Responses. `id` is the completion id; `created` the Unix time.
nlohmann::json usage_json(const GenResult& g);
nlohmann::json chat_response(const CompletionRequest& r, const std::string& id, int64_t created,
                             const std::string& model, const GenResult& g);
nlohmann::json chat_chunk(const std::string& id, int64_t created, const std::string& model,
                          const nlohmann::json& delta, const nlohmann::json& finish_reason);
nlohmann::json completion_response(const CompletionRequest& r, const std::string& id, int64_t created,
                                   const std::string& model, const GenResult& g);
nlohmann::json completion_chunk(const std::string& id, int64_t created, const std::string& model,
                                 const std::string& text, const nlohmann::json& finish_reason);
// The tool calls of a reply as OpenAI's message.tool_calls (ids "call_<n>").
nlohmann::json tool_calls_json(const std::vector<ToolCall>& calls, const std::string& id_prefix);

// Little-endian float32 bytes, base64-encoded (encoding_format "base64").
std::string base64_floats(const std::vector<float>& v);

}  // namespace pj::server
