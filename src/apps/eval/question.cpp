#include "apps/eval/question.h"

#include "core/base/error.h"
#include "core/base/file.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

namespace pj::eval {

using ojson = nlohmann::ordered_json;

namespace {

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string stem(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  return base.substr(0, base.find('.'));
}

// A plain number: optional minus, digits, optional fraction. What the number prompt asks for.
bool is_plain_number(const std::string& s) {
  size_t i = s.size() > 1 && s[0] == '-' ? 1 : 0;
  size_t digits = 0, dots = 0;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') ++digits;
    else if (s[i] == '.' && ++dots == 1 && digits > 0 && i + 1 < s.size()) continue;
    else return false;
  }
  return digits > 0;
}

std::string get_string(const ojson& j, const char* key, const std::string& where, bool required = true) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) fail("{}: missing \"{}\"", where, key);
    return {};
  }
  if (!it->is_string()) fail("{}: \"{}\" must be a string", where, key);
  return it->get<std::string>();
}

// Checks what makes a question answerable exactly once; `where` names it in errors.
void validate(const Question& q, const std::string& where) {
  if (q.prompt.empty()) fail("{}: empty prompt", where);
  if (q.answer.empty()) fail("{}: empty answer", where);
  if (q.answer != trim(q.answer)) fail("{}: answer '{}' has surrounding spaces", where, q.answer);
  switch (q.type) {
    case AnswerType::choice: {
      if (q.options.size() < 2 || q.options.size() > 26) fail("{}: a choice question needs 2 to 26 options", where);
      bool found = false;
      for (size_t i = 0; i < q.options.size(); ++i) found |= option_letter(i) == q.answer;
      if (!found) fail("{}: answer '{}' is not the letter of an option (A-{})", where, q.answer,
                       option_letter(q.options.size() - 1));
      std::set<std::string> uniq(q.options.begin(), q.options.end());
      if (uniq.size() != q.options.size()) fail("{}: two options are the same", where);
      break;
    }
    case AnswerType::number:
      if (!is_plain_number(q.answer)) fail("{}: answer '{}' is not a plain number (digits, '-', '.')", where, q.answer);
      break;
    case AnswerType::text:
      break;
    case AnswerType::tool_name: {
      if (q.tools.empty()) fail("{}: a tool_name question needs tools", where);
      bool found = false;
      for (const auto& t : q.tools) found |= t.value("name", "") == q.answer;
      if (!found) fail("{}: answer '{}' is not the name of one of its tools", where, q.answer);
      break;
    }
    case AnswerType::tool_args: {
      if (q.tools.size() != 1) fail("{}: a tool_args question offers exactly one tool", where);
      ojson args;
      try {
        args = ojson::parse(q.answer);
      } catch (const std::exception&) {
        fail("{}: answer is not JSON: {}", where, q.answer);
      }
      if (!args.is_object()) fail("{}: answer must be a JSON object of arguments", where);
      const ojson& params = q.tools[0].contains("parameters") ? q.tools[0]["parameters"] : ojson::object();
      const ojson props = params.value("properties", ojson::object());
      for (auto it = args.begin(); it != args.end(); ++it)
        if (!props.contains(it.key())) fail("{}: argument '{}' is not a parameter of {}", where, it.key(), q.tools[0].value("name", "?"));
      for (const auto& r : params.value("required", ojson::array()))
        if (!args.contains(r.get<std::string>())) fail("{}: required argument '{}' missing from the answer", where, r.get<std::string>());
      break;
    }
  }
}

// A tool entry is an inline {name, description, parameters} or, in our .json files, the name of an
// entry in the file's "tools" table.
ojson resolve_tool(const ojson& t, const ojson& table, const std::string& where) {
  if (t.is_string()) {
    const std::string name = t.get<std::string>();
    if (!table.contains(name)) fail("{}: tool '{}' is not in the file's \"tools\" table", where, name);
    ojson def = table[name];
    if (!def.is_object()) fail("{}: tool '{}' must be an object", where, name);
    ojson out = {{"name", name}};
    for (auto it = def.begin(); it != def.end(); ++it) out[it.key()] = it.value();
    return out;
  }
  if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
    fail("{}: each tool must be a name or an object with a \"name\"", where);
  return t;
}

// Our own question object (questions.json entries and JSONL lines in our format).
Question from_ours(const ojson& j, const ojson& tool_table, const std::string& where, const std::string& fallback_id) {
  Question q;
  q.id = j.contains("id") ? get_string(j, "id", where) : fallback_id;
  q.category = j.contains("category") ? get_string(j, "category", where) : "custom";
  q.prompt = get_string(j, "prompt", where);
  if (j.contains("options")) {
    if (!j["options"].is_array()) fail("{}: \"options\" must be an array of strings", where);
    for (const auto& o : j["options"]) {
      if (!o.is_string()) fail("{}: \"options\" must be an array of strings", where);
      q.options.push_back(o.get<std::string>());
    }
  }
  if (j.contains("tools")) {
    if (!j["tools"].is_array()) fail("{}: \"tools\" must be an array", where);
    for (const auto& t : j["tools"]) q.tools.push_back(resolve_tool(t, tool_table, where));
  }
  if (!j.contains("answer")) fail("{}: missing \"answer\"", where);
  const ojson& a = j["answer"];
  if (a.is_string()) q.answer = a.get<std::string>();
  else if (a.is_object()) q.answer = a.dump();  // tool_args given as JSON
  else if (a.is_number()) q.answer = a.dump();
  else fail("{}: \"answer\" must be a string, a number or (tool_args) an object", where);
  if (j.contains("type")) q.type = parse_answer_type(get_string(j, "type", where), where);
  else if (!q.options.empty()) q.type = AnswerType::choice;
  else if (!q.tools.empty()) q.type = a.is_object() ? AnswerType::tool_args : AnswerType::tool_name;
  else q.type = is_plain_number(q.answer) ? AnswerType::number : AnswerType::text;
  if (q.type == AnswerType::tool_args) {
    try {
      q.answer = ojson::parse(q.answer).dump();
    } catch (const std::exception&) {
      fail("{}: tool_args answer is not JSON: {}", where, q.answer);
    }
  }
  return q;
}

// MMLU as Hugging Face publishes it: {"question", "choices": [4], "answer": 0-3 or "A"-"D", "subject"}.
Question from_mmlu(const ojson& j, const std::string& where, const std::string& fallback_id) {
  Question q;
  q.id = j.contains("id") ? get_string(j, "id", where) : fallback_id;
  q.category = j.contains("category") ? get_string(j, "category", where) : "mmlu";
  q.type = AnswerType::choice;
  q.prompt = get_string(j, "question", where);
  for (const auto& c : j["choices"]) {
    if (!c.is_string()) fail("{}: \"choices\" must be strings", where);
    q.options.push_back(c.get<std::string>());
  }
  const ojson& a = j["answer"];
  if (a.is_number_integer()) {
    const int64_t k = a.get<int64_t>();
    if (k < 0 || k >= int64_t(q.options.size())) fail("{}: answer index {} is out of range", where, k);
    q.answer = option_letter(size_t(k));
  } else if (a.is_string()) {
    q.answer = trim(a.get<std::string>());
  } else {
    fail("{}: MMLU \"answer\" must be an option index or a letter", where);
  }
  return q;
}

// GSM8K: {"question", "answer": "worked solution ... #### 72"}; the number after #### is the answer,
// with GSM8K's thousands separators removed.
Question from_gsm8k(const ojson& j, const std::string& where, const std::string& fallback_id) {
  Question q;
  q.id = j.contains("id") ? get_string(j, "id", where) : fallback_id;
  q.category = j.contains("category") ? get_string(j, "category", where) : "gsm8k";
  q.type = AnswerType::number;
  q.prompt = get_string(j, "question", where);
  const std::string full = get_string(j, "answer", where);
  const size_t at = full.rfind("####");
  if (at == std::string::npos) fail("{}: GSM8K answer has no '#### <number>' line", where);
  std::string n = trim(full.substr(at + 4));
  n.erase(std::remove(n.begin(), n.end(), ','), n.end());
  q.answer = n;
  return q;
}

Question from_jsonl_line(const ojson& j, const std::string& where, const std::string& fallback_id) {
  if (!j.is_object()) fail("{}: each line must be a JSON object", where);
  if (j.contains("choices") && j.contains("question")) return from_mmlu(j, where, fallback_id);
  if (j.contains("question") && !j.contains("prompt")) return from_gsm8k(j, where, fallback_id);
  return from_ours(j, ojson::object(), where, fallback_id);
}

// RFC 4180 CSV: fields separated by commas, quoted with "" doubling; records end at a newline outside
// quotes. Returns records with the line each starts on.
std::vector<std::pair<size_t, std::vector<std::string>>> parse_csv(const std::string& text, const std::string& name) {
  std::vector<std::pair<size_t, std::vector<std::string>>> rows;
  std::vector<std::string> rec;
  std::string field;
  bool quoted = false, any = false;
  size_t line = 1, rec_line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) quoted = true, any = true;
    else if (c == ',') rec.push_back(std::move(field)), field.clear(), any = true;
    else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) rec.push_back(std::move(field)), rows.emplace_back(rec_line, std::move(rec));
      rec.clear(), field.clear(), any = false;
      rec_line = ++line;
    } else field += c, any = true;
  }
  if (quoted) fail("{}: line {}: unterminated quoted field", name, rec_line);
  if (any || !field.empty()) rec.push_back(std::move(field)), rows.emplace_back(rec_line, std::move(rec));
  return rows;
}

}  // namespace

const char* answer_type_name(AnswerType t) {
  switch (t) {
    case AnswerType::choice: return "choice";
    case AnswerType::number: return "number";
    case AnswerType::text: return "text";
    case AnswerType::tool_name: return "tool_name";
    case AnswerType::tool_args: return "tool_args";
  }
  return "?";
}

AnswerType parse_answer_type(const std::string& name, const std::string& where) {
  for (AnswerType t : {AnswerType::choice, AnswerType::number, AnswerType::text, AnswerType::tool_name, AnswerType::tool_args})
    if (name == answer_type_name(t)) return t;
  fail("{}: unknown type '{}' (choice, number, text, tool_name, tool_args)", where, name);
}

std::string option_letter(size_t i) { return std::string(1, char('A' + i)); }

QuestionSet parse_questions(const std::string& text, const std::string& name) {
  QuestionSet set;
  set.source = name;
  const std::string what = "evaluate: " + name;
  if (ends_with(name, ".csv")) {
    for (auto& [line, rec] : parse_csv(text, what)) {
      const std::string where = fmt::format("{}: line {}", what, line);
      if (rec.size() != 6) fail("{}: expected 6 fields (question, A, B, C, D, answer), got {}", where, rec.size());
      Question q;
      q.id = fmt::format("{}-{}", stem(name), set.questions.size() + 1);
      q.category = "mmlu";
      q.type = AnswerType::choice;
      q.prompt = rec[0];
      q.options.assign(rec.begin() + 1, rec.begin() + 5);
      q.answer = trim(rec[5]);
      validate(q, where);
      set.questions.push_back(std::move(q));
    }
  } else if (ends_with(name, ".jsonl")) {
    size_t line = 0, start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      ++line;
      const std::string l = trim(text.substr(start, end - start));
      start = end + 1;
      if (l.empty()) continue;
      const std::string where = fmt::format("{}: line {}", what, line);
      ojson j;
      try {
        j = ojson::parse(l);
      } catch (const std::exception& e) {
        fail("{}: not JSON ({})", where, e.what());
      }
      Question q = from_jsonl_line(j, where, fmt::format("{}-{}", stem(name), line));
      validate(q, where);
      set.questions.push_back(std::move(q));
    }
  } else if (ends_with(name, ".json")) {
    ojson j;
    try {
      j = ojson::parse(text);
    } catch (const std::exception& e) {
      fail("{}: not JSON ({})", what, e.what());
    }
    const ojson* list = &j;
    ojson tools = ojson::object();
    if (j.is_object()) {
      if (!j.contains("questions") || !j["questions"].is_array()) fail("{}: no \"questions\" array", what);
      list = &j["questions"];
      if (j.contains("tools")) tools = j["tools"];
      if (!tools.is_object()) fail("{}: \"tools\" must be an object of name -> definition", what);
    } else if (!j.is_array()) {
      fail("{}: expected an object with \"questions\" or an array of questions", what);
    }
    for (size_t i = 0; i < list->size(); ++i) {
      const ojson& e = (*list)[i];
      std::string where = fmt::format("{}: question {}", what, i + 1);
      if (!e.is_object()) fail("{}: must be an object", where);
      if (e.contains("id") && e["id"].is_string()) where += " (" + e["id"].get<std::string>() + ")";
      Question q = from_ours(e, tools, where, fmt::format("{}-{}", stem(name), i + 1));
      validate(q, where);
      set.questions.push_back(std::move(q));
    }
  } else {
    fail("{}: unknown question file type (expected .json, .jsonl or .csv)", what);
  }
  if (set.questions.empty()) fail("{}: no questions", what);
  std::set<std::string> ids;
  for (const auto& q : set.questions)
    if (!ids.insert(q.id).second) fail("{}: question id '{}' appears twice", what, q.id);
  return set;
}

QuestionSet load_questions(const std::string& path) {
  if (!file_exists(path)) fail("evaluate: {}: no such question file", path);
  return parse_questions(read_text_file(path), path);
}

std::vector<std::string> categories_of(const std::vector<Question>& qs) {
  std::vector<std::string> cats;
  for (const auto& q : qs)
    if (std::find(cats.begin(), cats.end(), q.category) == cats.end()) cats.push_back(q.category);
  return cats;
}

std::vector<Question> select_questions(const std::vector<Question>& qs, const std::vector<std::string>& categories,
                                       int n) {
  const std::vector<std::string> known = categories_of(qs);
  for (const auto& c : categories)
    if (std::find(known.begin(), known.end(), c) == known.end())
      fail("evaluate: unknown category '{}' (this set has: {})", c, fmt::join(known, ", "));
  std::vector<std::vector<const Question*>> by_cat;
  for (const auto& c : known) {
    if (!categories.empty() && std::find(categories.begin(), categories.end(), c) == categories.end()) continue;
    by_cat.emplace_back();
    for (const auto& q : qs)
      if (q.category == c) by_cat.back().push_back(&q);
  }
  size_t total = 0;
  for (const auto& v : by_cat) total += v.size();
  const size_t want = n <= 0 ? total : std::min(total, size_t(n));
  std::vector<Question> out;
  for (size_t round = 0; out.size() < want; ++round)
    for (const auto& v : by_cat)
      if (round < v.size() && out.size() < want) out.push_back(*v[round]);
  return out;
}

}  // namespace pj::eval
