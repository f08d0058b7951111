// The evaluation loop with a scripted model: scoring, the evaluation.json written after every
// question, resuming an interrupted run without asking answered questions again, and the summary.
#include "apps/eval/report.h"
#include "apps/eval/runner.h"
#include "core/base/error.h"
#include "core/base/file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

using namespace pj::eval;
namespace fs = std::filesystem;

namespace {

std::vector<Question> small_set() {
  return parse_questions(R"({"questions":[
    {"id":"k1","category":"knowledge","prompt":"Capital of France?","options":["Rome","Paris","Oslo","Bern"],"answer":"B"},
    {"id":"m1","category":"math","prompt":"2+3?","answer":"5"},
    {"id":"k2","category":"knowledge","prompt":"Largest ocean?","options":["Pacific","Indian"],"answer":"A"},
    {"id":"m2","category":"math","prompt":"10*10?","answer":"100"}]})",
                         "small.json")
      .questions;
}

// Replies by question id; timings are fixed so the summary can be checked exactly.
std::map<std::string, std::string> kReplies = {
    {"k1", "B"}, {"m1", "The answer is 5."}, {"k2", "<think>Pacific is largest</think>A"}, {"m2", "<think>10 times 10 is"}};

Reply scripted(const Question& q, const PromptMessages& m) {
  Reply r;
  r.text = kReplies.at(q.id);
  r.prompt = "<sys>" + m.system + "<user>" + m.user;
  r.prompt_tokens = 10;
  r.generated_tokens = 4;
  r.prompt_seconds = 0.5;
  r.generate_seconds = 1.0;
  r.ttft = 0.6;
  r.total = q.id == "m2" ? 4.0 : 1.5;
  r.finish_reason = q.id == "m2" ? "length" : "stop";
  return r;
}

Evaluation fresh(const std::vector<Question>& qs, const std::string& mode = "strict") {
  Evaluation e;
  e.settings.model_path = "/models/m.gguf";
  e.settings.questions = "small.json";
  e.settings.max_tokens = 64;
  for (const auto& q : qs) e.settings.question_ids.push_back(q.id);
  e.mode = mode;
  e.model_name = "m";
  e.quant_type = "Q4_1";
  e.model_size_bytes = 1000;
  return e;
}

struct TempDir {
  fs::path p = fs::temp_directory_path() / ("pj_eval_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(p); }
  ~TempDir() { fs::remove_all(p); }
  std::string file(const std::string& n) const { return (p / n).string(); }
};

}  // namespace

TEST(Runner, ScoresAndSummarises) {
  TempDir d;
  const auto qs = small_set();
  Evaluation e = fresh(qs);
  run_evaluation(e, qs, scripted, d.file("e.json"));
  ASSERT_EQ(e.results.size(), 4u);
  EXPECT_TRUE(e.results[0].strict_correct);   // "B"
  EXPECT_FALSE(e.results[1].strict_correct);  // "The answer is 5."
  EXPECT_TRUE(e.results[1].lenient_correct);
  EXPECT_TRUE(e.results[2].strict_correct);   // think block cut
  EXPECT_EQ(e.results[2].parsed_answer, "A");
  EXPECT_FALSE(e.results[3].strict_correct);  // ran out while thinking
  EXPECT_EQ(e.results[3].parsed_answer, "");
  EXPECT_EQ(e.results[3].finish_reason, "length");

  const Summary s = summarize(e);
  EXPECT_EQ(s.correct, 2);
  EXPECT_EQ(s.total, 4);
  EXPECT_EQ(s.strict_correct, 2);
  EXPECT_EQ(s.lenient_correct, 3);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(s.avg_time, (1.5 * 3 + 4.0) / 4);
  EXPECT_DOUBLE_EQ(s.latency.median, 1.5);
  EXPECT_DOUBLE_EQ(s.latency.p95, 1.5 + 0.85 * 2.5);  // position 2.85 in [1.5,1.5,1.5,4]
  EXPECT_DOUBLE_EQ(s.prompt_tps, 10 / 0.5);
  EXPECT_DOUBLE_EQ(s.generation_tps, 4 / 1.0);
  ASSERT_EQ(s.categories.size(), 2u);
  EXPECT_EQ(s.categories[0].name, "knowledge");
  EXPECT_EQ(s.categories[0].correct, 2);
  EXPECT_EQ(s.categories[1].correct, 0);
  EXPECT_EQ(s.categories[1].lenient_correct, 1);
  EXPECT_GT(e.peak_rss_bytes, 0);

  // The file holds the original LlamaPajamas fields and reads back to the same evaluation.
  const auto j = nlohmann::ordered_json::parse(pj::read_text_file(d.file("e.json")));
  for (const char* k : {"format", "model_path", "evaluation_mode", "accuracy", "correct", "total", "avg_time",
                        "category_stats", "results", "timestamp"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["results"][1]["raw_output"], "The answer is 5.");
  EXPECT_EQ(j["results"][1]["correct"], false);
  const Evaluation back = read_evaluation(d.file("e.json"));
  EXPECT_EQ(to_json(back).dump(), j.dump());
}

TEST(Runner, LenientModeChangesTheHeadlineOnly) {
  TempDir d;
  const auto qs = small_set();
  Evaluation e = fresh(qs, "lenient");
  run_evaluation(e, qs, scripted, d.file("e.json"));
  const Summary s = summarize(e);
  EXPECT_EQ(s.correct, 3);
  EXPECT_EQ(s.strict_correct, 2);
}

TEST(Runner, ResumesWhereItStopped) {
  TempDir d;
  const auto qs = small_set();
  const std::string out = d.file("e.json");
  Evaluation e = fresh(qs);
  int asked = 0;
  auto dies_on_third = [&](const Question& q, const PromptMessages& m) {
    if (++asked == 3) throw pj::Error("interrupted");
    return scripted(q, m);
  };
  EXPECT_THROW(run_evaluation(e, qs, dies_on_third, out), pj::Error);
  Evaluation partial = read_evaluation(out);
  ASSERT_EQ(partial.results.size(), 2u);
  EXPECT_FALSE(partial.complete());
  EXPECT_FALSE(summary_from_json(nlohmann::ordered_json::parse(pj::read_text_file(out)), "x").complete);
  EXPECT_TRUE(resume_mismatch(partial.settings, fresh(qs).settings).empty());

  std::vector<std::string> asked_ids;
  run_evaluation(partial, qs, [&](const Question& q, const PromptMessages& m) {
    asked_ids.push_back(q.id);
    return scripted(q, m);
  }, out);
  EXPECT_EQ(asked_ids, (std::vector<std::string>{"k2", "m2"}));
  EXPECT_TRUE(read_evaluation(out).complete());

  // The uninterrupted run gives the same results.
  Evaluation whole = fresh(qs);
  run_evaluation(whole, qs, scripted, d.file("whole.json"));
  auto a = to_json(read_evaluation(out)), b = to_json(whole);
  a.erase("timestamp"), b.erase("timestamp"), a.erase("peak_rss_bytes"), b.erase("peak_rss_bytes");
  EXPECT_EQ(a.dump(), b.dump());
}

TEST(Runner, ResumeRefusesOtherSettings) {
  const auto qs = small_set();
  RunSettings a = fresh(qs).settings, b = a;
  b.thinking = "on";
  EXPECT_NE(resume_mismatch(a, b).find("thinking"), std::string::npos);
  b = a;
  b.question_ids.pop_back();
  EXPECT_NE(resume_mismatch(a, b).find("question selection"), std::string::npos);
  b = a;
  b.model_path = "/models/other.gguf";
  EXPECT_NE(resume_mismatch(a, b).find("other.gguf"), std::string::npos);
}

TEST(Runner, BadEvaluationFilesAreErrors) {
  TempDir d;
  auto write = [&](const std::string& name, const std::string& text) {
    pj::AtomicFileWriter w(d.file(name));
    w.write(text);
    w.commit();
    return d.file(name);
  };
  auto msg = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const pj::Error& e) {
      return e.what();
    }
    return "";
  };
  std::string p = write("broken.json", "{\"format\":");
  EXPECT_NE(msg([&] { read_evaluation(p); }).find("broken.json: not valid JSON"), std::string::npos);
  p = write("seed.json", R"({"format":"gguf","model_path":"m.gguf","evaluation_mode":"strict","accuracy":0.5,
      "correct":1,"total":2,"avg_time":0.3,"category_stats":{"math":{"correct":1,"total":2}},"results":[],"timestamp":"t"})");
  // An original-format file cannot be resumed but can be compared.
  EXPECT_NE(msg([&] { read_evaluation(p); }).find("no \"settings\""), std::string::npos);
  const Summary s = read_summary(p);
  EXPECT_EQ(s.correct, 1);
  EXPECT_EQ(s.model_name, "m");
  EXPECT_EQ(s.lenient_correct, -1);
  EXPECT_NEAR(s.ci.lo, wilson_interval(1, 2).lo, 1e-12);
  p = write("mistyped.json", R"({"format":"gguf","model_path":"m","evaluation_mode":"strict","correct":"1","total":2,"accuracy":0.5})");
  EXPECT_NE(msg([&] { read_summary(p); }).find("\"correct\" has the wrong type"), std::string::npos);
}

TEST(Runner, DefaultOutputPath) {
  EXPECT_EQ(default_output_path("models/SmolLM2.Q4_1.gguf"), "models/SmolLM2.Q4_1.evaluation.json");
  TempDir d;
  EXPECT_EQ(default_output_path(d.p.string() + "/"), d.p.string() + "/evaluation.json");
}

TEST(Report, MarkdownAndHtml) {
  TempDir d;
  const auto qs = small_set();
  Evaluation e = fresh(qs);
  e.model_name = "tiny <b>&";
  run_evaluation(e, qs, scripted, d.file("e.json"));
  Summary a = summarize(e);
  a.path = d.file("e.json");
  Summary b = a;
  b.model_name = "other";
  b.model_size_bytes = 500;
  b.strict_correct = 1;
  const std::string md = markdown_report({a, b});
  EXPECT_NE(md.find("| tiny <b>& | Q4_1 | 0.0 MB | 4 | 50.0% (2/4) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| other | Q4_1 | 0.0 MB | 4 | 25.0% (1/4) |"), std::string::npos) << md;
  EXPECT_NE(md.find("75.0% (3/4)"), std::string::npos);  // lenient
  EXPECT_NE(md.find("| knowledge | math |"), std::string::npos);
  const std::string html = html_report({a, b});
  EXPECT_EQ(html.find("tiny <b>"), std::string::npos);  // escaped
  EXPECT_NE(html.find("tiny &lt;b&gt;&amp;"), std::string::npos);
  EXPECT_GE(std::count(html.begin(), html.end(), '<') - std::count(html.begin(), html.end(), '>'), 0);
  size_t svgs = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++svgs;
  EXPECT_GE(svgs, 4u);  // accuracy, accuracy vs size, size, speed, latency
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);  // nothing loaded from elsewhere
  EXPECT_EQ(html.find("href="), std::string::npos);
}
