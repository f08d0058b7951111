// The JSON constraint accepts exactly the texts that parse (and match the schema), byte by byte:
// every prefix of a valid document is accepted, and a byte that breaks the grammar or the schema is
// refused at that byte.
#include "apps/server/json_constraint.h"
#include "core/base/error.h"

#include <gtest/gtest.h>

using pj::server::JsonConstraint;
using nlohmann::json;

namespace {

bool accepts(JsonConstraint c, const std::string& text, bool want_complete = true) {
  if (!c.feed(text)) return false;
  return !want_complete || c.complete();
}

const json kPerson = json::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "mood": {"enum": ["happy", "sad"]},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    "score": {"type": ["number", "null"]}
  },
  "required": ["name", "age"],
  "additionalProperties": false
})");

}  // namespace

TEST(JsonConstraint, AnyObjectAcceptsValidJson) {
  const auto c = JsonConstraint::any_object();
  for (const char* ok : {"{}", "{\"a\":1}", " { \"a\" : [1, 2.5e-3, -0, true, false, null, \"x\\n\\u00e9\"] } ",
                         "{\"nested\":{\"deep\":[[],[{}]]}}", "{\"s\":\"caf\xc3\xa9\"}"})
    EXPECT_TRUE(accepts(c, ok)) << ok;
}

TEST(JsonConstraint, AnyObjectRefusesAtTheBadByte) {
  const auto c = JsonConstraint::any_object();
  for (const char* bad : {"[1]", "\"s\"", "{a:1}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":1,}", "{\"a\":tru}",
                          "{\"a\":1}x", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":-}", "{\"a\":1.}"})
    EXPECT_FALSE(accepts(c, bad)) << bad;
  JsonConstraint d = c;
  EXPECT_TRUE(d.feed("{\"a\":"));
  EXPECT_FALSE(d.complete());
  EXPECT_FALSE(d.can_feed("}"));
  EXPECT_TRUE(d.can_feed("12"));
  EXPECT_TRUE(d.feed("12}"));
  EXPECT_TRUE(d.complete());
}

TEST(JsonConstraint, EveryPrefixOfAValidDocumentIsAccepted) {
  const auto c = JsonConstraint::from_schema(kPerson, "schema");
  const std::string doc = R"({"name": "Ada", "age": 36, "mood": "happy", "tags": ["x", "y"], "score": null})";
  JsonConstraint s = c;
  for (size_t i = 0; i < doc.size(); ++i) {
    ASSERT_TRUE(s.feed(doc.substr(i, 1))) << "refused byte " << i << " of " << doc;
    EXPECT_EQ(s.complete(), i + 1 == doc.size()) << i;
  }
}

TEST(JsonConstraint, SchemaIsEnforced) {
  const auto c = JsonConstraint::from_schema(kPerson, "schema");
  EXPECT_TRUE(accepts(c, R"({"age": 1, "name": ""})"));
  EXPECT_TRUE(accepts(c, R"({"name": "a", "age": -7, "score": 1.5e3})"));
  EXPECT_FALSE(accepts(c, R"({"name": "a"})"));                      // required age missing: '}' refused
  EXPECT_FALSE(accepts(c, R"({"name": "a", "age": 1.5})"));          // integer
  EXPECT_FALSE(accepts(c, R"({"name": 3, "age": 1})"));              // string
  EXPECT_FALSE(accepts(c, R"({"name": "a", "age": 1, "x": 1})"));    // additionalProperties false
  EXPECT_FALSE(accepts(c, R"({"name": "a", "name": "b", "age": 1})"));  // duplicate key
  EXPECT_FALSE(accepts(c, R"({"name": "a", "age": 1, "mood": "ok"})"));  // enum
  EXPECT_FALSE(accepts(c, R"({"name": "a", "age": 1, "tags": ["a","b","c"]})"));  // maxItems
  EXPECT_FALSE(accepts(c, R"({"name": "a", "age": 1, "score": "1"})"));  // number or null
  JsonConstraint s = c;
  ASSERT_TRUE(s.feed("{\"na"));
  EXPECT_FALSE(s.can_feed("x"));  // no property starts with "nax"
  EXPECT_TRUE(s.can_feed("me\""));
}

TEST(JsonConstraint, RefsAnyOfAndNumbersNeedALookahead) {
  const json schema = json::parse(R"({
    "$defs": {"Pt": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
    "type": "object",
    "properties": {"p": {"$ref": "#/$defs/Pt"}, "q": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                   "e": {"enum": [1, 12]}},
    "required": ["p"]
  })");
  const auto c = JsonConstraint::from_schema(schema, "schema");
  EXPECT_TRUE(accepts(c, R"({"p": {"x": 1}, "q": "s", "e": 12})"));
  EXPECT_TRUE(accepts(c, R"({"p": {"x": 2.5, "extra": [1]}, "q": 7, "e": 1})"));
  EXPECT_FALSE(accepts(c, R"({"p": {"x": 2.5, "extra": 1, "extra": 2}})"));  // duplicate undeclared key
  EXPECT_TRUE(accepts(c, R"({"p": {"x": 2.5, "ex": 1, "extra": 2, "e": 3}})"));
  EXPECT_FALSE(accepts(c, R"({"p": {"y": 1}})"));
  EXPECT_FALSE(accepts(c, R"({"p": {"x": 1}, "q": true})"));
  EXPECT_FALSE(accepts(c, R"({"p": {"x": 1}, "e": 2})"));
  // a number at the top level is complete once a digit is in, and stays open for more digits
  auto n = JsonConstraint::from_schema(json::parse(R"({"type": "integer"})"), "schema");
  EXPECT_TRUE(n.feed("42"));
  EXPECT_TRUE(n.complete());
  EXPECT_TRUE(n.can_feed("7"));
}

TEST(JsonConstraint, WhitespaceRunsAreCapped) {
  const auto c = JsonConstraint::any_object();
  EXPECT_TRUE(accepts(c, "{\n    \"a\": 1\n}"));
  EXPECT_FALSE(accepts(c, "{" + std::string(100, '\n') + "}"));
}

TEST(JsonConstraint, UnsupportedSchemasAreErrorsNamingTheSpot) {
  try {
    (void)JsonConstraint::from_schema(json::parse(R"({"type":"object","properties":{"a":{"not":{}}}})"), "rf");
    FAIL() << "expected an error";
  } catch (const pj::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rf/properties/a"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'not'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)JsonConstraint::from_schema(json::parse(R"({"$ref":"#/$defs/Missing"})"), "rf"), pj::Error);
  EXPECT_THROW((void)JsonConstraint::from_schema(json::parse(R"({"type":"thing"})"), "rf"), pj::Error);
  EXPECT_THROW((void)JsonConstraint::from_schema(json(42), "rf"), pj::Error);
  // a recursive schema compiles (the $ref is resolved once)
  const json tree = json::parse(R"({"$defs":{"N":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/N"}}}}},"$ref":"#/$defs/N"})");
  const auto t = JsonConstraint::from_schema(tree, "rf");
  EXPECT_TRUE(accepts(t, R"({"kids":[{"kids":[]},{}]})"));
}
