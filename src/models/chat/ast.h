// The parsed form of a chat template: expressions and statements, each with the template line it came
// from so that run-time errors can name it.
#pragma once

#include "models/chat/value.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pj::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    literal,   // value
    name,      // name
    list,      // args
    tuple,     // args
    dict,      // kwargs keys are expressions: args holds k0, v0, k1, v1, ...
    getattr,   // a . name
    getitem,   // a [ b ]
    slice,     // a [ args[0] : args[1] : args[2] ] (null entries for omitted parts)
    call,      // a ( args, kwargs )
    filter,    // a | name ( args, kwargs )
    test,      // a is [not] name ( args )   negated
    not_,      // not a
    neg,       // - a
    pos,       // + a
    binary,    // a op b   (name = op: + - * / // % ** ~ == != < <= > >= in)   negated for "not in"
    and_,      // a and b
    or_,       // a or b
    cond,      // a if b else c (c may be null)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  bool negated = false;
  ExprPtr a, b, c;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    text,        // text
    output,      // {{ expr }}
    if_,         // branches (cond, body) then else_body
    for_,        // targets in expr [if cond] body [else else_body]
    set,         // targets = expr, or ns.attr = expr (attr set)
    set_block,   // {% set name %}body{% endset %}
    macro,       // name(params) body
    call_block,  // {% call[(params)] expr %}body{% endcall %}
    break_,
    continue_,
    filter_block,  // {% filter name(args) %}body{% endfilter %}: expr is the filter applied to a placeholder
    scope,         // generation blocks (Hugging Face's AssistantTracker tag): body rendered as is
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr, cond;
  std::vector<std::string> targets;
  std::string attr;  // set ns.attr
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro / call-block parameters with defaults
};

// Parses template source; throws pj::Error "<name>: line N: ..." for syntax errors and constructs
// outside the supported subset.
Body parse_template(const std::string& source, const std::string& name);

}  // namespace pj::chat
