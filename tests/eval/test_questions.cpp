// The question formats: the built-in set's promises (140 questions, six categories of the sizes the
// issue names, every answer well-formed for its type), the example files of each external format, and
// clean errors for malformed input.
#include "apps/eval/prompt.h"
#include "apps/eval/question.h"
#include "core/base/error.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace pj::eval;

namespace {
const std::string kData = std::string(PJ_SOURCE_DIR) + "/data/eval/";

std::string error_of(const std::string& text, const std::string& name) {
  try {
    parse_questions(text, name);
  } catch (const pj::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Questions, BuiltinSetHasTheIssuesShape) {
  const QuestionSet set = load_questions(kData + "questions.json");
  ASSERT_EQ(set.questions.size(), 140u);
  std::map<std::string, int> per_cat;
  std::map<AnswerType, int> per_type;
  for (const auto& q : set.questions) ++per_cat[q.category], ++per_type[q.type];
  EXPECT_EQ(per_cat["knowledge"], 25);
  EXPECT_EQ(per_cat["common_sense"], 20);
  EXPECT_EQ(per_cat["math"], 25);
  EXPECT_EQ(per_cat["reasoning"], 20);
  EXPECT_EQ(per_cat["truthfulness"], 20);
  EXPECT_EQ(per_cat["tool_calling"], 30);
  EXPECT_EQ(per_cat.size(), 6u);
  // Both tool-calling variants are present.
  EXPECT_GE(per_type[AnswerType::tool_name], 10);
  EXPECT_GE(per_type[AnswerType::tool_args], 10);
  for (const auto& q : set.questions) {
    if (q.category == "math") {
      EXPECT_EQ(q.type, AnswerType::number) << q.id;
    }
    if (q.category == "tool_calling") {
      EXPECT_TRUE(q.type == AnswerType::tool_name || q.type == AnswerType::tool_args) << q.id;
    }
    if (q.type == AnswerType::choice) {
      // Correct options are spread over the letters, so a model that always says "A" scores low.
      EXPECT_LE(q.options.size(), 5u) << q.id;
    }
  }
  std::map<std::string, int> letters;
  for (const auto& q : set.questions)
    if (q.type == AnswerType::choice) ++letters[q.answer];
  int choice_total = 0, most = 0;
  for (const auto& [l, n] : letters) choice_total += n, most = std::max(most, n);
  EXPECT_LT(most, choice_total / 2) << "one letter is the answer to most choice questions";
}

TEST(Questions, PromptsSayWhatFormToAnswerIn) {
  const QuestionSet set = load_questions(kData + "questions.json");
  std::set<std::string> systems;
  for (const auto& q : set.questions) {
    const PromptMessages m = make_prompt(q);
    systems.insert(m.system.substr(0, m.system.find('\n')));
    switch (q.type) {
      case AnswerType::choice:
        EXPECT_NE(m.system.find("only the letter"), std::string::npos);
        EXPECT_NE(m.user.find("\nA. " + q.options[0]), std::string::npos);
        break;
      case AnswerType::number:
        EXPECT_NE(m.system.find("only the final number"), std::string::npos);
        EXPECT_NE(m.system.find("no units"), std::string::npos);
        break;
      case AnswerType::tool_name:
        EXPECT_NE(m.system.find("only the name"), std::string::npos);
        for (const auto& t : q.tools) EXPECT_NE(m.system.find(t["name"].get<std::string>()), std::string::npos);
        break;
      case AnswerType::tool_args:
        EXPECT_NE(m.system.find("only the JSON object of arguments"), std::string::npos);
        break;
      default:
        break;
    }
  }
  EXPECT_GE(systems.size(), 6u);  // a system prompt per category
}

TEST(Questions, MmluCsvExample) {
  const QuestionSet set = load_questions(kData + "mmlu_example.csv");
  ASSERT_EQ(set.questions.size(), 4u);
  const Question& q = set.questions[0];
  EXPECT_EQ(q.type, AnswerType::choice);
  EXPECT_EQ(q.category, "mmlu");
  EXPECT_EQ(q.id, "mmlu_example-1");
  ASSERT_EQ(q.options.size(), 4u);
  // A quoted field with a comma and a doubled quote.
  bool saw_quote = false;
  for (const auto& x : set.questions)
    for (const auto& o : x.options) saw_quote |= o.find('"') != std::string::npos && o.find(',') != std::string::npos;
  EXPECT_TRUE(saw_quote);
}

TEST(Questions, MmluJsonlExample) {
  const QuestionSet set = load_questions(kData + "mmlu_example.jsonl");
  ASSERT_GE(set.questions.size(), 3u);
  for (const auto& q : set.questions) {
    EXPECT_EQ(q.type, AnswerType::choice);
    EXPECT_EQ(q.options.size(), 4u);
    EXPECT_TRUE(q.answer == "A" || q.answer == "B" || q.answer == "C" || q.answer == "D");
  }
}

TEST(Questions, Gsm8kExample) {
  const QuestionSet set = load_questions(kData + "gsm8k_example.jsonl");
  ASSERT_GE(set.questions.size(), 3u);
  for (const auto& q : set.questions) {
    EXPECT_EQ(q.type, AnswerType::number);
    EXPECT_EQ(q.category, "gsm8k");
    EXPECT_EQ(q.answer.find(','), std::string::npos);  // thousands separators removed
  }
}

TEST(Questions, OurJsonlExample) {
  const QuestionSet set = load_questions(kData + "custom_example.jsonl");
  std::set<AnswerType> types;
  for (const auto& q : set.questions) types.insert(q.type);
  EXPECT_EQ(types.size(), 5u) << "the example shows every answer type";
}

TEST(Questions, FormatsFromText) {
  auto s = parse_questions(R"({"question":"2+2?","answer":"Add.\n#### 1,004"})", "g.jsonl");
  EXPECT_EQ(s.questions[0].answer, "1004");
  s = parse_questions(R"({"question":"Q","choices":["a","b","c","d"],"answer":2,"subject":"x"})", "m.jsonl");
  EXPECT_EQ(s.questions[0].answer, "C");
  s = parse_questions(R"({"prompt":"Weather?","tools":[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],"answer":{"city":"Oslo"}})",
                      "t.jsonl");
  EXPECT_EQ(s.questions[0].type, AnswerType::tool_args);
  EXPECT_EQ(s.questions[0].answer, R"({"city":"Oslo"})");
  s = parse_questions("\"What is 1+1, really?\",1,2,3,4,B\r\n", "x.csv");
  EXPECT_EQ(s.questions[0].prompt, "What is 1+1, really?");
  EXPECT_EQ(s.questions[0].options[1], "2");
}

TEST(Questions, MalformedInputNamesFileAndPlace) {
  auto has = [](const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; };
  std::string e = error_of("{\"prompt\":\"x\",\"answer\":\"1\"}\n{broken\n", "bad.jsonl");
  EXPECT_TRUE(has(e, "bad.jsonl") && has(e, "line 2") && has(e, "not JSON")) << e;
  e = error_of(R"({"questions":[{"id":"q1","prompt":"p","options":["x","y"],"answer":"C"}]})", "set.json");
  EXPECT_TRUE(has(e, "set.json") && has(e, "q1") && has(e, "not the letter")) << e;
  e = error_of(R"({"questions":[{"id":"q1","prompt":"p","type":"number","answer":"12 apples"}]})", "set.json");
  EXPECT_TRUE(has(e, "not a plain number")) << e;
  e = error_of(R"({"questions":[{"id":"a","prompt":"p","answer":"1"},{"id":"a","prompt":"q","answer":"2"}]})", "d.json");
  EXPECT_TRUE(has(e, "appears twice")) << e;
  e = error_of(R"({"questions":[{"id":"t","prompt":"p","tools":["nope"],"answer":"nope"}]})", "t.json");
  EXPECT_TRUE(has(e, "'nope' is not in the file")) << e;
  e = error_of(R"({"questions":[{"id":"t","prompt":"p","tools":[{"name":"f","parameters":{"properties":{"a":{}}}}],"answer":{"b":1}}]})", "t.json");
  EXPECT_TRUE(has(e, "argument 'b' is not a parameter")) << e;
  e = error_of("q,a,b,c\n", "short.csv");
  EXPECT_TRUE(has(e, "short.csv") && has(e, "line 1") && has(e, "6 fields")) << e;
  e = error_of("\"open,a,b,c,d,A\n", "q.csv");
  EXPECT_TRUE(has(e, "unterminated")) << e;
  e = error_of("{\"question\":\"x\",\"answer\":\"no marker\"}", "g.jsonl");
  EXPECT_TRUE(has(e, "####")) << e;
  e = error_of("[]", "empty.json");
  EXPECT_TRUE(has(e, "no questions")) << e;
  e = error_of("x", "q.txt");
  EXPECT_TRUE(has(e, "unknown question file type")) << e;
  EXPECT_THROW(load_questions("/nonexistent/q.json"), pj::Error);
}

TEST(Questions, SelectionTakesCategoriesInTurn) {
  const QuestionSet set = load_questions(kData + "questions.json");
  auto sel = select_questions(set.questions, {}, 12);
  ASSERT_EQ(sel.size(), 12u);
  std::map<std::string, int> per_cat;
  for (const auto& q : sel) ++per_cat[q.category];
  EXPECT_EQ(per_cat.size(), 6u);
  for (const auto& [c, n] : per_cat) EXPECT_EQ(n, 2) << c;
  sel = select_questions(set.questions, {"math", "reasoning"}, 0);
  EXPECT_EQ(sel.size(), 45u);
  EXPECT_EQ(select_questions(set.questions, {}, 0).size(), 140u);
  EXPECT_EQ(select_questions(set.questions, {}, 1000).size(), 140u);
  try {
    select_questions(set.questions, {"maths"}, 0);
    FAIL();
  } catch (const pj::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown category 'maths'"), std::string::npos);
  }
}
