// Tool calls are found in the output styles real models use, and the OpenAI request parser turns bad
// bodies into 400s naming the parameter.
#include "apps/server/openai_api.h"
#include "apps/server/tool_calls.h"

#include <gtest/gtest.h>

using namespace pj::server;
using nlohmann::json;

TEST(ToolCalls, HermesBlocks) {
  const auto r = parse_tool_calls(
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(json::parse(r.calls[0].arguments), json({{"city", "Paris"}}));
  EXPECT_EQ(r.calls[1].name, "get_time");
  EXPECT_EQ(r.calls[1].arguments, "{}");
  EXPECT_EQ(r.content, "Let me check.");
}

TEST(ToolCalls, UnterminatedHermesBlockAtTheEnd) {
  const auto r = parse_tool_calls("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(json::parse(r.calls[0].arguments)["x"], 1);
}

TEST(ToolCalls, Llama3JsonStyles) {
  auto r = parse_tool_calls("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(json::parse(r.calls[0].arguments)["city"], "Oslo");
  EXPECT_TRUE(r.content.empty());
  r = parse_tool_calls("<|python_tag|>{\"type\": \"function\", \"name\": \"f\", \"parameters\": {}}");
  ASSERT_EQ(r.calls.size(), 1u);
  r = parse_tool_calls("[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"arguments\": \"{\\\"k\\\": 2}\"}]");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(json::parse(r.calls[1].arguments)["k"], 2);  // arguments given as JSON text
}

TEST(ToolCalls, PlainTextAndBrokenJsonAreContent) {
  for (const char* t : {"The weather is nice.", "{\"name\": \"f\", \"arguments\": ", "{\"city\": \"Paris\"}",
                        "<tool_call>not json</tool_call>"}) {
    const auto r = parse_tool_calls(t);
    EXPECT_TRUE(r.calls.empty()) << t;
    EXPECT_FALSE(r.content.empty()) << t;
  }
}

TEST(ToolCalls, ForcedCallSchemaFixesTheName) {
  const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(R"([
    {"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}},
    {"type": "function", "function": {"name": "b"}}])");
  auto c = JsonConstraint::from_schema(tool_call_schema(tools, "a"), "tools");
  EXPECT_TRUE(c.can_feed(R"({"name": "a", "arguments": {"x": 3}})"));
  EXPECT_FALSE(c.can_feed(R"({"name": "b")"));
  EXPECT_FALSE(c.can_feed(R"({"name": "a", "arguments": {"x": "3")"));
  auto any = JsonConstraint::from_schema(tool_call_schema(tools, ""), "tools");
  EXPECT_TRUE(any.can_feed(R"({"name": "b", "arguments": {}})"));
}

namespace {
int status_of(const json& body, bool chat = true) {
  try {
    if (chat) parse_chat_request(body);
    else parse_completion_request(body);
  } catch (const ApiError& e) {
    return e.status;
  }
  return 200;
}
std::string param_of(const json& body) {
  try {
    parse_chat_request(body);
  } catch (const ApiError& e) {
    return e.param;
  }
  return "";
}
}  // namespace

TEST(OpenAiRequests, BadBodiesAre400sNamingTheParameter) {
  const json msgs = json::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(status_of({{"messages", msgs}}), 200);
  EXPECT_EQ(status_of(json::array()), 400);
  EXPECT_EQ(param_of({{"model", "m"}}), "messages");
  EXPECT_EQ(param_of({{"messages", json::array()}}), "messages");
  EXPECT_EQ(param_of({{"messages", msgs}, {"temperature", "hot"}}), "temperature");
  EXPECT_EQ(param_of({{"messages", msgs}, {"temperature", 3.5}}), "temperature");
  EXPECT_EQ(param_of({{"messages", msgs}, {"max_tokens", 0}}), "max_tokens");
  EXPECT_EQ(param_of({{"messages", msgs}, {"max_tokens", 1.5}}), "max_tokens");
  EXPECT_EQ(param_of({{"messages", msgs}, {"stop", {1, 2}}}), "stop");
  EXPECT_EQ(param_of({{"messages", msgs}, {"n", 2}}), "n");
  EXPECT_EQ(param_of({{"messages", {{{"role", "wizard"}, {"content", "x"}}}}}), "messages[0].role");
  EXPECT_EQ(param_of({{"messages", {{{"role", "user"}, {"content", 5}}}}}), "messages[0].content");
  EXPECT_EQ(param_of({{"messages", msgs}, {"tool_choice", "required"}}), "tool_choice");
  EXPECT_EQ(param_of({{"messages", msgs}, {"response_format", {{"type", "yaml"}}}}), "response_format.type");
  EXPECT_EQ(param_of({{"messages", msgs},
                      {"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "blob"}}}}}}}}),
            "response_format.json_schema.schema");
  EXPECT_EQ(status_of({{"prompt", 3}}, false), 400);
  EXPECT_EQ(status_of({{"prompt", "x"}}, false), 200);
  EXPECT_EQ(status_of({{"prompt", {1, 2, 3}}}, false), 200);
}

TEST(OpenAiRequests, MessagesAreNormalisedForTemplates) {
  const auto r = parse_chat_request(json::parse(R"({"messages": [
    {"role": "developer", "content": [{"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
      "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "42"}]})"));
  EXPECT_EQ(r.messages[0]["role"], "system");
  EXPECT_EQ(r.messages[0]["content"], "be brief");
  EXPECT_EQ(r.messages[1]["tool_calls"][0]["function"]["arguments"]["a"], 1);  // a mapping, as templates expect
  EXPECT_EQ(r.messages[2]["tool_call_id"], "c1");
}

TEST(OpenAiRequests, Base64MatchesTheStandardAlphabet) {
  // 1.0f = 00 00 80 3f -> "AACAPw==" (RFC 4648)
  EXPECT_EQ(base64_floats({1.0f}), "AACAPw==");
  EXPECT_EQ(base64_floats({1.0f, -2.0f}), "AACAPwAAAMA=");
}
