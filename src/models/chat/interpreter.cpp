// Tree-walking evaluation of a parsed template with jinja2's scoping rules:
//   - a for loop gives every iteration a fresh scope; names set inside it vanish after the iteration
//     (templates carry state across iterations in a namespace() object);
//   - if blocks do not open a scope;
//   - a macro body sees its parameters, then the template's top-level names and the context.
#include "models/chat/ast.h"
#include "models/chat/builtins.h"
#include "models/chat/template.h"

#include "core/base/error.h"

#include <ctime>

namespace pj::chat {

// One scope: names set in it, then its parent's.
struct Frame {
  Frame* parent = nullptr;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* find(const std::string& n) const {
    for (const Frame* f = this; f; f = f->parent)
      for (const auto& [k, v] : f->vars)
        if (k == n) return &v;
    return nullptr;
  }
  void set(const std::string& n, Value v) {
    for (auto& [k, old] : vars)
      if (k == n) {
        old = std::move(v);
        return;
      }
    vars.emplace_back(n, std::move(v));
  }
};

struct Callable {
  enum class Kind { macro, caller, builtin };
  Kind kind;
  const Node* node = nullptr;     // macro definition or call block
  Frame* frame = nullptr;     // caller(): the scope the call block stands in
  std::string builtin;
};

namespace {

// An error that already names the template and line.
class Located : public Error {
 public:
  using Error::Error;
};

bool is_global_function(const std::string& n) {
  return n == "range" || n == "namespace" || n == "dict" || n == "raise_exception" || n == "strftime_now";
}

class Renderer {
 public:
  Renderer(const std::string& name, const RenderOptions& opts) : name_(name), opts_(opts) {}

  std::string run(const Body& body, const nlohmann::ordered_json& context) {
    if (!context.is_object()) fail("{}: the render context must be a JSON object", name_);
    for (auto it = context.begin(); it != context.end(); ++it) root_.set(it.key(), Value::from_json(it.value()));
    std::string out;
    if (exec(body, root_, out, 0) != Flow::normal) located(0, "break/continue outside a loop");
    return out;
  }

 private:
  enum class Flow { normal, break_, continue_ };

  [[noreturn]] void located(int line, const std::string& msg) const {
    throw Located(fmt::format("{}: line {}: {}", name_, line, msg));
  }

  Flow exec(const Body& body, Frame& frame, std::string& out, int loop_depth) {
    for (const NodePtr& n : body) {
      Flow f = exec_node(*n, frame, out, loop_depth);
      if (f != Flow::normal) return f;
    }
    return Flow::normal;
  }

  Flow exec_node(const Node& n, Frame& frame, std::string& out, int loop_depth) {
    switch (n.kind) {
      case Node::Kind::text: out += n.text; return Flow::normal;
      case Node::Kind::output: out += eval(*n.expr, frame).to_str(); return Flow::normal;
      case Node::Kind::if_:
        for (const auto& [cond, body] : n.branches)
          if (eval(*cond, frame).truthy()) return exec(body, frame, out, loop_depth);
        return exec(n.else_body, frame, out, loop_depth);
      case Node::Kind::for_: return exec_for(n, frame, out);
      case Node::Kind::set: {
        Value v = eval(*n.expr, frame);
        if (!n.attr.empty()) {
          const Value* ns = frame.find(n.targets[0]);
          if (!ns || !ns->is_namespace())
            located(n.line, "cannot assign attribute on non-namespace object '" + n.targets[0] + "'");
          ns->mutable_dict().set(n.attr, std::move(v));
        } else {
          assign(n.targets, v, frame, n.line);
        }
        return Flow::normal;
      }
      case Node::Kind::set_block: {
        std::string s;
        exec(n.body, frame, s, 0);
        frame.set(n.targets[0], Value(std::move(s)));
        return Flow::normal;
      }
      case Node::Kind::macro: {
        auto c = std::make_shared<Callable>();
        c->kind = Callable::Kind::macro;
        c->node = &n;
        frame.set(n.text, Value::callable(std::move(c)));
        return Flow::normal;
      }
      case Node::Kind::call_block: {
        const Expr& call = *n.expr;
        Value callee = eval(*call.a, frame);
        auto caller = std::make_shared<Callable>();
        caller->kind = Callable::Kind::caller;
        caller->node = &n;
        caller->frame = &frame;
        Args args = eval_args(call, frame);
        out += call_value(callee, args, call.line, Value::callable(std::move(caller))).to_str();
        return Flow::normal;
      }
      case Node::Kind::filter_block: {
        std::string s;
        exec(n.body, frame, s, 0);
        Frame inner{&frame, {}};
        inner.set("\x01filter_body", Value(std::move(s)));
        out += eval(*n.expr, inner).to_str();
        return Flow::normal;
      }
      case Node::Kind::scope: return exec(n.body, frame, out, loop_depth);
      case Node::Kind::break_:
      case Node::Kind::continue_:
        if (loop_depth == 0) located(n.line, "break/continue outside a loop");
        return n.kind == Node::Kind::break_ ? Flow::break_ : Flow::continue_;
    }
    return Flow::normal;
  }

  void assign(const std::vector<std::string>& targets, const Value& v, Frame& frame, int line) {
    if (targets.size() == 1) {
      frame.set(targets[0], v);
      return;
    }
    List items = v.is_list() ? v.list() : v.is_string() || v.is_dict() ? iterate(v) : List{};
    if (!v.is_list() && !v.is_string() && !v.is_dict())
      located(line, std::string("cannot unpack a value of type ") + v.type_name());
    if (items.size() != targets.size())
      located(line, fmt::format("cannot unpack {} values into {} names", items.size(), targets.size()));
    for (size_t i = 0; i < targets.size(); ++i) frame.set(targets[i], items[i]);
  }

  Flow exec_for(const Node& n, Frame& frame, std::string& out) {
    Value seq = eval(*n.expr, frame);
    List items;
    try {
      items = iterate(seq);
    } catch (const Located&) {
      throw;
    } catch (const Error& e) {
      located(n.line, e.what());
    }
    if (n.cond) {  // the loop filter sees the loop targets; loop.* then counts only what passed
      List kept;
      for (const Value& it : items) {
        Frame f{&frame, {}};
        assign(n.targets, it, f, n.line);
        if (eval(*n.cond, f).truthy()) kept.push_back(it);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec(n.else_body, frame, out, 0);
    int64_t len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
      Frame f{&frame, {}};
      Dict loop;
      loop.items = {{"index", Value(i + 1)},
                    {"index0", Value(i)},
                    {"revindex", Value(len - i)},
                    {"revindex0", Value(len - i - 1)},
                    {"first", Value(i == 0)},
                    {"last", Value(i == len - 1)},
                    {"length", Value(len)},
                    {"depth", Value(1)},
                    {"depth0", Value(0)},
                    {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem")},
                    {"nextitem", i + 1 < len ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem")}};
      f.set("loop", Value(std::move(loop)));
      assign(n.targets, items[static_cast<size_t>(i)], f, n.line);
      Flow fl = exec(n.body, f, out, 1);
      if (fl == Flow::break_) break;
    }
    return Flow::normal;
  }

  Args eval_args(const Expr& e, Frame& frame) {
    Args a;
    for (const auto& x : e.args) a.pos.push_back(eval(*x, frame));
    for (const auto& [k, x] : e.kwargs) a.kw.emplace_back(k, eval(*x, frame));
    return a;
  }

  Value eval(const Expr& e, Frame& frame) {
    try {
      return eval_inner(e, frame);
    } catch (const Located&) {
      throw;
    } catch (const Error& err) {
      located(e.line, err.what());
    }
  }

  Value eval_inner(const Expr& e, Frame& frame) {
    switch (e.kind) {
      case Expr::Kind::literal: return e.value;
      case Expr::Kind::name: {
        if (const Value* v = frame.find(e.name)) return *v;
        if (is_global_function(e.name)) {
          auto c = std::make_shared<Callable>();
          c->kind = Callable::Kind::builtin;
          c->builtin = e.name;
          return Value::callable(std::move(c));
        }
        return Value::undefined(e.name);
      }
      case Expr::Kind::list:
      case Expr::Kind::tuple: {
        List l;
        for (const auto& x : e.args) l.push_back(eval(*x, frame));
        return Value(std::move(l));
      }
      case Expr::Kind::dict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          Value k = eval(*e.args[i], frame);
          if (!k.is_string()) fail("dict keys must be strings here, not {}", k.type_name());
          d.set(k.str(), eval(*e.args[i + 1], frame));
        }
        return Value(std::move(d));
      }
      case Expr::Kind::getattr: {
        Value obj = eval(*e.a, frame);
        if (obj.is_dict() || obj.is_namespace()) {
          const Value* f = obj.dict().find(e.name);
          return f ? *f : Value::undefined(e.name);
        }
        if (obj.is_undefined())
          fail("'{}' is undefined (reading its attribute '{}')", obj.str().empty() ? "value" : obj.str(), e.name);
        return Value::undefined(e.name);
      }
      case Expr::Kind::getitem: return python_getitem(eval(*e.a, frame), eval(*e.b, frame));
      case Expr::Kind::slice: {
        Value obj = eval(*e.a, frame);
        Value parts[3];
        for (int i = 0; i < 3; ++i)
          if (e.args[static_cast<size_t>(i)]) parts[i] = eval(*e.args[static_cast<size_t>(i)], frame);
        auto p = [&](int i) { return e.args[static_cast<size_t>(i)] ? &parts[i] : nullptr; };
        return python_slice(obj, p(0), p(1), p(2));
      }
      case Expr::Kind::call: return eval_call(e, frame);
      case Expr::Kind::filter: {
        Value v = eval(*e.a, frame);
        Args a = eval_args(e, frame);
        auto r = apply_filter(e.name, v, a);
        if (!r) fail("unsupported filter '{}'", e.name);
        return *r;
      }
      case Expr::Kind::test: {
        Value v = eval(*e.a, frame);
        Args a = eval_args(e, frame);
        auto r = apply_test(e.name, v, a);
        if (!r) fail("unsupported test '{}'", e.name);
        return Value(e.negated ? !*r : *r);
      }
      case Expr::Kind::not_: return Value(!eval(*e.a, frame).truthy());
      case Expr::Kind::neg:
      case Expr::Kind::pos: {
        Value v = eval(*e.a, frame);
        if (!v.is_number()) fail("bad operand type for unary {}: {}", e.kind == Expr::Kind::neg ? '-' : '+', v.type_name());
        if (e.kind == Expr::Kind::pos) return v.is_bool() ? Value(v.as_int()) : v;
        return v.is_float() ? Value(-v.as_float()) : Value(-v.as_int());
      }
      case Expr::Kind::and_: {
        Value a = eval(*e.a, frame);
        return a.truthy() ? eval(*e.b, frame) : a;
      }
      case Expr::Kind::or_: {
        Value a = eval(*e.a, frame);
        return a.truthy() ? a : eval(*e.b, frame);
      }
      case Expr::Kind::cond:
        if (eval(*e.b, frame).truthy()) return eval(*e.a, frame);
        return e.c ? eval(*e.c, frame) : Value::undefined();
      case Expr::Kind::binary: return binary(e.name, eval(*e.a, frame), eval(*e.b, frame), e.negated);
    }
    return Value::undefined();
  }

  Value eval_call(const Expr& e, Frame& frame) {
    if (e.a->kind == Expr::Kind::getattr) {
      Value obj = eval(*e.a->a, frame);
      if (obj.is_string() || obj.is_dict()) {
        Args a = eval_args(e, frame);
        if (auto r = call_method(obj, e.a->name, a)) return *r;
        if (obj.is_string()) fail("unsupported string method '{}'", e.a->name);
        const Value* f = obj.dict().find(e.a->name);
        if (!f) fail("unsupported dict method '{}'", e.a->name);
        return call_value(*f, a, e.line, Value::undefined());
      }
      if (obj.is_list()) fail("unsupported list method '{}' (templates cannot change lists)", e.a->name);
      if (obj.is_undefined())
        fail("'{}' is undefined (calling its method '{}')", obj.str().empty() ? "value" : obj.str(), e.a->name);
    }
    Value callee = eval(*e.a, frame);
    Args a = eval_args(e, frame);
    return call_value(callee, a, e.line, Value::undefined());
  }

  Value call_value(const Value& callee, const Args& a, int line, const Value& caller) {
    if (!callee.is_callable()) {
      if (callee.is_undefined())
        fail("'{}' is undefined (not a function this interpreter provides)", callee.str());
      fail("'{}' object is not callable", callee.type_name());
    }
    const Callable& c = *callee.fn();
    if (c.kind == Callable::Kind::builtin) return call_builtin(c.builtin, a, line);
    if (++depth_ > 100) fail("macro recursion too deep");
    const Node& def = *c.node;
    // A macro runs in a scope on top of the template's globals; caller() runs where its call block is.
    Frame f{c.kind == Callable::Kind::macro ? &root_ : c.frame, {}};
    if (a.pos.size() > def.params.size())
      fail("'{}' takes {} arguments, {} given", c.kind == Callable::Kind::macro ? def.text : "caller",
           def.params.size(), a.pos.size());
    for (const auto& [k, v] : a.kw) {
      bool known = false;
      for (const auto& p : def.params) known |= p.first == k;
      if (!known) fail("'{}' has no parameter '{}'", def.text, k);
    }
    for (size_t i = 0; i < def.params.size(); ++i) {
      const auto& [pname, pdefault] = def.params[i];
      if (i < a.pos.size()) {
        f.set(pname, a.pos[i]);
        continue;
      }
      const Value* kw = nullptr;
      for (const auto& [k, v] : a.kw)
        if (k == pname) kw = &v;
      if (kw) f.set(pname, *kw);
      else if (pdefault) f.set(pname, eval(*pdefault, f));
      else f.set(pname, Value::undefined(pname));
    }
    if (!caller.is_undefined()) f.set("caller", caller);
    std::string out;
    exec(def.body, f, out, 0);
    --depth_;
    return Value(std::move(out));
  }

  Value call_builtin(const std::string& fn, const Args& a, int line) {
    if (fn == "raise_exception") {
      const Value* msg = a.get(0, "message");
      located(line, "raise_exception: " + (msg ? msg->to_str() : std::string()));
    }
    if (fn == "strftime_now") {
      const Value* f = a.get(0, "format");
      if (!f || !f->is_string()) fail("strftime_now needs a format string");
      std::time_t t = opts_.now_unix ? static_cast<std::time_t>(*opts_.now_unix) : std::time(nullptr);
      std::tm tm{};
      if (opts_.now_unix) gmtime_r(&t, &tm);
      else localtime_r(&t, &tm);
      char buf[256];
      size_t n = std::strftime(buf, sizeof buf, f->str().c_str(), &tm);
      return Value(std::string(buf, n));
    }
    if (fn == "range") {
      a.check("range", 3, {});
      if (a.pos.empty()) fail("range expects at least one argument");
      for (const auto& x : a.pos)
        if (!x.is_int()) fail("range arguments must be integers");
      int64_t start = a.pos.size() >= 2 ? a.pos[0].as_int() : 0;
      int64_t stop = a.pos.size() >= 2 ? a.pos[1].as_int() : a.pos[0].as_int();
      int64_t step = a.pos.size() == 3 ? a.pos[2].as_int() : 1;
      if (step == 0) fail("range step must not be zero");
      List out;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (out.size() >= 100000) fail("range too large");  // jinja2's sandbox limit is 100000 too
        out.emplace_back(i);
      }
      return Value(std::move(out));
    }
    // namespace(...) and dict(...): an optional mapping, then keyword arguments
    Dict d;
    if (a.pos.size() > 1) fail("{} takes at most one positional argument", fn);
    if (!a.pos.empty()) {
      if (!a.pos[0].is_dict()) fail("{}: positional argument must be a dict", fn);
      d = a.pos[0].dict();
    }
    for (const auto& [k, v] : a.kw) d.set(k, v);
    return fn == "namespace" ? Value::namespace_(std::move(d)) : Value(std::move(d));
  }

  static Value binary(const std::string& op, const Value& x, const Value& y, bool negated) {
    if (op == "==") return Value(equal(x, y));
    if (op == "!=") return Value(!equal(x, y));
    if (op == "<") return Value(less(x, y));
    if (op == ">") return Value(less(y, x));
    if (op == "<=") return Value(!less(y, x));
    if (op == ">=") return Value(!less(x, y));
    if (op == "in") return Value(contains(y, x) != negated);
    if (op == "~") return Value(x.to_str() + y.to_str());
    auto bad = [&]() -> Value {
      fail("unsupported operand types for {}: '{}' and '{}'", op, x.type_name(), y.type_name());
    };
    if (op == "+") {
      if (x.is_string() && y.is_string()) return Value(x.str() + y.str());
      if (x.is_list() && y.is_list()) {
        List l = x.list();
        l.insert(l.end(), y.list().begin(), y.list().end());
        return Value(std::move(l));
      }
    }
    if (op == "*") {
      const Value* seq = x.is_string() || x.is_list() ? &x : y.is_string() || y.is_list() ? &y : nullptr;
      const Value* cnt = seq == &x ? &y : &x;
      if (seq && (cnt->is_int() || cnt->is_bool())) {
        int64_t n = cnt->as_int();
        if (n > 100000) fail("repetition count {} too large", n);
        if (seq->is_string()) {
          std::string s;
          for (int64_t i = 0; i < n; ++i) s += seq->str();
          return Value(std::move(s));
        }
        List l;
        for (int64_t i = 0; i < n; ++i) l.insert(l.end(), seq->list().begin(), seq->list().end());
        return Value(std::move(l));
      }
    }
    if (op == "%" && x.is_string()) fail("unsupported construct: '%' string formatting");
    if (!x.is_number() || !y.is_number()) return bad();
    bool fl = x.is_float() || y.is_float();
    if (op == "/") {
      if (y.as_float() == 0.0) fail("division by zero");
      return Value(x.as_float() / y.as_float());
    }
    if (op == "**") {
      if (!fl && y.as_int() >= 0) {
        int64_t r = 1;
        for (int64_t i = 0; i < y.as_int(); ++i)
          if (__builtin_mul_overflow(r, x.as_int(), &r)) fail("integer overflow in **");
        return Value(r);
      }
      return Value(std::pow(x.as_float(), y.as_float()));
    }
    if (fl) {
      double a = x.as_float(), b = y.as_float();
      if (op == "+") return Value(a + b);
      if (op == "-") return Value(a - b);
      if (op == "*") return Value(a * b);
      if (b == 0.0) fail("float division by zero");
      if (op == "//") return Value(std::floor(a / b));
      if (op == "%") {
        double m = std::fmod(a, b);
        if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
        return Value(m);
      }
      return bad();
    }
    int64_t a = x.as_int(), b = y.as_int(), r = 0;
    if (op == "+") {
      if (__builtin_add_overflow(a, b, &r)) fail("integer overflow");
      return Value(r);
    }
    if (op == "-") {
      if (__builtin_sub_overflow(a, b, &r)) fail("integer overflow");
      return Value(r);
    }
    if (op == "*") {
      if (__builtin_mul_overflow(a, b, &r)) fail("integer overflow");
      return Value(r);
    }
    if (b == 0) fail("integer division or modulo by zero");
    if (a == INT64_MIN && b == -1) fail("integer overflow");
    // Python floors toward negative infinity
    int64_t q = a / b, m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) {
      --q;
      m += b;
    }
    if (op == "//") return Value(q);
    if (op == "%") return Value(m);
    return bad();
  }

  const std::string& name_;
  const RenderOptions& opts_;
  Frame root_;
  int depth_ = 0;
};

}  // namespace

struct Template::Parsed {
  Body body;
};

Template::Template(const std::string& source, std::string name)
    : name_(std::move(name)), parsed_(std::make_unique<Parsed>()) {
  parsed_->body = parse_template(source, name_);
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json& context, const RenderOptions& opts) const {
  Renderer r(name_, opts);
  return r.run(parsed_->body, context);
}

}  // namespace pj::chat
