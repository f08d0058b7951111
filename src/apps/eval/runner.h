// The evaluation loop, independent of how a model is run: each question not yet answered is turned
// into messages, handed to `ask`, scored, appended and the whole evaluation written to disk, so that
// a run interrupted at any point resumes from the last answered question.
#pragma once

#include "apps/eval/prompt.h"
#include "apps/eval/question.h"
#include "apps/eval/results.h"

#include <functional>
#include <string>
#include <vector>

namespace pj::eval {

// One reply from the model under test, with its timings.
struct Reply {
  std::string text;    // what the model generated, special tokens removed
  std::string prompt;  // the rendered prompt it was given
  int prompt_tokens = 0, generated_tokens = 0;
  double prompt_seconds = 0, generate_seconds = 0;
  double ttft = 0;   // seconds until the first token of the reply
  double total = 0;  // seconds for the whole question
  std::string finish_reason;
};

using AskFn = std::function<Reply(const Question&, const PromptMessages&)>;
// Called after each answered question: results so far, how many are planned.
using ProgressFn = std::function<void(const Evaluation&, size_t planned)>;

QuestionResult score(const Question& q, const PromptMessages& m, const Reply& r);

// Answers the questions of `qs` that `e` has no result for yet (e.settings.question_ids must list
// qs's ids in order; e.results a prefix of them), writing `output` after each. Returns when all are
// answered; an exception from `ask` leaves the file as it was after the last answered question.
void run_evaluation(Evaluation& e, const std::vector<Question>& qs, const AskFn& ask, const std::string& output,
                    const ProgressFn& progress = {});

}  // namespace pj::eval
