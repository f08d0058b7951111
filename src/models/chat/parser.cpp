// Template source -> AST. Two stages: split the source into text, {{ }} and {% %} chunks applying Jinja's
// whitespace rules, then parse each tag's tokens. Whitespace rules are those of the environment Hugging
// Face renders with (transformers chat_template_utils: trim_blocks=True, lstrip_blocks=True,
// keep_trailing_newline left False):
//   - "{%-"/"{{-"/"{#-" strip all whitespace before the tag, "-%}"/"-}}"/"-#}" all whitespace after it;
//   - lstrip_blocks: spaces and tabs between the start of a line and a {% or {# tag are removed
//     ("{%+" disables it);
//   - trim_blocks: the first newline after a %} or #} is removed ("+%}" disables it);
//   - one trailing newline at the end of the template is dropped.
#include "models/chat/ast.h"

#include "core/base/error.h"

#include <cstring>

namespace pj::chat {

namespace {

struct Tok {
  enum class Type { name, string, integer, floating, op, end };
  Type type = Type::end;
  std::string text;
  int64_t i = 0;
  double f = 0;
  int line = 0;
};

struct Chunk {
  enum class Kind { text, output, block };
  Kind kind;
  std::string text;
  std::vector<Tok> toks;
  int line;
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(const std::string& src, const std::string& name) : src_(src), name_(name) {
    // keep_trailing_newline=False
    if (src_.size() >= 2 && src_.compare(src_.size() - 2, 2, "\r\n") == 0) src_.resize(src_.size() - 2);
    else if (!src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  std::vector<Chunk> run() {
    std::vector<Chunk> out;
    size_t pos = 0;
    bool line_start = true;
    bool trim_next_newline = false, strip_next_ws = false;
    while (pos <= src_.size()) {
      size_t start = find_tag(pos);
      std::string text = src_.substr(pos, start - pos);
      int text_line = line_;
      if (strip_next_ws) {
        size_t k = 0;
        while (k < text.size() && is_ws(text[k])) ++k;
        text.erase(0, k);
      } else if (trim_next_newline) {
        if (text.rfind("\r\n", 0) == 0) text.erase(0, 2);
        else if (!text.empty() && text[0] == '\n') text.erase(0, 1);
      }
      count_lines(pos, start);
      pos = start;
      if (start == src_.size()) {
        if (!text.empty()) out.push_back({Chunk::Kind::text, text, {}, text_line});
        break;
      }
      char kind = src_[start + 1];  // '{', '%' or '#'
      char mod = start + 2 < src_.size() ? src_[start + 2] : 0;
      if (mod == '-') {
        while (!text.empty() && is_ws(text.back())) text.pop_back();
      } else if (kind != '{' && mod != '+') {
        // lstrip_blocks: only when nothing but spaces/tabs stands between the line start and the tag
        size_t nl = text.rfind('\n');
        size_t from = nl == std::string::npos ? 0 : nl + 1;
        bool at_line_start = nl != std::string::npos || line_start;
        bool blank = true;
        for (size_t k = from; k < text.size(); ++k)
          if (text[k] != ' ' && text[k] != '\t') blank = false;
        if (at_line_start && blank) text.resize(from);
      }
      if (!text.empty()) out.push_back({Chunk::Kind::text, text, {}, text_line});
      pos = start + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
      int tag_line = line_;
      char end_mod = 0;
      if (kind == '#') {
        size_t close = src_.find("#}", pos);
        if (close == std::string::npos) fail("{}: line {}: unclosed comment", name_, tag_line);
        end_mod = close > pos && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : 0;
        count_lines(pos, close);
        pos = close + 2;
      } else {
        Chunk c{kind == '{' ? Chunk::Kind::output : Chunk::Kind::block, {}, {}, tag_line};
        pos = lex_tag(pos, kind == '{' ? '}' : '%', c.toks, end_mod);
        if (c.kind == Chunk::Kind::block && !c.toks.empty() && c.toks[0].type == Tok::Type::name &&
            c.toks[0].text == "raw")
          fail("{}: line {}: unsupported construct '{{% raw %}}'", name_, tag_line);
        out.push_back(std::move(c));
      }
      strip_next_ws = end_mod == '-';
      trim_next_newline = kind != '{' && end_mod != '+';
      line_start = pos > 0 && src_[pos - 1] == '\n';
    }
    return out;
  }

 private:
  size_t find_tag(size_t pos) const {
    while (true) {
      size_t p = src_.find('{', pos);
      if (p == std::string::npos || p + 1 >= src_.size()) return src_.size();
      char n = src_[p + 1];
      if (n == '{' || n == '%' || n == '#') return p;
      pos = p + 1;
    }
  }

  void count_lines(size_t from, size_t to) {
    for (size_t k = from; k < to && k < src_.size(); ++k)
      if (src_[k] == '\n') ++line_;
  }

  // Lexes expression tokens up to the closing "}}" or "%}" (optionally preceded by '-' or '+').
  size_t lex_tag(size_t pos, char close, std::vector<Tok>& toks, char& end_mod) {
    static const char* ops2[] = {"//", "**", "==", "!=", "<=", ">="};
    const std::string single = "+-*/%~<>=()[]{}.,:|";
    int open_line = line_;
    while (true) {
      while (pos < src_.size() && is_ws(src_[pos])) {
        if (src_[pos] == '\n') ++line_;
        ++pos;
      }
      if (pos >= src_.size()) fail("{}: line {}: unclosed tag", name_, open_line);
      auto closes_at = [&](size_t p) { return p + 1 < src_.size() && src_[p] == close && src_[p + 1] == '}'; };
      if (closes_at(pos)) {
        end_mod = 0;
        return pos + 2;
      }
      if ((src_[pos] == '-' || src_[pos] == '+') && closes_at(pos + 1)) {
        end_mod = src_[pos];
        return pos + 3;
      }
      Tok t;
      t.line = line_;
      char c = src_[pos];
      if (is_name_start(c)) {
        size_t e = pos;
        while (e < src_.size() && (is_name_start(src_[e]) || is_digit(src_[e]))) ++e;
        t.type = Tok::Type::name;
        t.text = src_.substr(pos, e - pos);
        pos = e;
      } else if (is_digit(c)) {
        size_t e = pos;
        bool is_float = false;
        while (e < src_.size() && (is_digit(src_[e]) || src_[e] == '_')) ++e;
        if (e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
          is_float = true;
          ++e;
          while (e < src_.size() && is_digit(src_[e])) ++e;
        }
        if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
          size_t k = e + 1;
          if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
          if (k < src_.size() && is_digit(src_[k])) {
            is_float = true;
            e = k;
            while (e < src_.size() && is_digit(src_[e])) ++e;
          }
        }
        std::string num;
        for (size_t k = pos; k < e; ++k)
          if (src_[k] != '_') num += src_[k];
        if (is_float) {
          t.type = Tok::Type::floating;
          t.f = std::stod(num);
        } else {
          t.type = Tok::Type::integer;
          try {
            t.i = std::stoll(num);
          } catch (const std::exception&) {
            fail("{}: line {}: integer literal {} out of range", name_, line_, num);
          }
        }
        pos = e;
      } else if (c == '\'' || c == '"') {
        t.type = Tok::Type::string;
        pos = lex_string(pos, t.text);
      } else {
        bool matched = false;
        for (const char* op : ops2)
          if (src_.compare(pos, 2, op) == 0) {
            t.type = Tok::Type::op;
            t.text = op;
            pos += 2;
            matched = true;
            break;
          }
        if (!matched) {
          if (single.find(c) == std::string::npos)
            fail("{}: line {}: unexpected character '{}' in tag", name_, line_, c);
          t.type = Tok::Type::op;
          t.text = std::string(1, c);
          ++pos;
        }
      }
      toks.push_back(std::move(t));
    }
  }

  // Python string literal escapes, as jinja2's lexer applies them.
  size_t lex_string(size_t pos, std::string& out) {
    char q = src_[pos++];
    int start_line = line_;
    while (true) {
      if (pos >= src_.size()) fail("{}: line {}: unterminated string literal", name_, start_line);
      char c = src_[pos];
      if (c == q) return pos + 1;
      if (c == '\n') ++line_;
      if (c != '\\') {
        out += c;
        ++pos;
        continue;
      }
      if (pos + 1 >= src_.size()) fail("{}: line {}: unterminated string literal", name_, start_line);
      char e = src_[pos + 1];
      pos += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '0': out += '\0'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\n': ++line_; break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            char h = pos + k < src_.size() ? src_[pos + k] : 0;
            int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
            if (d < 0) fail("{}: line {}: bad \\{} escape in string literal", name_, line_, e);
            cp = cp * 16 + static_cast<uint32_t>(d);
          }
          if (cp > 0x10ffff) fail("{}: line {}: \\{} escape out of Unicode range", name_, line_, e);
          pos += n;
          append_utf8(out, cp);
          break;
        }
        default:  // Python keeps unknown escapes as written
          out += '\\';
          out += e;
      }
    }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  std::string src_;
  const std::string& name_;
  int line_ = 1;
};

// Recursive-descent parser over the chunks. Expression precedence follows jinja2's parser:
// cond-expr < or < and < not < compare < + - < ~ < * / // % < ** < unary < postfix/filter/test.
class Parser {
 public:
  Parser(std::vector<Chunk> chunks, const std::string& name) : chunks_(std::move(chunks)), name_(name) {}

  Body parse_all() {
    std::string stop;
    Body b = parse_body({}, stop);
    return b;
  }

 private:
  [[noreturn]] void error(int line, const std::string& msg) const { fail("{}: line {}: {}", name_, line, msg); }

  // Parses nodes until a block tag whose first word is in `stops` (left current) or the end.
  Body parse_body(const std::vector<std::string>& stops, std::string& stopped_at) {
    Body body;
    while (ci_ < chunks_.size()) {
      Chunk& ch = chunks_[ci_];
      if (ch.kind == Chunk::Kind::text) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::text;
        n->line = ch.line;
        n->text = ch.text;
        body.push_back(std::move(n));
        ++ci_;
        continue;
      }
      toks_ = &ch.toks;
      ti_ = 0;
      line_ = ch.line;
      if (ch.kind == Chunk::Kind::output) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::output;
        n->line = ch.line;
        n->expr = parse_expr();
        expect_end();
        body.push_back(std::move(n));
        ++ci_;
        continue;
      }
      if (ch.toks.empty()) error(ch.line, "empty block tag");
      const std::string& word = ch.toks[0].text;
      for (const auto& s : stops)
        if (word == s) {
          stopped_at = word;
          return body;
        }
      body.push_back(parse_statement());
    }
    if (!stops.empty()) error(line_, "unexpected end of template: missing {% " + stops.back() + " %}");
    return body;
  }

  NodePtr parse_statement() {
    const Tok& head = next();
    int line = head.line;
    std::string word = head.type == Tok::Type::name ? head.text : "";
    auto n = std::make_unique<Node>();
    n->line = line;
    std::string stop;
    if (word == "if") {
      n->kind = Node::Kind::if_;
      ExprPtr cond = parse_expr();
      expect_end();
      ++ci_;
      while (true) {
        Body b = parse_body({"elif", "else", "endif"}, stop);
        n->branches.emplace_back(std::move(cond), std::move(b));
        set_tag();
        next();
        if (stop == "elif") {
          cond = parse_expr();
          expect_end();
          ++ci_;
          continue;
        }
        expect_end();
        ++ci_;
        if (stop == "else") {
          n->else_body = parse_body({"endif"}, stop);
          set_tag();
          next();
          expect_end();
          ++ci_;
        }
        break;
      }
    } else if (word == "for") {
      n->kind = Node::Kind::for_;
      n->targets.push_back(expect_name());
      while (peek_op(",")) {
        next();
        n->targets.push_back(expect_name());
      }
      expect_word("in");
      n->expr = parse_cond_free();
      if (peek_word("if")) {
        next();
        n->cond = parse_cond_free();
      }
      if (peek_word("recursive")) error(line, "unsupported construct 'for ... recursive'");
      expect_end();
      ++ci_;
      n->body = parse_body({"else", "endfor"}, stop);
      set_tag();
      next();
      expect_end();
      ++ci_;
      if (stop == "else") {
        n->else_body = parse_body({"endfor"}, stop);
        set_tag();
        next();
        expect_end();
        ++ci_;
      }
    } else if (word == "set") {
      std::string first = expect_name();
      if (peek_op(".")) {
        next();
        n->kind = Node::Kind::set;
        n->targets.push_back(first);
        n->attr = expect_name();
        expect_op("=");
        n->expr = parse_expr();
        expect_end();
        ++ci_;
      } else {
        n->targets.push_back(first);
        while (peek_op(",")) {
          next();
          n->targets.push_back(expect_name());
        }
        if (peek_op("=")) {
          next();
          n->kind = Node::Kind::set;
          n->expr = parse_expr();
          expect_end();
          ++ci_;
        } else {
          if (n->targets.size() != 1) error(line, "block set takes one name");
          n->kind = Node::Kind::set_block;
          if (peek_op("|")) error(line, "unsupported construct 'set ... | filter' block");
          expect_end();
          ++ci_;
          n->body = parse_body({"endset"}, stop);
          set_tag();
          next();
          expect_end();
          ++ci_;
        }
      }
    } else if (word == "macro") {
      n->kind = Node::Kind::macro;
      n->text = expect_name();
      parse_params(n->params);
      expect_end();
      ++ci_;
      n->body = parse_body({"endmacro"}, stop);
      set_tag();
      next();
      if (peek_name()) next();  // {% endmacro name %}
      expect_end();
      ++ci_;
    } else if (word == "call") {
      n->kind = Node::Kind::call_block;
      if (peek_op("(")) parse_params(n->params);
      n->expr = parse_expr();
      if (n->expr->kind != Expr::Kind::call) error(line, "{% call %} needs a macro call");
      expect_end();
      ++ci_;
      n->body = parse_body({"endcall"}, stop);
      set_tag();
      next();
      expect_end();
      ++ci_;
    } else if (word == "filter") {
      n->kind = Node::Kind::filter_block;
      auto placeholder = std::make_unique<Expr>();
      placeholder->kind = Expr::Kind::name;
      placeholder->name = "\x01filter_body";  // a name no template can write
      placeholder->line = line;
      ExprPtr e = std::move(placeholder);
      while (true) {
        auto f = make(Expr::Kind::filter, line);
        f->name = expect_name();
        f->a = std::move(e);
        if (peek_op("(")) parse_call_args(*f);
        e = std::move(f);
        if (!peek_op("|")) break;
        next();
      }
      n->expr = std::move(e);
      expect_end();
      ++ci_;
      n->body = parse_body({"endfilter"}, stop);
      set_tag();
      next();
      expect_end();
      ++ci_;
    } else if (word == "generation") {
      n->kind = Node::Kind::scope;
      expect_end();
      ++ci_;
      n->body = parse_body({"endgeneration"}, stop);
      set_tag();
      next();
      expect_end();
      ++ci_;
    } else if (word == "break" || word == "continue") {
      n->kind = word == "break" ? Node::Kind::break_ : Node::Kind::continue_;
      expect_end();
      ++ci_;
    } else {
      error(line, "unsupported construct '{% " + (word.empty() ? head.text : word) + " %}'");
    }
    return n;
  }

  void parse_params(std::vector<std::pair<std::string, ExprPtr>>& params) {
    expect_op("(");
    while (!peek_op(")")) {
      std::string p = expect_name();
      ExprPtr def;
      if (peek_op("=")) {
        next();
        def = parse_expr();
      }
      params.emplace_back(p, std::move(def));
      if (!peek_op(",")) break;
      next();
    }
    expect_op(")");
  }

  void set_tag() {
    toks_ = &chunks_[ci_].toks;
    ti_ = 0;
    line_ = chunks_[ci_].line;
  }

  // ---- token helpers ----
  const Tok& peek(size_t k = 0) const {
    static const Tok end_tok;
    return ti_ + k < toks_->size() ? (*toks_)[ti_ + k] : end_tok;
  }
  const Tok& next() {
    const Tok& t = peek();
    if (t.type == Tok::Type::end) error(line_, "unexpected end of tag");
    ++ti_;
    return t;
  }
  bool peek_op(const char* op, size_t k = 0) const {
    return peek(k).type == Tok::Type::op && peek(k).text == op;
  }
  bool peek_word(const char* w) const { return peek().type == Tok::Type::name && peek().text == w; }
  bool peek_name() const { return peek().type == Tok::Type::name; }
  void expect_op(const char* op) {
    if (!peek_op(op)) error(cur_line(), std::string("expected '") + op + "', found " + describe(peek()));
    ++ti_;
  }
  void expect_word(const char* w) {
    if (!peek_word(w)) error(cur_line(), std::string("expected '") + w + "', found " + describe(peek()));
    ++ti_;
  }
  std::string expect_name() {
    if (!peek_name()) error(cur_line(), "expected a name, found " + describe(peek()));
    return (*toks_)[ti_++].text;
  }
  void expect_end() {
    if (peek().type != Tok::Type::end) error(cur_line(), "unexpected " + describe(peek()) + " in tag");
  }
  int cur_line() const { return peek().type == Tok::Type::end ? line_ : peek().line; }
  static std::string describe(const Tok& t) {
    switch (t.type) {
      case Tok::Type::end: return "end of tag";
      case Tok::Type::string: return "string literal";
      case Tok::Type::integer:
      case Tok::Type::floating: return "number";
      default: return "'" + t.text + "'";
    }
  }

  ExprPtr make(Expr::Kind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // ---- expressions ----
  ExprPtr parse_expr() {
    ExprPtr e = parse_or();
    while (peek_word("if")) {
      int line = next().line;
      auto c = make(Expr::Kind::cond, line);
      c->a = std::move(e);
      c->b = parse_or();
      if (peek_word("else")) {
        next();
        c->c = parse_expr();
      }
      e = std::move(c);
    }
    return e;
  }
  // for-loop iterables and conditions: no inline if (the "if" starts the loop filter)
  ExprPtr parse_cond_free() { return parse_or(); }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (peek_word("or")) {
      auto n = make(Expr::Kind::or_, next().line);
      n->a = std::move(e);
      n->b = parse_and();
      e = std::move(n);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (peek_word("and")) {
      auto n = make(Expr::Kind::and_, next().line);
      n->a = std::move(e);
      n->b = parse_not();
      e = std::move(n);
    }
    return e;
  }
  ExprPtr parse_not() {
    if (peek_word("not")) {
      auto n = make(Expr::Kind::not_, next().line);
      n->a = parse_not();
      return n;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    while (true) {
      std::string op;
      bool negated = false;
      const Tok& t = peek();
      if (t.type == Tok::Type::op &&
          (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=")) {
        op = t.text;
        next();
      } else if (peek_word("in")) {
        op = "in";
        next();
      } else if (peek_word("not") && peek(1).type == Tok::Type::name && peek(1).text == "in") {
        op = "in";
        negated = true;
        next();
        next();
      } else {
        return e;
      }
      // Chained comparisons (a < b < c) are rare in templates; treat them as left-nested pairs would be
      // wrong, so refuse them.
      auto n = make(Expr::Kind::binary, t.line);
      n->name = op;
      n->negated = negated;
      n->a = std::move(e);
      n->b = parse_math1();
      e = std::move(n);
      const Tok& t2 = peek();
      if (t2.type == Tok::Type::op && (t2.text == "==" || t2.text == "!=" || t2.text == "<" || t2.text == "<=" ||
                                       t2.text == ">" || t2.text == ">="))
        error(t2.line, "unsupported construct: chained comparison");
    }
  }
  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b, int line) {
    auto n = make(Expr::Kind::binary, line);
    n->name = op;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (peek_op("+") || peek_op("-")) {
      const Tok& t = next();
      e = binary(t.text, std::move(e), parse_concat(), t.line);
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (peek_op("~")) {
      const Tok& t = next();
      e = binary("~", std::move(e), parse_math2(), t.line);
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (peek_op("*") || peek_op("/") || peek_op("//") || peek_op("%")) {
      const Tok& t = next();
      e = binary(t.text, std::move(e), parse_pow(), t.line);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (peek_op("**")) {
      const Tok& t = next();
      e = binary("**", std::move(e), parse_unary(true), t.line);
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter) {
    ExprPtr e;
    if (peek_op("-") || peek_op("+")) {
      const Tok& t = next();
      e = make(t.text == "-" ? Expr::Kind::neg : Expr::Kind::pos, t.line);
      e->a = parse_unary(false);
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) e = parse_filters(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Tok& t = next();
    switch (t.type) {
      case Tok::Type::string: {
        auto e = make(Expr::Kind::literal, t.line);
        std::string s = t.text;
        while (peek().type == Tok::Type::string) s += next().text;  // adjacent literals concatenate
        e->value = Value(s);
        return e;
      }
      case Tok::Type::integer: {
        auto e = make(Expr::Kind::literal, t.line);
        e->value = Value(t.i);
        return e;
      }
      case Tok::Type::floating: {
        auto e = make(Expr::Kind::literal, t.line);
        e->value = Value(t.f);
        return e;
      }
      case Tok::Type::name: {
        auto e = make(Expr::Kind::literal, t.line);
        if (t.text == "true" || t.text == "True") e->value = Value(true);
        else if (t.text == "false" || t.text == "False") e->value = Value(false);
        else if (t.text == "none" || t.text == "None") e->value = Value::none();
        else {
          e->kind = Expr::Kind::name;
          e->name = t.text;
        }
        return e;
      }
      case Tok::Type::op: {
        if (t.text == "(") {
          if (peek_op(")")) {
            next();
            return make(Expr::Kind::tuple, t.line);
          }
          ExprPtr first = parse_expr();
          if (peek_op(")")) {
            next();
            return first;
          }
          auto tup = make(Expr::Kind::tuple, t.line);
          tup->args.push_back(std::move(first));
          while (peek_op(",")) {
            next();
            if (peek_op(")")) break;
            tup->args.push_back(parse_expr());
          }
          expect_op(")");
          return tup;
        }
        if (t.text == "[") {
          auto l = make(Expr::Kind::list, t.line);
          while (!peek_op("]")) {
            l->args.push_back(parse_expr());
            if (!peek_op(",")) break;
            next();
          }
          expect_op("]");
          return l;
        }
        if (t.text == "{") {
          auto d = make(Expr::Kind::dict, t.line);
          while (!peek_op("}")) {
            d->args.push_back(parse_expr());
            expect_op(":");
            d->args.push_back(parse_expr());
            if (!peek_op(",")) break;
            next();
          }
          expect_op("}");
          return d;
        }
        break;
      }
      default: break;
    }
    error(t.line, "unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (peek_op(".")) {
        int line = next().line;
        auto g = make(Expr::Kind::getattr, line);
        if (peek().type == Tok::Type::integer) {
          g->kind = Expr::Kind::getitem;
          auto idx = make(Expr::Kind::literal, line);
          idx->value = Value(next().i);
          g->b = std::move(idx);
        } else {
          g->name = expect_name();
        }
        g->a = std::move(e);
        e = std::move(g);
      } else if (peek_op("[")) {
        int line = next().line;
        ExprPtr parts[3];
        int colons = 0;
        while (!peek_op("]")) {
          if (peek_op(":")) {
            next();
            if (++colons > 2) error(line, "bad slice");
            continue;
          }
          if (parts[colons]) error(line, "bad subscript");
          parts[colons] = parse_expr();
        }
        expect_op("]");
        if (colons == 0) {
          if (!parts[0]) error(line, "empty subscript");
          auto g = make(Expr::Kind::getitem, line);
          g->a = std::move(e);
          g->b = std::move(parts[0]);
          e = std::move(g);
        } else {
          auto s = make(Expr::Kind::slice, line);
          s->a = std::move(e);
          for (auto& p : parts) s->args.push_back(std::move(p));
          e = std::move(s);
        }
      } else if (peek_op("(")) {
        int line = peek().line;
        auto c = make(Expr::Kind::call, line);
        c->a = std::move(e);
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  void parse_call_args(Expr& call) {
    expect_op("(");
    while (!peek_op(")")) {
      if (peek_op("*") || peek_op("**")) error(cur_line(), "unsupported construct: *args/**kwargs in a call");
      if (peek_name() && peek_op("=", 1)) {
        std::string k = next().text;
        next();
        call.kwargs.emplace_back(k, parse_expr());
      } else {
        if (!call.kwargs.empty()) error(cur_line(), "positional argument after keyword argument");
        call.args.push_back(parse_expr());
      }
      if (!peek_op(",")) break;
      next();
    }
    expect_op(")");
  }

  // Filters (x | f(args)) and tests (x is [not] t args).
  ExprPtr parse_filters(ExprPtr e) {
    while (true) {
      if (peek_op("|")) {
        int line = next().line;
        auto f = make(Expr::Kind::filter, line);
        f->name = expect_name();
        f->a = std::move(e);
        if (peek_op("(")) parse_call_args(*f);
        e = std::move(f);
      } else if (peek_word("is")) {
        int line = next().line;
        auto t = make(Expr::Kind::test, line);
        if (peek_word("not")) {
          next();
          t->negated = true;
        }
        t->name = expect_name();
        t->a = std::move(e);
        if (peek_op("(")) {
          parse_call_args(*t);
        } else {
          const Tok& n = peek();
          bool arg_follows = n.type == Tok::Type::string || n.type == Tok::Type::integer ||
                             n.type == Tok::Type::floating || peek_op("[") || peek_op("{") ||
                             (n.type == Tok::Type::name && n.text != "else" && n.text != "or" && n.text != "and" &&
                              n.text != "if" && n.text != "in" && n.text != "is" && n.text != "not");
          if (arg_follows) t->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  std::vector<Chunk> chunks_;
  const std::string& name_;
  size_t ci_ = 0;
  std::vector<Tok>* toks_ = nullptr;
  size_t ti_ = 0;
  int line_ = 1;
};

}  // namespace

Body parse_template(const std::string& source, const std::string& name) {
  Lexer lexer(source, name);
  Parser parser(lexer.run(), name);
  return parser.parse_all();
}

}  // namespace pj::chat
