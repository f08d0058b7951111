#include "models/chat/builtins.h"

#include "core/base/error.h"

#include <algorithm>
#include <cmath>

namespace pj::chat {

namespace {

struct CodePoint {
  uint32_t cp;
  size_t off, len;
};

std::vector<CodePoint> decode(const std::string& s) {
  std::vector<CodePoint> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
    if (i + n > s.size()) n = s.size() - i;
    uint32_t cp = n == 1 ? c : c & (0xff >> (n + 1));
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    out.push_back({cp, i, n});
    i += n;
  }
  return out;
}

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}
std::string ascii_upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Python str.title(): a letter after a non-letter is upper-cased, every other letter lower-cased.
std::string python_title(const std::string& s) {
  std::string out = s;
  bool prev_letter = false;
  for (char& c : out) {
    if (is_alpha(c)) {
      c = prev_letter ? ascii_lower(std::string(1, c))[0] : ascii_upper(std::string(1, c))[0];
      prev_letter = true;
    } else {
      prev_letter = (static_cast<unsigned char>(c) & 0x80) != 0 && prev_letter;
    }
  }
  return out;
}

// jinja2's title filter: words start after whitespace or one of - ( { [ <.
std::string jinja_title(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (char& c : out) {
    bool sep = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '-' || c == '(' ||
               c == '{' || c == '[' || c == '<';
    if (sep) {
      start = true;
      continue;
    }
    c = start ? ascii_upper(std::string(1, c))[0] : ascii_lower(std::string(1, c))[0];
    start = false;
  }
  return out;
}

std::string capitalize(const std::string& s) {
  if (s.empty()) return s;
  return ascii_upper(s.substr(0, 1)) + ascii_lower(s.substr(1));
}

int64_t to_int_arg(const Value* v, const char* what, int64_t def) {
  if (!v || v->is_none()) return def;
  if (!v->is_int() && !v->is_bool()) fail("{} expects an integer, got {}", what, v->type_name());
  return v->as_int();
}

std::vector<std::string> python_split(const std::string& s, const Value* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (!sep || sep->is_none()) {
    // split on runs of whitespace, dropping empty pieces
    auto cps = decode(s);
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_python_space(cps[i].cp)) ++i;
      if (i == cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        size_t end = cps.size();
        while (end > i && is_python_space(cps[end - 1].cp)) --end;
        out.push_back(s.substr(cps[i].off, cps[end - 1].off + cps[end - 1].len - cps[i].off));
        return out;
      }
      size_t j = i;
      while (j < cps.size() && !is_python_space(cps[j].cp)) ++j;
      size_t end_off = j < cps.size() ? cps[j].off : s.size();
      out.push_back(s.substr(cps[i].off, end_off - cps[i].off));
      i = j;
    }
    return out;
  }
  if (!sep->is_string()) fail("split: separator must be a string");
  const std::string& d = sep->str();
  if (d.empty()) fail("split: empty separator");
  size_t pos = 0;
  while (true) {
    size_t f = s.find(d, pos);
    if (f == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit)) {
      out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, f - pos));
    pos = f + d.size();
  }
}

std::string python_replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` between every code point
    auto cps = decode(s);
    int64_t n = 0;
    for (const auto& c : cps) {
      if (count < 0 || n < count) {
        out += to;
        ++n;
      }
      out += s.substr(c.off, c.len);
    }
    if (count < 0 || n < count) out += to;
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (true) {
    size_t f = s.find(from, pos);
    if (f == std::string::npos || (count >= 0 && n >= count)) {
      out += s.substr(pos);
      return out;
    }
    out += s.substr(pos, f - pos) + to;
    pos = f + from.size();
    ++n;
  }
}

bool starts_or_ends(const std::string& s, const Value& arg, bool start) {
  auto one = [&](const Value& p) {
    if (!p.is_string()) fail("{}: argument must be a string or a tuple of strings", start ? "startswith" : "endswith");
    const std::string& x = p.str();
    if (x.size() > s.size()) return false;
    return start ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (arg.is_list()) {
    for (const auto& p : arg.list())
      if (one(p)) return true;
    return false;
  }
  return one(arg);
}

// Attribute lookup as jinja2's environment.getattr does it for plain data: dict key, else undefined.
Value get_attribute(const Value& v, const std::string& attr) {
  if (v.is_dict() || v.is_namespace()) {
    const Value* f = v.dict().find(attr);
    return f ? *f : Value::undefined(attr);
  }
  if (v.is_undefined()) fail("'{}' is undefined", v.str().empty() ? attr : v.str());
  return Value::undefined(attr);
}

// selectattr/map take dotted attribute paths ("function.name").
Value get_attribute_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric && cur.is_list()) cur = python_getitem(cur, Value(static_cast<int64_t>(std::stoll(part))));
    else cur = get_attribute(cur, part);
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

Value select_items(const Value& seq, const Args& a, bool by_attr, bool keep) {
  List out;
  size_t first_test_arg = by_attr ? 1 : 0;
  std::string attr;
  if (by_attr) {
    const Value* at = a.get(0, "attribute");
    if (!at || !at->is_string()) fail("selectattr/rejectattr need an attribute name");
    attr = at->str();
  }
  const Value* test = a.pos.size() > first_test_arg ? &a.pos[first_test_arg] : nullptr;
  Args targs;
  for (size_t i = first_test_arg + 1; i < a.pos.size(); ++i) targs.pos.push_back(a.pos[i]);
  for (const Value& item : iterate(seq)) {
    Value subject = by_attr ? get_attribute_path(item, attr) : item;
    bool ok;
    if (!test) {
      ok = subject.truthy();
    } else {
      if (!test->is_string()) fail("select: test name must be a string");
      auto r = apply_test(test->str(), subject, targs);
      if (!r) fail("unsupported test '{}'", test->str());
      ok = *r;
    }
    if (ok == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

}  // namespace

const Value* Args::get(size_t i, const char* name) const {
  if (i < pos.size()) return &pos[i];
  if (name)
    for (const auto& [k, v] : kw)
      if (k == name) return &v;
  return nullptr;
}

void Args::check(const char* what, size_t max_pos, std::initializer_list<const char*> names) const {
  if (pos.size() > max_pos) fail("{}: too many arguments ({})", what, pos.size());
  for (const auto& [k, v] : kw) {
    bool ok = false;
    for (const char* n : names)
      if (k == n) ok = true;
    if (!ok) fail("{}: unsupported argument '{}'", what, k);
  }
}

List iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::undefined: return {};
    case Value::Type::list: return v.list();
    case Value::Type::dict: {
      List keys;
      for (const auto& [k, x] : v.dict().items) keys.emplace_back(k);
      return keys;
    }
    case Value::Type::string: {
      List out;
      for (auto& c : split_code_points(v.str())) out.emplace_back(std::move(c));
      return out;
    }
    default: fail("'{}' object is not iterable", v.type_name());
  }
}

std::string strip_chars(const std::string& s, const Value* chars, bool left, bool right) {
  auto cps = decode(s);
  std::vector<CodePoint> set;
  bool ws = !chars || chars->is_none();
  if (!ws) {
    if (!chars->is_string()) fail("strip: argument must be a string");
    set = decode(chars->str());
  }
  auto strip_it = [&](uint32_t cp) {
    if (ws) return is_python_space(cp);
    for (const auto& c : set)
      if (c.cp == cp) return true;
    return false;
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b].cp)) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1].cp)) --e;
  if (b == e) return "";
  return s.substr(cps[b].off, cps[e - 1].off + cps[e - 1].len - cps[b].off);
}

Value python_getitem(const Value& obj, const Value& key) {
  if (obj.is_dict() || obj.is_namespace()) {
    if (!key.is_string()) return Value::undefined();
    const Value* f = obj.dict().find(key.str());
    return f ? *f : Value::undefined(key.str());
  }
  if (obj.is_list() || obj.is_string()) {
    if (!key.is_int() && !key.is_bool()) {
      if (key.is_string()) return Value::undefined(key.str());  // e.g. list['x']: jinja2 gives undefined
      fail("indices must be integers, not {}", key.type_name());
    }
    int64_t i = key.as_int();
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.list().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined();
      return obj.list()[static_cast<size_t>(i)];
    }
    auto cps = split_code_points(obj.str());
    int64_t n = static_cast<int64_t>(cps.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined();
    return Value(cps[static_cast<size_t>(i)]);
  }
  if (obj.is_undefined()) fail("'{}' is undefined", obj.str());
  return Value::undefined();
}

Value python_slice(const Value& obj, const Value* start, const Value* stop, const Value* step) {
  auto arg = [](const Value* v) -> std::optional<int64_t> {
    if (!v || v->is_none()) return std::nullopt;
    if (!v->is_int() && !v->is_bool()) fail("slice indices must be integers or None");
    return v->as_int();
  };
  int64_t st = arg(step).value_or(1);
  if (st == 0) fail("slice step cannot be zero");
  List items;
  bool is_str = obj.is_string();
  std::vector<std::string> cps;
  if (is_str) cps = split_code_points(obj.str());
  else if (obj.is_list()) items = obj.list();
  else if (obj.is_undefined()) fail("'{}' is undefined", obj.str());
  else fail("'{}' object is not subscriptable", obj.type_name());
  int64_t n = static_cast<int64_t>(is_str ? cps.size() : items.size());
  // CPython's PySlice_AdjustIndices
  auto adjust = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  int64_t b = adjust(arg(start), st < 0 ? n - 1 : 0);
  int64_t e = adjust(arg(stop), st < 0 ? -1 : n);
  std::string s_out;
  List l_out;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) {
    if (is_str) s_out += cps[static_cast<size_t>(i)];
    else l_out.push_back(items[static_cast<size_t>(i)]);
  }
  return is_str ? Value(std::move(s_out)) : Value(std::move(l_out));
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", item.type_name());
    return container.str().find(item.str()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const auto& x : container.list())
      if (equal(x, item)) return true;
    return false;
  }
  if (container.is_dict()) return item.is_string() && container.dict().find(item.str()) != nullptr;
  if (container.is_undefined()) return false;
  fail("argument of type '{}' is not iterable", container.type_name());
}

std::optional<bool> apply_test(const std::string& name, const Value& v, const Args& a) {
  const Value* arg = a.get(0, nullptr);
  auto need_arg = [&]() -> const Value& {
    if (!arg) fail("test '{}' needs an argument", name);
    return *arg;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  // jinja2's Undefined has __iter__ and __len__, so it passes these two
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "callable") return v.is_callable();
  if (name == "in") return contains(need_arg(), v);
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") return equal(v, need_arg());
  if (name == "ne" || name == "!=") return !equal(v, need_arg());
  if (name == "lt" || name == "lessthan" || name == "<") return less(v, need_arg());
  if (name == "gt" || name == "greaterthan" || name == ">") return less(need_arg(), v);
  if (name == "le" || name == "<=") return !less(need_arg(), v);
  if (name == "ge" || name == ">=") return !less(v, need_arg());
  if (name == "odd" || name == "even") {
    if (!v.is_int()) fail("test '{}' needs an integer", name);
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    int64_t d = need_arg().as_int();
    if (d == 0) fail("divisibleby 0");
    return v.as_int() % d == 0;
  }
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    bool cased = false;
    for (char c : v.str()) {
      if (is_alpha(c)) {
        cased = true;
        if ((name == "lower") != (c >= 'a' && c <= 'z')) return false;
      }
    }
    return cased;
  }
  return std::nullopt;
}

std::optional<Value> apply_filter(const std::string& name, const Value& v, const Args& a) {
  if (name == "trim") {
    a.check("trim", 1, {"chars"});
    return Value(strip_chars(v.to_str(), a.get(0, "chars"), true, true));
  }
  if (name == "tojson") {
    a.check("tojson", 1, {"indent", "ensure_ascii", "sort_keys", "separators"});
    for (const auto& [k, x] : a.kw)
      if (k != "indent" && !(k == "ensure_ascii" && x.is_bool() && !x.as_bool()) &&
          !(k == "sort_keys" && x.is_bool() && !x.as_bool()) && !(k == "separators" && x.is_none()))
        fail("tojson: unsupported argument {}={}", k, x.repr());
    const Value* ind = a.get(0, "indent");
    int indent = -1;
    if (ind && !ind->is_none()) {
      if (!ind->is_int()) fail("tojson: indent must be an integer");
      indent = static_cast<int>(std::max<int64_t>(0, ind->as_int()));
    }
    return Value(v.to_json(indent));
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value(static_cast<int64_t>(split_code_points(v.str()).size()));
    if (v.is_list()) return Value(static_cast<int64_t>(v.list().size()));
    if (v.is_dict()) return Value(static_cast<int64_t>(v.dict().items.size()));
    if (v.is_undefined()) return Value(int64_t{0});
    fail("object of type '{}' has no len()", v.type_name());
  }
  if (name == "lower") return Value(ascii_lower(v.to_str()));
  if (name == "upper") return Value(ascii_upper(v.to_str()));
  if (name == "capitalize") return Value(capitalize(v.to_str()));
  if (name == "title") return Value(jinja_title(v.to_str()));
  if (name == "string") return v.is_string() ? v : Value(v.to_str());
  if (name == "safe") return v;
  if (name == "first" || name == "last") {
    List items = iterate(v);
    if (items.empty()) return Value::undefined();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value(iterate(v));
  if (name == "reverse") {
    if (v.is_string()) {
      Value step(int64_t{-1});
      return python_slice(v, nullptr, nullptr, &step);
    }
    List items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "join") {
    a.check("join", 2, {"d", "attribute"});
    const Value* d = a.get(0, "d");
    const Value* attr = a.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& x : iterate(v)) {
      if (!first) out += d ? d->to_str() : "";
      first = false;
      out += (attr ? get_attribute_path(x, attr->to_str()) : x).to_str();
    }
    return Value(out);
  }
  if (name == "default" || name == "d") {
    a.check("default", 2, {"default_value", "boolean"});
    const Value* def = a.get(0, "default_value");
    const Value* boolean = a.get(1, "boolean");
    bool use_default = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
    return use_default ? (def ? *def : Value("")) : v;
  }
  if (name == "items") {
    if (v.is_undefined()) return Value(List{});
    if (!v.is_dict()) fail("items: expected a dict, got {}", v.type_name());
    List out;
    for (const auto& [k, x] : v.dict().items) out.emplace_back(List{Value(k), x});
    return Value(std::move(out));
  }
  if (name == "dictsort") {
    if (!v.is_dict()) fail("dictsort: expected a dict, got {}", v.type_name());
    List out;
    for (const auto& [k, x] : v.dict().items) out.emplace_back(List{Value(k), x});
    std::stable_sort(out.begin(), out.end(), [](const Value& p, const Value& q) {
      return ascii_lower(p.list()[0].str()) < ascii_lower(q.list()[0].str());
    });
    return Value(std::move(out));
  }
  if (name == "selectattr") return select_items(v, a, true, true);
  if (name == "rejectattr") return select_items(v, a, true, false);
  if (name == "select") return select_items(v, a, false, true);
  if (name == "reject") return select_items(v, a, false, false);
  if (name == "map") {
    List out;
    const Value* attr = nullptr;
    for (const auto& [k, x] : a.kw)
      if (k == "attribute") attr = &x;
    const Value* def = nullptr;
    for (const auto& [k, x] : a.kw)
      if (k == "default") def = &x;
    if (attr) {
      for (const Value& x : iterate(v)) {
        Value r = get_attribute_path(x, attr->to_str());
        out.push_back(r.is_undefined() && def ? *def : r);
      }
      return Value(std::move(out));
    }
    if (a.pos.empty() || !a.pos[0].is_string()) fail("map: needs attribute= or a filter name");
    Args rest;
    rest.pos.assign(a.pos.begin() + 1, a.pos.end());
    for (const Value& x : iterate(v)) {
      auto r = apply_filter(a.pos[0].str(), x, rest);
      if (!r) fail("unsupported filter '{}'", a.pos[0].str());
      out.push_back(*r);
    }
    return Value(std::move(out));
  }
  if (name == "replace") {
    a.check("replace", 3, {"old", "new", "count"});
    const Value* from = a.get(0, "old");
    const Value* to = a.get(1, "new");
    if (!from || !to) fail("replace needs two arguments");
    return Value(python_replace(v.to_str(), from->to_str(), to->to_str(), to_int_arg(a.get(2, "count"), "replace", -1)));
  }
  if (name == "int") {
    const Value* def = a.get(0, "default");
    int64_t d = def ? def->as_int() : 0;
    if (v.is_int() || v.is_bool()) return Value(v.as_int());
    if (v.is_float()) return Value(static_cast<int64_t>(v.as_float()));
    if (v.is_string()) {
      std::string s = strip_chars(v.str(), nullptr, true, true);
      try {
        size_t used = 0;
        int64_t r = std::stoll(s, &used, 10);
        if (used == s.size()) return Value(r);
        double f = std::stod(s, &used);
        if (used == s.size()) return Value(static_cast<int64_t>(f));
      } catch (const std::exception&) {
      }
    }
    return Value(d);
  }
  if (name == "float") {
    if (v.is_number()) return Value(v.as_float());
    if (v.is_string()) {
      try {
        size_t used = 0;
        std::string s = strip_chars(v.str(), nullptr, true, true);
        double f = std::stod(s, &used);
        if (used == s.size()) return Value(f);
      } catch (const std::exception&) {
      }
    }
    const Value* def = a.get(0, "default");
    return Value(def ? def->as_float() : 0.0);
  }
  if (name == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.is_number()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    fail("abs: bad operand type {}", v.type_name());
  }
  if (name == "unique") {
    List out;
    for (const Value& x : iterate(v)) {
      bool seen = false;
      for (const Value& y : out)
        if (x.is_string() && y.is_string() ? ascii_lower(x.str()) == ascii_lower(y.str()) : equal(x, y)) seen = true;
      if (!seen) out.push_back(x);
    }
    return Value(std::move(out));
  }
  if (name == "sum") {
    Value acc(int64_t{0});
    bool is_f = false;
    double f = 0;
    int64_t i = 0;
    for (const Value& x : iterate(v)) {
      if (!x.is_number()) fail("sum: unsupported operand {}", x.type_name());
      if (x.is_float()) is_f = true;
      f += x.as_float();
      i += x.as_int();
    }
    return is_f ? Value(f) : Value(i);
  }
  if (name == "min" || name == "max") {
    List items = iterate(v);
    if (items.empty()) return Value::undefined();
    Value best = items[0];
    for (const Value& x : items)
      if (name == "min" ? less(x, best) : less(best, x)) best = x;
    return best;
  }
  if (name == "sort") {
    a.check("sort", 3, {"reverse", "case_sensitive", "attribute"});
    const Value* rev = a.get(0, "reverse");
    const Value* cs = a.get(1, "case_sensitive");
    const Value* attr = a.get(2, "attribute");
    List items = iterate(v);
    bool case_sensitive = cs && cs->truthy();
    auto key = [&](const Value& x) {
      Value k = attr ? get_attribute_path(x, attr->to_str()) : x;
      return k.is_string() && !case_sensitive ? Value(ascii_lower(k.str())) : k;
    };
    std::stable_sort(items.begin(), items.end(), [&](const Value& p, const Value& q) {
      return rev && rev->truthy() ? less(key(q), key(p)) : less(key(p), key(q));
    });
    return Value(std::move(items));
  }
  if (name == "indent") {
    a.check("indent", 3, {"width", "first", "blank"});
    const Value* w = a.get(0, "width");
    std::string pad = w && w->is_string() ? w->str() : std::string(static_cast<size_t>(to_int_arg(w, "indent", 4)), ' ');
    bool first = a.get(1, "first") && a.get(1, "first")->truthy();
    bool blank = a.get(2, "blank") && a.get(2, "blank")->truthy();
    std::string s = v.to_str();
    std::string out;
    size_t pos = 0;
    bool first_line = true;
    while (true) {
      size_t nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      bool indent_it = first_line ? first : (blank || !line.empty());
      if (indent_it) out += pad;
      out += line;
      if (nl == std::string::npos) break;
      out += '\n';
      pos = nl + 1;
      first_line = false;
    }
    return Value(out);
  }
  return std::nullopt;
}

std::optional<Value> call_method(const Value& obj, const std::string& name, const Args& a) {
  if (obj.is_string()) {
    const std::string& s = obj.str();
    if (name == "startswith" || name == "endswith") {
      if (a.pos.size() != 1) fail("{} takes one argument", name);
      return Value(starts_or_ends(s, a.pos[0], name == "startswith"));
    }
    if (name == "strip") return Value(strip_chars(s, a.get(0, nullptr), true, true));
    if (name == "lstrip") return Value(strip_chars(s, a.get(0, nullptr), true, false));
    if (name == "rstrip") return Value(strip_chars(s, a.get(0, nullptr), false, true));
    if (name == "split") {
      List out;
      for (auto& p : python_split(s, a.get(0, "sep"), to_int_arg(a.get(1, "maxsplit"), "split", -1)))
        out.emplace_back(std::move(p));
      return Value(std::move(out));
    }
    if (name == "replace") {
      if (a.pos.size() < 2 || !a.pos[0].is_string() || !a.pos[1].is_string())
        fail("replace takes two string arguments");
      return Value(python_replace(s, a.pos[0].str(), a.pos[1].str(), to_int_arg(a.get(2, "count"), "replace", -1)));
    }
    if (name == "upper") return Value(ascii_upper(s));
    if (name == "lower") return Value(ascii_lower(s));
    if (name == "title") return Value(python_title(s));
    if (name == "capitalize") return Value(capitalize(s));
    if (name == "find") {
      if (a.pos.size() != 1 || !a.pos[0].is_string()) fail("find takes one string argument");
      size_t f = s.find(a.pos[0].str());
      if (f == std::string::npos) return Value(int64_t{-1});
      return Value(static_cast<int64_t>(split_code_points(s.substr(0, f)).size()));
    }
    if (name == "count") {
      if (a.pos.size() != 1 || !a.pos[0].is_string() || a.pos[0].str().empty()) fail("count takes one non-empty string");
      int64_t n = 0;
      for (size_t p = s.find(a.pos[0].str()); p != std::string::npos; p = s.find(a.pos[0].str(), p + a.pos[0].str().size()))
        ++n;
      return Value(n);
    }
    if (name == "join") {
      if (a.pos.size() != 1) fail("join takes one argument");
      std::string out;
      bool first = true;
      for (const Value& x : iterate(a.pos[0])) {
        if (!x.is_string()) fail("join: sequence item is {}, not a string", x.type_name());
        if (!first) out += s;
        first = false;
        out += x.str();
      }
      return Value(out);
    }
    return std::nullopt;
  }
  if (obj.is_dict()) {
    if (name == "items") return apply_filter("items", obj, {});
    if (name == "keys") return Value(iterate(obj));
    if (name == "values") {
      List out;
      for (const auto& [k, x] : obj.dict().items) out.push_back(x);
      return Value(std::move(out));
    }
    if (name == "get") {
      if (a.pos.empty() || a.pos.size() > 2) fail("get takes one or two arguments");
      const Value* f = a.pos[0].is_string() ? obj.dict().find(a.pos[0].str()) : nullptr;
      if (f) return *f;
      return a.pos.size() == 2 ? a.pos[1] : Value::none();
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace pj::chat
