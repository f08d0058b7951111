// Constrained decoding for response_format and forced tool calls: a pushdown acceptor for JSON text,
// fed one byte at a time, that rejects the first byte after which the text could no longer become a
// JSON value matching the schema. The sampler asks it, token by token, whether the token's bytes may
// follow what was generated (can_feed), so the output always parses and matches.
//
// Supported JSON Schema: type (one or a list), properties, required, additionalProperties (bool or
// schema), items, minItems, maxItems, enum, const, anyOf / oneOf (the first alternative that accepts the
// first byte is taken), $ref to #/$defs/... or #/definitions/..., allOf with one member. Annotations
// (description, title, default) are ignored, and so are string and number facets (format, pattern,
// minLength, maximum, ...): those are not enforced. Structural keywords it cannot honour (not, if,
// patternProperties, prefixItems, ...) are a pj::Error when the schema is compiled.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pj::server {

class JsonConstraint {
 public:
  // Any JSON object (response_format json_object).
  static JsonConstraint any_object();
  // A value matching `schema`; `what` names it in errors ("response_format.json_schema.schema").
  static JsonConstraint from_schema(const nlohmann::json& schema, const std::string& what);

  // Feeds bytes; false (and the state unusable) when a byte cannot follow.
  bool feed(std::string_view bytes);
  // Whether `bytes` could be fed, without changing this state.
  bool can_feed(std::string_view bytes) const;
  // The text so far is a whole value (only whitespace may follow).
  bool complete() const;

  struct Schema;
  struct Frame {
    uint8_t kind = 0, stage = 0;
    int node = 0;
    int count = 0;       // array items / number or literal length
    int prop = -1;       // object: the property whose value comes next (-1: an additional one)
    uint64_t bits = 0;   // object: properties seen; literal: candidates still alive
    std::string text;    // key: the name read so far; object: undeclared keys seen, NUL-separated
  };

 private:
  bool feed_byte(uint8_t c);
  bool start_value(int node, uint8_t c);
  bool value_done();

  std::shared_ptr<const Schema> schema_;
  std::vector<Frame> stack_;
  int ws_run_ = 0;
  bool done_ = false;
};

}  // namespace pj::server
