#include "apps/eval/prompt.h"

namespace pj::eval {

namespace {

// One opening line per category; the built-in categories have their own, others a neutral one.
std::string category_lead(const std::string& category) {
  if (category == "knowledge") return "You are taking a general-knowledge test.";
  if (category == "common_sense") return "You are taking a common-sense test about everyday situations.";
  if (category == "math") return "You are taking an arithmetic and math word-problem test.";
  if (category == "reasoning") return "You are taking a logical-reasoning test.";
  if (category == "truthfulness")
    return "You are taking a test of factual accuracy: give the answer that is actually true, not a popular "
           "misconception.";
  if (category == "tool_calling") return "You are the function-calling component of an assistant.";
  return "You are taking a test.";
}

std::string option_letters(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? (i + 1 == n ? " or " : ", ") : "") + option_letter(i);
  return s;
}

}  // namespace

PromptMessages make_prompt(const Question& q) {
  PromptMessages m;
  const std::string lead = category_lead(q.category);
  switch (q.type) {
    case AnswerType::choice:
      m.system = lead + " Answer with only the letter of the correct option (" + option_letters(q.options.size()) +
                 "): one capital letter, no punctuation, no explanation.";
      m.user = q.prompt + "\n";
      for (size_t i = 0; i < q.options.size(); ++i) m.user += "\n" + option_letter(i) + ". " + q.options[i];
      break;
    case AnswerType::number:
      m.system = lead + " Answer with only the final number: digits (a minus sign if negative, a decimal point "
                        "only if needed), no units, no commas, no words, no explanation.";
      m.user = q.prompt;
      break;
    case AnswerType::text:
      m.system = lead + " Answer with only the answer itself, a word or a name, no punctuation, no explanation.";
      m.user = q.prompt;
      break;
    case AnswerType::tool_name:
      // Tool definitions travel in the system message so every model sees the same text, whether its
      // chat template knows about tools or not.
      m.system = lead + " These functions are available (JSON definitions):\n" + q.tools.dump(2) +
                 "\nAnswer with only the name of the one function that fulfils the user's request, exactly as "
                 "written, no arguments, no punctuation, no explanation.";
      m.user = q.prompt;
      break;
    case AnswerType::tool_args:
      m.system = lead + " This function is available (JSON definition):\n" + q.tools[0].dump(2) +
                 "\nAnswer with only the JSON object of arguments for calling it to fulfil the user's request: "
                 "one JSON object, no function name, no code fence, no explanation.";
      m.user = q.prompt;
      break;
  }
  return m;
}

}  // namespace pj::eval
