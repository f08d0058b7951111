// The values a chat template computes with: JSON-like data (undefined, none, bool, int, float, string,
// list, dict with insertion order) plus the two Jinja-only kinds a template can make itself (a namespace()
// object and a callable: macro, caller() or built-in function). Printing, equality, ordering and tojson
// follow Python, because the reference is jinja2 running under CPython.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pj::chat {

class Value;
using List = std::vector<Value>;
struct Dict;
struct Callable;

class Value {
 public:
  enum class Type { undefined, none, boolean, integer, floating, string, list, dict, ns, callable };

  Value() = default;  // undefined
  static Value undefined(std::string name = {}) { Value v; v.s_ = std::move(name); return v; }
  static Value none() { Value v; v.t_ = Type::none; return v; }
  Value(bool b) : t_(Type::boolean), i_(b) {}
  Value(int64_t i) : t_(Type::integer), i_(i) {}
  Value(int i) : t_(Type::integer), i_(i) {}
  Value(double f) : t_(Type::floating), f_(f) {}
  Value(std::string s) : t_(Type::string), s_(std::move(s)) {}
  Value(const char* s) : t_(Type::string), s_(s) {}
  Value(List l);
  Value(Dict d);
  static Value namespace_(Dict d);
  static Value callable(std::shared_ptr<Callable> c);
  static Value from_json(const nlohmann::ordered_json& j);

  Type type() const { return t_; }
  bool is_undefined() const { return t_ == Type::undefined; }
  bool is_none() const { return t_ == Type::none; }
  bool is_bool() const { return t_ == Type::boolean; }
  bool is_int() const { return t_ == Type::integer; }
  bool is_float() const { return t_ == Type::floating; }
  bool is_number() const { return t_ == Type::integer || t_ == Type::floating || t_ == Type::boolean; }
  bool is_string() const { return t_ == Type::string; }
  bool is_list() const { return t_ == Type::list; }
  bool is_dict() const { return t_ == Type::dict; }
  bool is_namespace() const { return t_ == Type::ns; }
  bool is_callable() const { return t_ == Type::callable; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return t_ == Type::floating ? static_cast<int64_t>(f_) : i_; }
  double as_float() const { return t_ == Type::floating ? f_ : static_cast<double>(i_); }
  const std::string& str() const { return s_; }  // the string, or an undefined value's name
  const List& list() const { return *list_; }
  const Dict& dict() const { return *dict_; }  // dict or namespace
  Dict& mutable_dict() const { return *dict_; }
  const std::shared_ptr<Callable>& fn() const { return fn_; }

  bool truthy() const;
  // Python str(): what {{ x }} prints. Undefined prints as "".
  std::string to_str() const;
  // Python repr(): how strings look inside a printed list or dict.
  std::string repr() const;
  // json.dumps(x, ensure_ascii=False, indent=indent) as Hugging Face's tojson filter calls it;
  // indent < 0 means None (one line, ", " and ": " separators).
  std::string to_json(int indent = -1) const;
  const char* type_name() const;

 private:
  void dump_json(std::string& out, int indent, int depth) const;

  Type t_ = Type::undefined;
  int64_t i_ = 0;
  double f_ = 0.0;
  std::string s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Callable> fn_;
};

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value v);
};

// Python ==, and < for the types Python can order (numbers, strings, lists); throws pj::Error otherwise.
bool equal(const Value& a, const Value& b);
bool less(const Value& a, const Value& b);

// Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16.
std::string python_float(double f);

// Strings are UTF-8; Python indexes them by code point.
std::vector<std::string> split_code_points(const std::string& s);
bool is_python_space(uint32_t cp);

}  // namespace pj::chat
