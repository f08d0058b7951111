#include "apps/eval/match.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace pj::eval {

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return {};
  return s.substr(a, s.find_last_not_of(ws) + 1 - a);
}

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// True if `needle` occurs in `hay` with neither neighbour satisfying `joins` (a character that would
// make the occurrence part of a longer token).
template <typename Joins>
bool occurs_standalone(const std::string& hay, const std::string& needle, Joins joins) {
  if (needle.empty()) return false;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) {
    const bool left_ok = at == 0 || !joins(hay[at - 1], hay, at - 1);
    const size_t end = at + needle.size();
    const bool right_ok = end >= hay.size() || !joins(hay[end], hay, end);
    if (left_ok && right_ok) return true;
  }
  return false;
}

// The first balanced {...} in `s` (strings and escapes respected), or "".
std::string first_json_object(const std::string& s) {
  for (size_t start = s.find('{'); start != std::string::npos; start = s.find('{', start + 1)) {
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = start; i < s.size(); ++i) {
      const char c = s[i];
      if (in_str) {
        if (esc) esc = false;
        else if (c == '\\') esc = true;
        else if (c == '"') in_str = false;
      } else if (c == '"') {
        in_str = true;
      } else if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        return s.substr(start, i + 1 - start);
      }
    }
  }
  return {};
}

bool json_equals(const std::string& text, const std::string& expected) {
  const auto got = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (got.is_discarded()) return false;
  return got == nlohmann::json::parse(expected);
}

}  // namespace

std::string strip_reasoning(const std::string& reply) {
  static const std::string open = "<think>", close = "</think>";
  std::string s = reply;
  for (size_t a = s.find(open); a != std::string::npos; a = s.find(open, a)) {
    const size_t b = s.find(close, a + open.size());
    if (b == std::string::npos) {
      s.erase(a);  // unclosed: the rest is reasoning cut short
      break;
    }
    s.erase(a, b + close.size() - a);
  }
  const size_t orphan = s.rfind(close);
  if (orphan != std::string::npos) s.erase(0, orphan + close.size());
  return trim(s);
}

bool strict_match(const Question& q, const std::string& parsed) {
  if (q.type == AnswerType::tool_args) return json_equals(parsed, q.answer);
  return parsed == q.answer;
}

bool lenient_match(const Question& q, const std::string& parsed) {
  switch (q.type) {
    case AnswerType::choice:
      return occurs_standalone(parsed, q.answer, [](char c, const std::string&, size_t) { return is_alnum(c); });
    case AnswerType::number: {
      std::string s;
      for (size_t i = 0; i < parsed.size(); ++i)  // drop thousands separators: 1,000 -> 1000
        if (!(parsed[i] == ',' && i > 0 && is_digit(parsed[i - 1]) && i + 1 < parsed.size() && is_digit(parsed[i + 1])))
          s += parsed[i];
      // A neighbouring digit, or a '.' or '-' that runs into a digit, would make it another number
      // (15, 0.5, 5.5, -5 do not contain 5).
      return occurs_standalone(s, q.answer, [](char c, const std::string& h, size_t i) {
        return is_digit(c) || ((c == '.' || c == '-') && i + 1 < h.size() && is_digit(h[i + 1]));
      });
    }
    case AnswerType::text:
    case AnswerType::tool_name:
      return occurs_standalone(lower(parsed), lower(q.answer),
                               [](char c, const std::string&, size_t) { return is_alnum(c) || c == '_'; });
    case AnswerType::tool_args: {
      const std::string obj = first_json_object(parsed);
      return !obj.empty() && json_equals(obj, q.answer);
    }
  }
  return false;
}

}  // namespace pj::eval
