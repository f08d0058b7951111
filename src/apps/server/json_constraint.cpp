#include "apps/server/json_constraint.h"

#include "core/base/error.h"

#include <map>

namespace pj::server {

namespace {

enum : uint32_t { T_OBJ = 1, T_ARR = 2, T_STR = 4, T_NUM = 8, T_INT = 16, T_BOOL = 32, T_NULL = 64, T_ANY = 127 };
constexpr int kAnyNode = 0;    // node 0 accepts any JSON value
constexpr int kForbidden = -1; // additionalProperties: false
// Whitespace between tokens is capped so that a model cannot stall in an endless run of newlines;
// 12 leaves room for pretty-printed JSON a few levels deep.
constexpr int kMaxWs = 12;
constexpr int kMaxNumberLen = 32;

enum Kind : uint8_t { K_VALUE, K_OBJ, K_ARR, K_STR, K_KEY, K_NUM, K_KW, K_LIT };
enum ObjStage : uint8_t { O_FIRST, O_KEY, O_COLON, O_AFTER };
enum ArrStage : uint8_t { A_FIRST, A_NEXT, A_AFTER };
enum StrStage : uint8_t { S_NORMAL, S_ESC, S_HEX };
enum NumStage : uint8_t { N_START, N_SIGN, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };

bool is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool number_complete(uint8_t st) { return st == N_ZERO || st == N_INT || st == N_FRAC || st == N_EXP; }

struct Node {
  uint32_t types = T_ANY;
  bool literal = false;
  std::vector<std::string> literals;  // enum / const values as compact JSON text
  std::vector<int> alts;              // anyOf / oneOf
  std::vector<std::pair<std::string, int>> props;
  uint64_t required = 0;  // bit i: props[i] is required
  int additional = kAnyNode;
  int items = kAnyNode;
  int64_t min_items = 0, max_items = -1;
};

JsonConstraint::Frame frame(uint8_t kind, uint8_t stage, int node) {
  JsonConstraint::Frame f;
  f.kind = kind;
  f.stage = stage;
  f.node = node;
  return f;
}

}  // namespace

struct JsonConstraint::Schema {
  std::vector<Node> nodes;
};

namespace {

class Compiler {
 public:
  Compiler(const nlohmann::json& root, std::string what, std::vector<Node>& nodes)
      : root_(root), what_(std::move(what)), nodes_(nodes) {}

  int add(const nlohmann::json& s, const std::string& path, int depth) {
    if (s.is_object() && s.contains("$ref")) return ref(s["$ref"], path, depth);
    const int idx = int(nodes_.size());
    nodes_.emplace_back();
    fill(idx, s, path, depth);
    return idx;
  }

 private:
  [[noreturn]] void bad(const std::string& path, const std::string& msg) {
    fail("{}{}: {}", what_, path, msg);
  }

  int ref(const nlohmann::json& r, const std::string& path, int depth) {
    if (!r.is_string()) bad(path, "$ref must be a string");
    const std::string s = r.get<std::string>();
    if (auto it = refs_.find(s); it != refs_.end()) return it->second;
    std::string name;
    const nlohmann::json* defs = nullptr;
    for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
      const std::string p = prefix;
      if (s.rfind(p, 0) == 0) {
        name = s.substr(p.size());
        const std::string key = p.substr(2, p.size() - 3);
        if (root_.is_object() && root_.contains(key)) defs = &root_[key];
      }
    }
    if (name.empty()) bad(path, "$ref '" + s + "' is not supported (only #/$defs/NAME and #/definitions/NAME)");
    if (!defs || !defs->is_object() || !defs->contains(name)) bad(path, "$ref '" + s + "' names no definition");
    const int idx = int(nodes_.size());
    nodes_.emplace_back();
    refs_[s] = idx;  // before filling, so that recursive schemas terminate
    fill(idx, (*defs)[name], path + "/" + s, depth + 1);
    return idx;
  }

  void fill(int idx, const nlohmann::json& s, const std::string& path, int depth) {
    if (depth > 64) bad(path, "schema nested too deeply");
    if (s.is_boolean()) {
      if (!s.get<bool>()) bad(path, "the schema 'false' accepts nothing");
      return;  // any
    }
    if (!s.is_object()) bad(path, "a schema must be an object");
    for (const char* k : {"not", "if", "then", "else", "patternProperties", "prefixItems", "dependentRequired",
                          "dependentSchemas", "propertyNames", "contains", "unevaluatedProperties"})
      if (s.contains(k)) bad(path, std::string("'") + k + "' is not supported");
    if (s.contains("allOf")) {
      const auto& a = s["allOf"];
      if (!a.is_array() || a.size() != 1) bad(path, "allOf is supported with one member only");
      const int sub = add(a[0], path + "/allOf/0", depth + 1);
      Node copy = nodes_[size_t(sub)];
      nodes_[size_t(idx)] = std::move(copy);
      return;
    }
    Node n;
    if (s.contains("enum") || s.contains("const")) {
      n.literal = true;
      if (s.contains("const")) n.literals.push_back(s["const"].dump());
      if (s.contains("enum")) {
        const auto& e = s["enum"];
        if (!e.is_array() || e.empty()) bad(path, "enum must be a non-empty array");
        for (const auto& v : e) n.literals.push_back(v.dump());
      }
      if (n.literals.size() > 64) bad(path, "enum has more than 64 values");
      nodes_[size_t(idx)] = std::move(n);
      return;
    }
    for (const char* k : {"anyOf", "oneOf"})
      if (s.contains(k)) {
        const auto& a = s[k];
        if (!a.is_array() || a.empty()) bad(path, std::string(k) + " must be a non-empty array");
        std::vector<int> alts;
        for (size_t i = 0; i < a.size(); ++i) alts.push_back(add(a[i], path + "/" + k + "/" + std::to_string(i), depth + 1));
        nodes_[size_t(idx)].alts = std::move(alts);
        return;
      }
    if (s.contains("type")) {
      n.types = 0;
      auto one = [&](const nlohmann::json& t) {
        if (!t.is_string()) bad(path, "type must be a string or a list of strings");
        const std::string v = t.get<std::string>();
        if (v == "object") n.types |= T_OBJ;
        else if (v == "array") n.types |= T_ARR;
        else if (v == "string") n.types |= T_STR;
        else if (v == "number") n.types |= T_NUM | T_INT;
        else if (v == "integer") n.types |= T_INT;
        else if (v == "boolean") n.types |= T_BOOL;
        else if (v == "null") n.types |= T_NULL;
        else bad(path, "unknown type '" + v + "'");
      };
      if (s["type"].is_array()) {
        for (const auto& t : s["type"]) one(t);
      } else {
        one(s["type"]);
      }
      if (n.types == 0) bad(path, "type lists no type");
    } else if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) {
      n.types = T_OBJ;
    } else if (s.contains("items")) {
      n.types = T_ARR;
    }
    if (s.contains("properties")) {
      const auto& p = s["properties"];
      if (!p.is_object()) bad(path, "properties must be an object");
      if (p.size() > 64) bad(path, "more than 64 properties");
      for (const auto& [k, v] : p.items()) {
        const int sub = add(v, path + "/properties/" + k, depth + 1);
        n.props.emplace_back(k, sub);
      }
    }
    if (s.contains("additionalProperties")) {
      const auto& a = s["additionalProperties"];
      if (a.is_boolean()) n.additional = a.get<bool>() ? kAnyNode : kForbidden;
      else n.additional = add(a, path + "/additionalProperties", depth + 1);
    }
    if (s.contains("required")) {
      const auto& r = s["required"];
      if (!r.is_array()) bad(path, "required must be an array");
      for (const auto& k : r) {
        if (!k.is_string()) bad(path, "required must list strings");
        size_t i = 0;
        while (i < n.props.size() && n.props[i].first != k.get<std::string>()) ++i;
        if (i == n.props.size()) {
          if (n.additional == kForbidden) bad(path, "required property '" + k.get<std::string>() + "' is not allowed");
          if (i >= 64) bad(path, "more than 64 properties");
          n.props.emplace_back(k.get<std::string>(), n.additional);
        }
        n.required |= uint64_t(1) << i;
      }
    }
    if (s.contains("items")) {
      if (!s["items"].is_object() && !s["items"].is_boolean()) bad(path, "items as a list (tuples) is not supported");
      n.items = add(s["items"], path + "/items", depth + 1);
    }
    auto count = [&](const char* k, int64_t& out) {
      if (!s.contains(k)) return;
      if (!s[k].is_number_integer() || s[k].get<int64_t>() < 0) bad(path, std::string(k) + " must be a non-negative integer");
      out = s[k].get<int64_t>();
    };
    count("minItems", n.min_items);
    count("maxItems", n.max_items);
    nodes_[size_t(idx)] = std::move(n);
  }

  const nlohmann::json& root_;
  std::string what_;
  std::vector<Node>& nodes_;
  std::map<std::string, int> refs_;
};

}  // namespace

JsonConstraint JsonConstraint::any_object() {
  auto s = std::make_shared<Schema>();
  s->nodes.emplace_back();  // any
  Node obj;
  obj.types = T_OBJ;
  s->nodes.push_back(obj);
  JsonConstraint c;
  c.schema_ = std::move(s);
  c.stack_.push_back(frame(K_VALUE, 0, 1));
  return c;
}

JsonConstraint JsonConstraint::from_schema(const nlohmann::json& schema, const std::string& what) {
  auto s = std::make_shared<Schema>();
  s->nodes.emplace_back();  // any
  Compiler comp(schema, what, s->nodes);
  const int root = comp.add(schema, "", 0);
  JsonConstraint c;
  c.schema_ = std::move(s);
  c.stack_.push_back(frame(K_VALUE, 0, root));
  return c;
}

bool JsonConstraint::feed(std::string_view bytes) {
  for (char ch : bytes)
    if (!feed_byte(uint8_t(ch))) return false;
  return true;
}

bool JsonConstraint::can_feed(std::string_view bytes) const {
  JsonConstraint copy = *this;
  return copy.feed(bytes);
}

bool JsonConstraint::complete() const {
  if (done_) return true;
  if (stack_.size() != 1) return false;
  const Frame& f = stack_.back();
  if (f.kind == K_NUM) return number_complete(f.stage);
  if (f.kind == K_LIT) {
    const Node& n = schema_->nodes[size_t(f.node)];
    for (size_t i = 0; i < n.literals.size(); ++i)
      if ((f.bits >> i & 1) && int(n.literals[i].size()) == f.count) return true;
  }
  return false;
}

bool JsonConstraint::value_done() {
  if (stack_.empty()) {
    done_ = true;
    return true;
  }
  Frame& p = stack_.back();
  if (p.kind == K_OBJ) p.stage = O_AFTER;
  if (p.kind == K_ARR) {
    ++p.count;
    p.stage = A_AFTER;
  }
  return true;
}

bool JsonConstraint::start_value(int node, uint8_t c) {
  const Node& n = schema_->nodes[size_t(node)];
  if (!n.alts.empty()) {
    for (int alt : n.alts) {
      JsonConstraint copy = *this;
      copy.stack_.back().node = alt;
      if (copy.start_value(alt, c)) {
        *this = std::move(copy);
        return true;
      }
    }
    return false;
  }
  Frame& f = stack_.back();
  f.node = node;
  f.count = 0;
  f.bits = 0;
  if (n.literal) {
    f.kind = K_LIT;
    f.bits = n.literals.size() == 64 ? ~uint64_t(0) : (uint64_t(1) << n.literals.size()) - 1;
    return feed_byte(c);
  }
  switch (c) {
    case '{':
      if (!(n.types & T_OBJ)) return false;
      f.kind = K_OBJ;
      f.stage = O_FIRST;
      return true;
    case '[':
      if (!(n.types & T_ARR)) return false;
      f.kind = K_ARR;
      f.stage = A_FIRST;
      return true;
    case '"':
      if (!(n.types & T_STR)) return false;
      f.kind = K_STR;
      f.stage = S_NORMAL;
      return true;
    case 't':
    case 'f':
    case 'n':
      if (!(n.types & (c == 'n' ? T_NULL : T_BOOL))) return false;
      f.kind = K_KW;
      f.text = c == 't' ? "true" : c == 'f' ? "false" : "null";
      f.count = 1;
      return true;
    default:
      if (!(c == '-' || is_digit(c)) || !(n.types & (T_NUM | T_INT))) return false;
      f.kind = K_NUM;
      f.stage = N_START;
      return feed_byte(c);
  }
}

bool JsonConstraint::feed_byte(uint8_t c) {
  if (done_ || stack_.empty()) {
    if (!is_ws(c) || ws_run_ >= kMaxWs) return false;
    ++ws_run_;
    return true;
  }
  Frame& f = stack_.back();
  const Node& n = schema_->nodes[size_t(f.node)];
  if (f.kind == K_STR || f.kind == K_KEY) {
    ws_run_ = 0;
    switch (f.stage) {
      case S_ESC:
        if (c == 'u') {
          f.stage = S_HEX;
          f.count = 0;
          return true;
        }
        f.stage = S_NORMAL;
        return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't';
      case S_HEX:
        if (!is_hex(c)) return false;
        if (++f.count == 4) f.stage = S_NORMAL;
        return true;
      default:
        break;
    }
    if (c < 0x20) return false;
    if (f.kind == K_STR) {
      if (c == '\\') f.stage = S_ESC;
      if (c != '"') return true;
      stack_.pop_back();
      return value_done();
    }
    // an object key: the parent object's schema says which names may come
    Frame& obj = stack_[stack_.size() - 2];
    const Node& on = schema_->nodes[size_t(obj.node)];
    if (c == '"') {
      int found = -1;
      for (size_t i = 0; i < on.props.size(); ++i)
        if (on.props[i].first == f.text) found = int(i);
      if (found >= 0 && (obj.bits >> found & 1)) return false;  // a duplicate key
      if (found < 0) {
        if (on.additional == kForbidden) return false;
        // undeclared keys seen so far, each between NULs, in the object frame's spare text
        const std::string k = std::string(1, '\0') + f.text + '\0';
        if (obj.text.find(k) != std::string::npos) return false;
        obj.text += k.substr(obj.text.empty() ? 0 : 1);
      }
      obj.prop = found;
      if (found >= 0) obj.bits |= uint64_t(1) << found;
      obj.stage = O_COLON;
      stack_.pop_back();
      return true;
    }
    if (on.additional == kForbidden) {
      if (c == '\\') return false;  // declared names are matched literally
      f.text.push_back(char(c));
      for (size_t i = 0; i < on.props.size(); ++i)
        if (!(obj.bits >> i & 1) && on.props[i].first.compare(0, f.text.size(), f.text) == 0) return true;
      return false;
    }
    if (c == '\\') f.stage = S_ESC;
    f.text.push_back(char(c));
    return true;
  }

  if (is_ws(c) && f.kind != K_NUM && f.kind != K_KW && f.kind != K_LIT) {
    if (ws_run_ >= kMaxWs) return false;
    ++ws_run_;
    return true;
  }
  if (!is_ws(c)) ws_run_ = 0;

  switch (f.kind) {
    case K_VALUE:
      return start_value(f.node, c);
    case K_OBJ: {
      auto may_close = [&] { return (f.bits & n.required) == n.required; };
      switch (f.stage) {
        case O_FIRST:
        case O_KEY:
          if (c == '"') {
            stack_.push_back(frame(K_KEY, S_NORMAL, f.node));
            return true;
          }
          if (c == '}' && f.stage == O_FIRST && may_close()) {
            stack_.pop_back();
            return value_done();
          }
          return false;
        case O_COLON: {
          if (c != ':') return false;
          const int vnode = f.prop >= 0 ? n.props[size_t(f.prop)].second : n.additional;
          f.stage = O_AFTER;
          stack_.push_back(frame(K_VALUE, 0, vnode));
          return true;
        }
        default:  // O_AFTER
          if (c == ',') {
            bool more = n.additional != kForbidden;
            for (size_t i = 0; i < n.props.size() && !more; ++i) more = !(f.bits >> i & 1);
            if (!more) return false;
            f.stage = O_KEY;
            return true;
          }
          if (c == '}' && may_close()) {
            stack_.pop_back();
            return value_done();
          }
          return false;
      }
    }
    case K_ARR:
      if (f.stage == A_AFTER) {
        if (c == ',' && (n.max_items < 0 || f.count < n.max_items)) {
          f.stage = A_NEXT;
          return true;
        }
        if (c == ']' && f.count >= n.min_items) {
          stack_.pop_back();
          return value_done();
        }
        return false;
      }
      if (c == ']' && f.stage == A_FIRST && n.min_items == 0) {
        stack_.pop_back();
        return value_done();
      }
      if (n.max_items == 0) return false;
      f.stage = A_AFTER;
      stack_.push_back(frame(K_VALUE, 0, n.items));
      return feed_byte(c);
    case K_NUM: {
      const bool int_only = !(n.types & T_NUM);
      uint8_t next = 0xff;
      switch (f.stage) {
        case N_START:
          next = c == '-' ? N_SIGN : c == '0' ? N_ZERO : is_digit(c) ? N_INT : 0xff;
          break;
        case N_SIGN:
          next = c == '0' ? N_ZERO : is_digit(c) ? N_INT : 0xff;
          break;
        case N_ZERO:
        case N_INT:
          if (is_digit(c) && f.stage == N_INT) next = N_INT;
          else if (c == '.' && !int_only) next = N_DOT;
          else if ((c == 'e' || c == 'E') && !int_only) next = N_E;
          break;
        case N_DOT:
          next = is_digit(c) ? N_FRAC : 0xff;
          break;
        case N_FRAC:
          next = is_digit(c) ? N_FRAC : (c == 'e' || c == 'E') ? N_E : 0xff;
          break;
        case N_E:
          next = (c == '+' || c == '-') ? N_ESIGN : is_digit(c) ? N_EXP : 0xff;
          break;
        case N_ESIGN:
        case N_EXP:
          next = is_digit(c) ? N_EXP : 0xff;
          break;
      }
      if (next != 0xff) {
        if (++f.count > kMaxNumberLen) return false;
        f.stage = next;
        return true;
      }
      if (!number_complete(f.stage)) return false;
      stack_.pop_back();
      value_done();
      return feed_byte(c);  // the byte that ended the number belongs to the parent
    }
    case K_KW:
      if (f.text[size_t(f.count)] != char(c)) return false;
      if (size_t(++f.count) == f.text.size()) {
        stack_.pop_back();
        return value_done();
      }
      return true;
    case K_LIT: {
      uint64_t alive = 0;
      bool exact = false;
      for (size_t i = 0; i < n.literals.size(); ++i) {
        if (!(f.bits >> i & 1)) continue;
        const std::string& lit = n.literals[i];
        if (int(lit.size()) == f.count) exact = true;
        else if (lit[size_t(f.count)] == char(c)) alive |= uint64_t(1) << i;
      }
      if (!alive) {
        if (!exact) return false;
        stack_.pop_back();
        value_done();
        return feed_byte(c);
      }
      f.bits = alive;
      ++f.count;
      bool longer = false, now_exact = false;
      for (size_t i = 0; i < n.literals.size(); ++i)
        if (alive >> i & 1) (int(n.literals[i].size()) == f.count ? now_exact : longer) = true;
      if (now_exact && !longer) {
        stack_.pop_back();
        return value_done();
      }
      return true;
    }
  }
  return false;
}

}  // namespace pj::server
