#include "apps/eval/results.h"

#include "core/base/error.h"
#include "core/base/file.h"

#include <fmt/ranges.h>

#include <cmath>
#include <ctime>
#include <map>

namespace pj::eval {

using ojson = nlohmann::ordered_json;

namespace {

ojson interval_json(const Interval& i) { return ojson::array({i.lo, i.hi}); }
ojson stats_json(const Stats3& s) { return {{"mean", s.mean}, {"median", s.median}, {"p95", s.p95}}; }

Stats3 stats_of(const std::vector<double>& v) { return {mean(v), quantile(v, 0.5), quantile(v, 0.95)}; }

template <typename T>
T req(const ojson& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) fail("{}: missing \"{}\"", where, key);
  try {
    return it->get<T>();
  } catch (const std::exception&) {
    fail("{}: \"{}\" has the wrong type", where, key);
  }
}

template <typename T>
T opt(const ojson& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const std::exception&) {
    return fallback;
  }
}

Interval interval_from(const ojson& j, const char* key, int64_t correct, int64_t total) {
  auto it = j.find(key);
  if (it != j.end() && it->is_array() && it->size() == 2 && (*it)[0].is_number() && (*it)[1].is_number())
    return {(*it)[0].get<double>(), (*it)[1].get<double>()};
  return wilson_interval(correct, total);
}

Stats3 stats_from(const ojson& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return {-1, -1, -1};
  return {opt<double>(*it, "mean", -1), opt<double>(*it, "median", -1), opt<double>(*it, "p95", -1)};
}

}  // namespace

std::string utc_timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Summary summarize(const Evaluation& e) {
  Summary s;
  s.model_path = e.settings.model_path;
  s.model_name = e.model_name;
  s.format = e.settings.format;
  s.quant_type = e.quant_type;
  s.mode = e.mode;
  s.thinking = e.settings.thinking;
  s.timestamp = e.timestamp;
  s.model_size_bytes = e.model_size_bytes;
  s.planned = int64_t(e.settings.question_ids.size());
  s.complete = e.complete();
  s.total = int64_t(e.results.size());
  s.strict_correct = s.lenient_correct = 0;
  std::vector<double> times, ttfts;
  double p_tok = 0, p_sec = 0, g_tok = 0, g_sec = 0;
  std::map<std::string, size_t> cat_index;
  const bool lenient = e.mode == "lenient";
  for (const auto& r : e.results) {
    const bool ok = lenient ? r.lenient_correct : r.strict_correct;
    s.correct += ok;
    s.strict_correct += r.strict_correct;
    s.lenient_correct += r.lenient_correct;
    times.push_back(r.time);
    ttfts.push_back(r.ttft);
    p_tok += r.prompt_tokens, p_sec += r.prompt_seconds;
    g_tok += r.generated_tokens, g_sec += r.generate_seconds;
    auto [it, fresh] = cat_index.emplace(r.category, s.categories.size());
    if (fresh) {
      CategoryStat c;
      c.name = r.category;
      c.lenient_correct = 0;
      s.categories.push_back(c);
    }
    CategoryStat& c = s.categories[it->second];
    ++c.total;
    c.correct += ok;
    c.strict_correct += r.strict_correct;
    c.lenient_correct += r.lenient_correct;
  }
  for (auto& c : s.categories) {
    c.accuracy = double(c.correct) / double(c.total);
    c.ci = wilson_interval(c.correct, c.total);
  }
  s.accuracy = s.total ? double(s.correct) / double(s.total) : 0.0;
  s.ci = wilson_interval(s.correct, s.total);
  s.avg_time = mean(times);
  s.latency = stats_of(times);
  s.ttft = stats_of(ttfts);
  s.prompt_tps = p_sec > 0 ? p_tok / p_sec : 0;
  s.generation_tps = g_sec > 0 ? g_tok / g_sec : 0;
  s.peak_rss_bytes = e.peak_rss_bytes;
  return s;
}

ojson to_json(const Evaluation& e) {
  const Summary s = summarize(e);
  ojson j;
  j["format"] = e.settings.format;
  j["model_path"] = e.settings.model_path;
  j["evaluation_mode"] = e.mode;
  j["accuracy"] = s.accuracy;
  j["correct"] = s.correct;
  j["total"] = s.total;
  j["avg_time"] = s.avg_time;
  ojson cats = ojson::object();
  for (const auto& c : s.categories)
    cats[c.name] = {{"correct", c.correct},         {"total", c.total},
                    {"accuracy", c.accuracy},       {"ci95", interval_json(c.ci)},
                    {"strict_correct", c.strict_correct}, {"lenient_correct", c.lenient_correct}};
  j["category_stats"] = cats;
  j["timestamp"] = e.timestamp;
  // ours
  j["model_name"] = e.model_name;
  j["quant_type"] = e.quant_type;
  j["model_size_bytes"] = e.model_size_bytes;
  j["thinking"] = e.settings.thinking;
  j["complete"] = e.complete();
  j["planned"] = s.planned;
  j["accuracy_ci95"] = interval_json(s.ci);
  j["strict_correct"] = s.strict_correct;
  j["lenient_correct"] = s.lenient_correct;
  j["strict_accuracy"] = s.total ? double(s.strict_correct) / double(s.total) : 0.0;
  j["lenient_accuracy"] = s.total ? double(s.lenient_correct) / double(s.total) : 0.0;
  j["latency_seconds"] = stats_json(s.latency);
  j["ttft_seconds"] = stats_json(s.ttft);
  j["prompt_tokens_per_second"] = s.prompt_tps;
  j["generation_tokens_per_second"] = s.generation_tps;
  j["peak_rss_bytes"] = e.peak_rss_bytes;
  j["threads"] = e.threads;
  j["settings"] = {{"questions", e.settings.questions},   {"categories", e.settings.categories},
                   {"num_questions", e.settings.num_questions}, {"max_tokens", e.settings.max_tokens},
                   {"thinking", e.settings.thinking},     {"chat_template", e.settings.chat_template},
                   {"question_ids", e.settings.question_ids}};
  ojson res = ojson::array();
  for (const auto& r : e.results)
    res.push_back({{"id", r.id},
                   {"category", r.category},
                   {"type", r.type},
                   {"system_prompt", r.system_prompt},
                   {"user_prompt", r.user_prompt},
                   {"prompt", r.prompt},
                   {"expected", r.expected},
                   {"raw_output", r.raw_output},
                   {"parsed_answer", r.parsed_answer},
                   {"correct", e.mode == "lenient" ? r.lenient_correct : r.strict_correct},
                   {"strict_correct", r.strict_correct},
                   {"lenient_correct", r.lenient_correct},
                   {"time", r.time},
                   {"ttft", r.ttft},
                   {"prompt_tokens", r.prompt_tokens},
                   {"generated_tokens", r.generated_tokens},
                   {"prompt_seconds", r.prompt_seconds},
                   {"generate_seconds", r.generate_seconds},
                   {"finish_reason", r.finish_reason}});
  j["results"] = res;
  return j;
}

Evaluation evaluation_from_json(const ojson& j, const std::string& where) {
  if (!j.is_object()) fail("{}: not a JSON object", where);
  Evaluation e;
  e.settings.format = req<std::string>(j, "format", where);
  e.settings.model_path = req<std::string>(j, "model_path", where);
  e.mode = req<std::string>(j, "evaluation_mode", where);
  if (e.mode != "strict" && e.mode != "lenient") fail("{}: evaluation_mode must be strict or lenient", where);
  e.timestamp = opt<std::string>(j, "timestamp", "");
  e.model_name = opt<std::string>(j, "model_name", "");
  e.quant_type = opt<std::string>(j, "quant_type", "");
  e.model_size_bytes = opt<int64_t>(j, "model_size_bytes", -1);
  e.peak_rss_bytes = opt<int64_t>(j, "peak_rss_bytes", 0);
  e.threads = opt<int>(j, "threads", 0);
  if (!j.contains("settings") || !j["settings"].is_object())
    fail("{}: no \"settings\" (not written by pajamas evaluate, so it cannot be resumed)", where);
  const ojson& st = j["settings"];
  const std::string sw = where + ": settings";
  e.settings.questions = req<std::string>(st, "questions", sw);
  e.settings.categories = req<std::vector<std::string>>(st, "categories", sw);
  e.settings.num_questions = req<int>(st, "num_questions", sw);
  e.settings.max_tokens = req<int>(st, "max_tokens", sw);
  e.settings.thinking = req<std::string>(st, "thinking", sw);
  e.settings.chat_template = opt<std::string>(st, "chat_template", "");  // absent before --chat-template existed
  e.settings.question_ids = req<std::vector<std::string>>(st, "question_ids", sw);
  const auto& res = j.find("results");
  if (res == j.end() || !res->is_array()) fail("{}: missing \"results\" array", where);
  for (size_t i = 0; i < res->size(); ++i) {
    const ojson& r = (*res)[i];
    const std::string rw = fmt::format("{}: results[{}]", where, i);
    if (!r.is_object()) fail("{}: not an object", rw);
    QuestionResult q;
    q.id = req<std::string>(r, "id", rw);
    q.category = req<std::string>(r, "category", rw);
    q.type = req<std::string>(r, "type", rw);
    q.system_prompt = req<std::string>(r, "system_prompt", rw);
    q.user_prompt = req<std::string>(r, "user_prompt", rw);
    q.prompt = req<std::string>(r, "prompt", rw);
    q.expected = req<std::string>(r, "expected", rw);
    q.raw_output = req<std::string>(r, "raw_output", rw);
    q.parsed_answer = req<std::string>(r, "parsed_answer", rw);
    q.strict_correct = req<bool>(r, "strict_correct", rw);
    q.lenient_correct = req<bool>(r, "lenient_correct", rw);
    q.time = req<double>(r, "time", rw);
    q.ttft = req<double>(r, "ttft", rw);
    q.prompt_tokens = req<int>(r, "prompt_tokens", rw);
    q.generated_tokens = req<int>(r, "generated_tokens", rw);
    q.prompt_seconds = req<double>(r, "prompt_seconds", rw);
    q.generate_seconds = req<double>(r, "generate_seconds", rw);
    q.finish_reason = req<std::string>(r, "finish_reason", rw);
    if (i >= e.settings.question_ids.size() || e.settings.question_ids[i] != q.id)
      fail("{}: question '{}' is not the one planned at this position", rw, q.id);
    e.results.push_back(std::move(q));
  }
  return e;
}

Summary summary_from_json(const ojson& j, const std::string& where) {
  if (!j.is_object()) fail("{}: not a JSON object", where);
  Summary s;
  s.path = where;
  s.model_path = req<std::string>(j, "model_path", where);
  s.format = opt<std::string>(j, "format", "");
  s.mode = opt<std::string>(j, "evaluation_mode", "strict");
  s.correct = req<int64_t>(j, "correct", where);
  s.total = req<int64_t>(j, "total", where);
  s.accuracy = req<double>(j, "accuracy", where);
  s.avg_time = opt<double>(j, "avg_time", -1);
  s.timestamp = opt<std::string>(j, "timestamp", "");
  std::string name = s.model_path.substr(s.model_path.find_last_of('/') + 1);
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) name.resize(name.size() - 5);
  s.model_name = opt<std::string>(j, "model_name", name);
  if (s.model_name.empty()) s.model_name = name;
  s.quant_type = opt<std::string>(j, "quant_type", "");
  s.thinking = opt<std::string>(j, "thinking", "");
  s.model_size_bytes = opt<int64_t>(j, "model_size_bytes", -1);
  s.planned = opt<int64_t>(j, "planned", s.total);
  s.complete = opt<bool>(j, "complete", true);
  s.ci = interval_from(j, "accuracy_ci95", s.correct, s.total);
  s.strict_correct = opt<int64_t>(j, "strict_correct", s.mode == "strict" ? s.correct : -1);
  s.lenient_correct = opt<int64_t>(j, "lenient_correct", s.mode == "lenient" ? s.correct : -1);
  s.latency = stats_from(j, "latency_seconds");
  if (s.latency.mean < 0) s.latency.mean = s.avg_time;
  s.ttft = stats_from(j, "ttft_seconds");
  s.prompt_tps = opt<double>(j, "prompt_tokens_per_second", -1);
  s.generation_tps = opt<double>(j, "generation_tokens_per_second", -1);
  s.peak_rss_bytes = opt<int64_t>(j, "peak_rss_bytes", -1);
  if (j.contains("category_stats") && j["category_stats"].is_object()) {
    for (auto it = j["category_stats"].begin(); it != j["category_stats"].end(); ++it) {
      const std::string cw = where + ": category_stats." + it.key();
      CategoryStat c;
      c.name = it.key();
      c.correct = req<int64_t>(it.value(), "correct", cw);
      c.total = req<int64_t>(it.value(), "total", cw);
      c.accuracy = c.total ? double(c.correct) / double(c.total) : 0.0;
      c.ci = interval_from(it.value(), "ci95", c.correct, c.total);
      c.strict_correct = opt<int64_t>(it.value(), "strict_correct", -1);
      c.lenient_correct = opt<int64_t>(it.value(), "lenient_correct", -1);
      s.categories.push_back(c);
    }
  }
  return s;
}

void write_evaluation(const Evaluation& e, const std::string& path) {
  AtomicFileWriter w(path);
  w.write(to_json(e).dump(2));
  w.write("\n");
  w.commit();
}

namespace {
ojson parse_file(const std::string& path) {
  if (!file_exists(path)) fail("evaluate: {}: no such file", path);
  try {
    return ojson::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("evaluate: {}: not valid JSON ({})", path, e.what());
  }
}
}  // namespace

Evaluation read_evaluation(const std::string& path) { return evaluation_from_json(parse_file(path), "evaluate: " + path); }

Summary read_summary(const std::string& path) {
  Summary s = summary_from_json(parse_file(path), "evaluate: " + path);
  s.path = path;
  return s;
}

std::string default_output_path(const std::string& model_path) {
  std::string p = model_path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (is_directory(p)) return p + "/evaluation.json";
  if (p.size() > 5 && p.compare(p.size() - 5, 5, ".gguf") == 0) p.resize(p.size() - 5);
  return p + ".evaluation.json";
}

std::string resume_mismatch(const RunSettings& a, const RunSettings& b) {
  if (a.model_path != b.model_path) return fmt::format("model {} vs {}", a.model_path, b.model_path);
  if (a.questions != b.questions) return fmt::format("questions {} vs {}", a.questions, b.questions);
  if (a.thinking != b.thinking) return fmt::format("thinking {} vs {}", a.thinking, b.thinking);
  if (a.max_tokens != b.max_tokens) return fmt::format("max tokens {} vs {}", a.max_tokens, b.max_tokens);
  if (a.chat_template != b.chat_template)
    return fmt::format("chat template '{}' vs '{}' (empty: the model's own)", a.chat_template, b.chat_template);
  if (a.question_ids != b.question_ids)
    return fmt::format("question selection ({} questions, categories [{}]) vs ({} questions, categories [{}])",
                       a.question_ids.size(), fmt::join(a.categories, ","), b.question_ids.size(),
                       fmt::join(b.categories, ","));
  return {};
}

}  // namespace pj::eval
