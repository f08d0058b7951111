// Jinja's filters, tests, global functions and the Python methods on str/dict that chat templates call,
// as jinja2 3.1 defines them. They throw pj::Error with a bare message; the interpreter adds the template
// name and line.
#pragma once

#include "models/chat/value.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pj::chat {

struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;

  // The argument at position i, or given as keyword `name`; nullptr when absent.
  const Value* get(size_t i, const char* name) const;
  // Fails on positional arguments beyond `max_pos` or keywords outside `names`.
  void check(const char* what, size_t max_pos, std::initializer_list<const char*> names) const;
};

// Items a for loop visits: list elements, dict keys, string code points; undefined gives none.
List iterate(const Value& v);

// Each returns nullopt when the name is not one this interpreter implements.
std::optional<Value> apply_filter(const std::string& name, const Value& v, const Args& a);
std::optional<bool> apply_test(const std::string& name, const Value& v, const Args& a);
std::optional<Value> call_method(const Value& obj, const std::string& name, const Args& a);

// Python's str.strip family and a few helpers shared with the interpreter.
std::string strip_chars(const std::string& s, const Value* chars, bool left, bool right);
Value python_getitem(const Value& obj, const Value& key);
Value python_slice(const Value& obj, const Value* start, const Value* stop, const Value* step);
bool contains(const Value& container, const Value& item);

}  // namespace pj::chat
