// The matching rules, with the examples from the issue: "A" is right; "A.", "A) Because", "The answer
// is A" are wrong in strict mode (and right in lenient mode, which is what lenient scoring flatters).
#include "apps/eval/match.h"

#include <gtest/gtest.h>

using namespace pj::eval;

namespace {

Question choice(const std::string& answer = "A") {
  Question q;
  q.id = "c";
  q.type = AnswerType::choice;
  q.prompt = "?";
  q.options = {"one", "two", "three", "four"};
  q.answer = answer;
  return q;
}

Question number(const std::string& answer) {
  Question q;
  q.id = "n";
  q.type = AnswerType::number;
  q.prompt = "?";
  q.answer = answer;
  return q;
}

bool strict(const Question& q, const std::string& reply) { return strict_match(q, strip_reasoning(reply)); }
bool lenient(const Question& q, const std::string& reply) { return lenient_match(q, strip_reasoning(reply)); }

}  // namespace

TEST(Match, SeedExamplesStrict) {
  const Question q = choice("A");
  EXPECT_TRUE(strict(q, "A"));
  EXPECT_TRUE(strict(q, "  A\n"));  // surrounding whitespace is trimmed
  EXPECT_FALSE(strict(q, "A."));
  EXPECT_FALSE(strict(q, "A) Because the sky is blue"));
  EXPECT_FALSE(strict(q, "The answer is A"));
  EXPECT_FALSE(strict(q, "a"));
  EXPECT_FALSE(strict(q, "B"));
  EXPECT_FALSE(strict(q, ""));
}

TEST(Match, SeedExamplesLenient) {
  const Question q = choice("A");
  EXPECT_TRUE(lenient(q, "A"));
  EXPECT_TRUE(lenient(q, "A."));
  EXPECT_TRUE(lenient(q, "A) Because the sky is blue"));
  EXPECT_TRUE(lenient(q, "The answer is A"));
  EXPECT_FALSE(lenient(q, "The answer is B"));  // "answer" holds an 'a', but not a standalone capital A
  EXPECT_FALSE(lenient(q, "AB"));
}

TEST(Match, CompleteThinkBlockIsCut) {
  const Question q = choice("C");
  EXPECT_EQ(strip_reasoning("<think>A or B? Neither.</think>C"), "C");
  EXPECT_TRUE(strict(q, "<think>A or B? Neither.</think>\n\nC"));
  EXPECT_TRUE(strict(q, "<think>one</think><think>two</think> C "));
  EXPECT_FALSE(strict(q, "<think>x</think>C.<think>y</think>"));  // "C." after cutting both
  EXPECT_EQ(strip_reasoning("<think>x</think>C<think>y</think>"), "C");
  // The answer inside the reasoning does not count, not even leniently.
  EXPECT_FALSE(lenient(q, "<think>It is C</think>D"));
}

TEST(Match, TruncatedThinkBlockIsCutToTheEnd) {
  const Question q = choice("A");
  EXPECT_EQ(strip_reasoning("<think>The answer is A, because"), "");
  EXPECT_FALSE(strict(q, "<think>The answer is A, because"));
  EXPECT_FALSE(lenient(q, "<think>The answer is A, because"));
  EXPECT_EQ(strip_reasoning("<think>done</think>A <think>more"), "A");
  EXPECT_TRUE(strict(q, "<think>done</think>A <think>more"));
}

TEST(Match, ThinkBlockOpenedByTheTemplate) {
  // The chat template put "<think>" into the prompt: the reply only closes it.
  EXPECT_EQ(strip_reasoning("reasoning about B and A</think>\nA"), "A");
  EXPECT_TRUE(strict(choice("A"), "reasoning</think>A"));
}

TEST(Match, Numbers) {
  const Question q = number("42");
  EXPECT_TRUE(strict(q, "42"));
  EXPECT_FALSE(strict(q, "42."));
  EXPECT_FALSE(strict(q, "42.0"));
  EXPECT_FALSE(strict(q, "$42"));
  EXPECT_FALSE(strict(q, "42 apples"));
  EXPECT_TRUE(lenient(q, "42 apples"));
  EXPECT_TRUE(lenient(q, "The total is 42."));
  EXPECT_FALSE(lenient(q, "142"));
  EXPECT_FALSE(lenient(q, "4.2"));
  EXPECT_FALSE(lenient(q, "42.5"));
  EXPECT_FALSE(lenient(q, "-42"));
  const Question k = number("1000");
  EXPECT_FALSE(strict(k, "1,000"));
  EXPECT_TRUE(lenient(k, "It costs 1,000 dollars"));
  const Question neg = number("-7");
  EXPECT_TRUE(strict(neg, "-7"));
  EXPECT_TRUE(lenient(neg, "x = -7"));
  EXPECT_FALSE(lenient(number("7"), "x = -7"));
}

TEST(Match, ToolName) {
  Question q;
  q.type = AnswerType::tool_name;
  q.answer = "get_weather";
  EXPECT_TRUE(strict(q, "get_weather"));
  EXPECT_FALSE(strict(q, "get_weather()"));
  EXPECT_FALSE(strict(q, "`get_weather`"));
  EXPECT_FALSE(strict(q, "Get_Weather"));
  EXPECT_TRUE(lenient(q, "I would call `get_weather`."));
  EXPECT_TRUE(lenient(q, "GET_WEATHER"));
  EXPECT_FALSE(lenient(q, "get_weather_forecast"));  // another function's name
}

TEST(Match, ToolArguments) {
  Question q;
  q.type = AnswerType::tool_args;
  q.answer = R"({"city":"Paris","days":3})";
  EXPECT_TRUE(strict(q, R"({"city": "Paris", "days": 3})"));
  EXPECT_TRUE(strict(q, R"({"days":3,"city":"Paris"})"));  // key order is free
  EXPECT_FALSE(strict(q, R"({"city":"Paris","days":"3"})"));  // types are not
  EXPECT_FALSE(strict(q, R"({"city":"paris","days":3})"));
  EXPECT_FALSE(strict(q, R"({"city":"Paris"})"));
  EXPECT_FALSE(strict(q, R"({"city":"Paris","days":3,"unit":"C"})"));
  EXPECT_FALSE(strict(q, "```json\n{\"city\":\"Paris\",\"days\":3}\n```"));
  EXPECT_FALSE(strict(q, R"(get_weather({"city":"Paris","days":3}))"));
  EXPECT_TRUE(lenient(q, "```json\n{\"city\":\"Paris\",\"days\":3}\n```"));
  EXPECT_TRUE(lenient(q, R"(Arguments: {"city": "Paris", "days": 3} as asked)"));
  EXPECT_FALSE(lenient(q, R"({"city": "Paris", "days": 4})"));
  EXPECT_FALSE(lenient(q, "{not json"));
}

TEST(Match, Text) {
  Question q;
  q.type = AnswerType::text;
  q.answer = "Paris";
  EXPECT_TRUE(strict(q, "Paris"));
  EXPECT_FALSE(strict(q, "Paris."));
  EXPECT_FALSE(strict(q, "paris"));
  EXPECT_TRUE(lenient(q, "It is paris."));
  EXPECT_FALSE(lenient(q, "Parisian"));
}
