#include "apps/eval/runner.h"

#include "apps/eval/match.h"
#include "apps/eval/metrics.h"
#include "core/base/error.h"

#include <algorithm>

namespace pj::eval {

QuestionResult score(const Question& q, const PromptMessages& m, const Reply& r) {
  QuestionResult out;
  out.id = q.id;
  out.category = q.category;
  out.type = answer_type_name(q.type);
  out.system_prompt = m.system;
  out.user_prompt = m.user;
  out.prompt = r.prompt;
  out.expected = q.answer;
  out.raw_output = r.text;
  out.parsed_answer = strip_reasoning(r.text);
  out.strict_correct = strict_match(q, out.parsed_answer);
  out.lenient_correct = lenient_match(q, out.parsed_answer);
  out.time = r.total;
  out.ttft = r.ttft;
  out.prompt_tokens = r.prompt_tokens;
  out.generated_tokens = r.generated_tokens;
  out.prompt_seconds = r.prompt_seconds;
  out.generate_seconds = r.generate_seconds;
  out.finish_reason = r.finish_reason;
  return out;
}

void run_evaluation(Evaluation& e, const std::vector<Question>& qs, const AskFn& ask, const std::string& output,
                    const ProgressFn& progress) {
  if (qs.size() != e.settings.question_ids.size())
    fail("evaluate: {} questions planned but {} given", e.settings.question_ids.size(), qs.size());
  for (size_t i = 0; i < qs.size(); ++i)
    if (qs[i].id != e.settings.question_ids[i]) fail("evaluate: question {} is '{}', planned '{}'", i, qs[i].id, e.settings.question_ids[i]);
  if (e.results.size() > qs.size()) fail("evaluate: {}: more results than planned questions", output);
  for (size_t i = e.results.size(); i < qs.size(); ++i) {
    const PromptMessages m = make_prompt(qs[i]);
    const Reply r = ask(qs[i], m);
    e.results.push_back(score(qs[i], m, r));
    e.peak_rss_bytes = std::max(e.peak_rss_bytes, peak_rss_bytes());
    e.timestamp = utc_timestamp();
    write_evaluation(e, output);
    if (progress) progress(e, qs.size());
  }
  if (e.results.empty() || e.timestamp.empty()) {  // nothing left to do: still leave a fresh file
    e.timestamp = utc_timestamp();
    write_evaluation(e, output);
  }
}

}  // namespace pj::eval
