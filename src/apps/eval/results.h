// evaluation.json: what one evaluation run asked, what the model replied, the verdicts and the summary
// statistics. It is rewritten (atomically) after every question, so an interrupted run resumes where
// it stopped. The top-level fields of LlamaPajamas' original evaluation.json (format, model_path,
// evaluation_mode, accuracy, correct, total, avg_time, category_stats, results, timestamp) keep their
// names and meaning; the rest is ours (docs/evaluation.md lists every field).
#pragma once

#include "apps/eval/metrics.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pj::eval {

struct QuestionResult {
  std::string id, category, type;
  std::string system_prompt, user_prompt;
  std::string prompt;  // the full text the model was given, chat template applied
  std::string expected, raw_output, parsed_answer;
  bool strict_correct = false, lenient_correct = false;
  double time = 0;  // seconds from the prompt going in to the last token
  double ttft = 0;  // seconds to the first token of the reply
  int prompt_tokens = 0, generated_tokens = 0;
  double prompt_seconds = 0, generate_seconds = 0;
  std::string finish_reason;  // "stop" or "length"
};

// What must be equal for a run to resume another.
struct RunSettings {
  std::string model_path, format = "gguf";
  std::string questions;  // question file
  std::vector<std::string> categories;
  int num_questions = 0;  // as asked (0: all)
  std::string thinking = "off";
  int max_tokens = 0;
  std::string chat_template;  // --chat-template file; empty: the model's own template
  std::vector<std::string> question_ids;  // the selected questions, in order
};

struct Evaluation {
  RunSettings settings;
  std::string mode = "strict";  // which verdict `accuracy` reports; both are always stored
  std::string model_name, quant_type;
  int64_t model_size_bytes = -1;
  int threads = 0;
  int64_t peak_rss_bytes = 0;
  std::string timestamp;  // ISO 8601 UTC of the last write
  std::vector<QuestionResult> results;
  bool complete() const { return results.size() == settings.question_ids.size(); }
};

struct CategoryStat {
  std::string name;
  int64_t correct = 0, total = 0, strict_correct = 0, lenient_correct = -1;
  double accuracy = 0;
  Interval ci;
};

struct Stats3 {
  double mean = 0, median = 0, p95 = 0;
};

// The numbers a report shows; made from an Evaluation, or read back from any evaluation.json,
// including one with only the original fields (then the missing numbers are -1).
struct Summary {
  std::string path;  // the evaluation.json it came from
  std::string model_path, model_name, format, quant_type, mode, thinking, timestamp;
  int64_t model_size_bytes = -1;
  int64_t correct = 0, total = 0, planned = 0;
  double accuracy = 0, avg_time = 0;
  Interval ci;
  int64_t strict_correct = -1, lenient_correct = -1;
  std::vector<CategoryStat> categories;
  Stats3 latency, ttft;
  double prompt_tps = -1, generation_tps = -1;
  int64_t peak_rss_bytes = -1;
  bool complete = true;
};

Summary summarize(const Evaluation& e);

nlohmann::ordered_json to_json(const Evaluation& e);
// Throws pj::Error naming `where` on missing or mistyped fields.
Evaluation evaluation_from_json(const nlohmann::ordered_json& j, const std::string& where);
Summary summary_from_json(const nlohmann::ordered_json& j, const std::string& where);

void write_evaluation(const Evaluation& e, const std::string& path);
Evaluation read_evaluation(const std::string& path);
Summary read_summary(const std::string& path);

// Where a run's results go by default: "<file without .gguf>.evaluation.json" beside a model file (so
// several quantizations can share a folder), "<folder>/evaluation.json" for a model folder.
std::string default_output_path(const std::string& model_path);

// Empty if `previous` can be continued by a run with `now`; otherwise what differs, for the message.
std::string resume_mismatch(const RunSettings& previous, const RunSettings& now);

std::string utc_timestamp();

}  // namespace pj::eval
