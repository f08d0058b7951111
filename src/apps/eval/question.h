// Question sets for `pajamas evaluate`: the built-in set (data/eval/questions.json), our JSONL format,
// and the MMLU and GSM8K layouts, all turned into one Question type whose `answer` is the exact text a
// strictly correct reply must be (docs/evaluation.md describes every format).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace pj::eval {

// What kind of reply a question wants; it picks the system prompt and how a reply is compared.
enum class AnswerType {
  choice,     // one capital letter naming an option (A, B, C, ...)
  number,     // a number written plainly: digits, optional minus sign and decimal point
  text,       // a short exact string (a word or a name)
  tool_name,  // the name of the function to call
  tool_args,  // the JSON object of arguments for the (single) function offered
};

const char* answer_type_name(AnswerType t);
// Throws pj::Error naming `where` if `name` is not a type.
AnswerType parse_answer_type(const std::string& name, const std::string& where);

struct Question {
  std::string id;
  std::string category;
  AnswerType type = AnswerType::text;
  std::string prompt;
  std::vector<std::string> options;  // choice: option texts, lettered A, B, C, ... in this order
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();  // [{name, description, parameters}]
  std::string answer;                // the exact expected reply (tool_args: compact JSON text)
};

struct QuestionSet {
  std::string source;  // the file it came from ("built-in" path included)
  std::vector<Question> questions;
};

// Loads by extension: .json (our set: {"questions": [...], "tools": {...}} or an array of questions),
// .jsonl (one question per line: ours, MMLU-style or GSM8K-style, told apart per line), .csv (MMLU's
// own CSV: question, four options, answer letter; no header). Every problem is a pj::Error naming the
// file, the line or question, and what is wrong.
QuestionSet load_questions(const std::string& path);

// The same from text already in memory; `name` stands for the file in messages and picks the format
// by its extension.
QuestionSet parse_questions(const std::string& text, const std::string& name);

// The categories in first-appearance order.
std::vector<std::string> categories_of(const std::vector<Question>& qs);

// Keeps the questions of `categories` (all if empty; an unknown name is an error listing the known
// ones), then the first `n` of each category in turn, round-robin, so a small N still samples every
// category (n <= 0: all).
std::vector<Question> select_questions(const std::vector<Question>& qs, const std::vector<std::string>& categories,
                                       int n);

// "A", "B", ... for option index i (i < 26).
std::string option_letter(size_t i);

}  // namespace pj::eval
