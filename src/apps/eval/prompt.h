// How a question is put to a model: a system message per category and answer type that says exactly
// what form the reply must take, and the user message (the question, its lettered options).
#pragma once

#include "apps/eval/question.h"

#include <string>

namespace pj::eval {

struct PromptMessages {
  std::string system, user;
};

PromptMessages make_prompt(const Question& q);

}  // namespace pj::eval
