// The interpreter against jinja2: jinja2_cases.json holds small templates and what jinja2 3.1 renders for
// them in Hugging Face's environment (made by make_jinja2_cases.py); the rest checks errors, the real
// templates in data/templates and the Hugging Face folder loader.
#include "models/chat/template.h"
#include "models/chat/value.h"

#include "core/base/error.h"
#include "core/base/file.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

using json = nlohmann::ordered_json;
using pj::chat::Template;

std::string render(const std::string& src, const json& ctx = json::object()) {
  pj::chat::RenderOptions o;
  o.now_unix = 1722000000;
  return Template(src).render(ctx, o);
}

std::string error_of(const std::string& src, const json& ctx = json::object()) {
  try {
    render(src, ctx);
  } catch (const pj::Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(ChatTemplate, MatchesJinja2Cases) {
  json doc = json::parse(pj::read_text_file(PJ_SOURCE_DIR "/tests/chat/jinja2_cases.json"));
  ASSERT_GE(doc["cases"].size(), 20u);
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE(c["template"].get<std::string>());
    EXPECT_EQ(render(c["template"], c["context"]), c["expected"].get<std::string>());
  }
}

TEST(ChatTemplate, WhitespaceControl) {
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before it
  EXPECT_EQ(render("{% if true %}\n  a\n  {% endif %}\nb"), "  a\nb");
  EXPECT_EQ(render("x  {{- ' y' -}}  \n z"), "x yz");
  // {{ }} is neither trimmed nor lstripped
  EXPECT_EQ(render("  {{ 'v' }}\nw"), "  v\nw");
  // one trailing newline of the template is dropped (keep_trailing_newline=False)
  EXPECT_EQ(render("a\n"), "a");
  EXPECT_EQ(render("a\n\n"), "a\n");
  // a tag after text on the same line is not lstripped
  EXPECT_EQ(render("a  {% if true %}b{% endif %}"), "a  b");
}

TEST(ChatTemplate, ValuesPrintLikePython) {
  EXPECT_EQ(pj::chat::python_float(1e16), "1e+16");
  EXPECT_EQ(pj::chat::python_float(1e15), "1000000000000000.0");
  EXPECT_EQ(pj::chat::python_float(0.0001), "0.0001");
  EXPECT_EQ(pj::chat::python_float(0.00001), "1e-05");
  EXPECT_EQ(pj::chat::python_float(-2.5), "-2.5");
  EXPECT_EQ(pj::chat::python_float(123.456), "123.456");
  EXPECT_EQ(render("{{ x|tojson }}", {{"x", {{"k", {1.5, nullptr, "\x01"}}}}}), "{\"k\": [1.5, null, \"\\u0001\"]}");
}

TEST(ChatTemplate, UnsupportedConstructsNameTheLine) {
  std::string e = error_of("line one\n{% include 'x.jinja' %}");
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
  EXPECT_NE(e.find("include"), std::string::npos) << e;

  e = error_of("a\nb\n{{ x|wordwrap(3) }}", {{"x", "abc"}});
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
  EXPECT_NE(e.find("unsupported filter 'wordwrap'"), std::string::npos) << e;

  e = error_of("{% if x is prime %}{% endif %}", {{"x", 1}});
  EXPECT_NE(e.find("unsupported test 'prime'"), std::string::npos) << e;

  e = error_of("\n{{ '%s' % 'a' }}");
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;

  e = error_of("{{ cycler(1, 2) }}");
  EXPECT_NE(e.find("'cycler' is undefined"), std::string::npos) << e;

  e = error_of("{{ l.append(1) }}", {{"l", json::array()}});
  EXPECT_NE(e.find("append"), std::string::npos) << e;

  e = error_of("{% for x in l recursive %}{% endfor %}", {{"l", json::array()}});
  EXPECT_NE(e.find("recursive"), std::string::npos) << e;
}

TEST(ChatTemplate, SyntaxAndRuntimeErrors) {
  EXPECT_NE(error_of("{% if x %}no end").find("missing {% endif %}"), std::string::npos);
  EXPECT_NE(error_of("{{ 'open").find("unterminated string"), std::string::npos);
  EXPECT_NE(error_of("{{ '\\uzzzz' }}").find("bad \\u escape"), std::string::npos);
  EXPECT_EQ(render("{{ '\\u00e9\\x41' }}"), "\xc3\xa9" "A");
  EXPECT_NE(error_of("{{ 1 +").find("line 1"), std::string::npos);
  EXPECT_NE(error_of("a\n{{ raise_exception('bad roles') }}").find("line 2: raise_exception: bad roles"),
            std::string::npos);
  EXPECT_NE(error_of("{{ u.x }}").find("'u' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ 'a' + 1 }}").find("unsupported operand types for +"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 // 0 }}").find("by zero"), std::string::npos);
  EXPECT_NE(error_of("{{ x|tojson }}").find("undefined"), std::string::npos);
  EXPECT_NE(error_of("{% break %}").find("outside a loop"), std::string::npos);
  EXPECT_NE(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursion"), std::string::npos);
  // context must be an object
  EXPECT_THROW(Template("x").render(json::array()), pj::Error);
}

TEST(ChatTemplate, RealTemplatesParseAndRender) {
  const char* names[] = {"qwen2.5-instruct", "qwen3",      "llama-3.1-instruct",       "llama-3.2-instruct",
                         "gemma-2-it",       "gemma-3-it", "mistral-7b-instruct-v0.3", "smollm2-instruct"};
  json msgs = json::array({{{"role", "user"}, {"content", "Hi"}}});
  for (const char* n : names) {
    SCOPED_TRACE(n);
    std::string src = pj::read_text_file(std::string(PJ_SOURCE_DIR "/data/templates/") + n + ".jinja");
    Template t(src, n);
    json ctx = {{"messages", msgs}, {"tools", nullptr}, {"add_generation_prompt", true},
                {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    std::string out = t.render(ctx);
    EXPECT_NE(out.find("Hi"), std::string::npos);
  }
}

TEST(ChatTemplate, RenderSpeed) {
  // Not a gate: prints the cost of one render of the largest real template, for the report.
  std::string src = pj::read_text_file(PJ_SOURCE_DIR "/data/templates/llama-3.1-instruct.jinja");
  Template t(src);
  json msgs = json::array();
  for (int i = 0; i < 10; ++i) {
    msgs.push_back({{"role", "user"}, {"content", "question " + std::to_string(i)}});
    msgs.push_back({{"role", "assistant"}, {"content", "answer " + std::to_string(i)}});
  }
  json ctx = {{"messages", msgs}, {"tools", nullptr}, {"add_generation_prompt", true}, {"bos_token", "<s>"}};
  const int n = 50;
  auto t0 = std::chrono::steady_clock::now();
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += t.render(ctx).size();
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
  std::printf("llama-3.1 template, 20 messages: %.1f us per render (%zu bytes)\n", us, total / n);
  EXPECT_GT(total, 0u);
}

class HfFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pj_chat_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::filesystem::path dir_;
};

TEST_F(HfFolder, FixtureVectors) {
  for (const char* fam : {"gemma", "llama3", "mistral", "qwen"}) {
    SCOPED_TRACE(fam);
    std::string folder = std::string(PJ_SHARED_DIR "/fixtures/tokenizers/") + fam;
    json chat = json::parse(pj::read_text_file(folder + "/vectors.json"))["chat"];
    auto cfg = pj::chat::load_hf_chat_config(folder);
    json ctx = pj::chat::make_chat_context(cfg, chat["messages"], nullptr, chat["add_generation_prompt"], {});
    EXPECT_EQ(Template(cfg.source).render(ctx), chat["rendered"].get<std::string>());
  }
}

TEST_F(HfFolder, ListFormAndAddedTokens) {
  write("tokenizer_config.json",
        R"({"chat_template": [{"name": "default", "template": "D{{ bos_token }}"}, {"name": "rag", "template": "R"}],
            "bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": null})");
  auto cfg = pj::chat::load_hf_chat_config(dir_.string());
  EXPECT_EQ(cfg.source, "D{{ bos_token }}");
  EXPECT_EQ(cfg.bos_token.value_or(""), "<s>");
  EXPECT_FALSE(cfg.eos_token.has_value());
  EXPECT_EQ(pj::chat::load_hf_chat_config(dir_.string(), "rag").source, "R");
  try {
    pj::chat::load_hf_chat_config(dir_.string(), "nope");
    FAIL();
  } catch (const pj::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no chat template named 'nope' (have: default, rag)"), std::string::npos);
  }
}

TEST_F(HfFolder, BadConfigsNameTheFile) {
  write("tokenizer_config.json", "{not json");
  try {
    pj::chat::load_hf_chat_config(dir_.string());
    FAIL();
  } catch (const pj::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json: not valid JSON"), std::string::npos);
  }
  write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_THROW(pj::chat::load_hf_chat_config(dir_.string()), pj::Error);
  write("chat_template.jinja", "J");
  EXPECT_EQ(pj::chat::load_hf_chat_config(dir_.string()).source, "J");
}

}  // namespace
