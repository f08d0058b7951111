// Scoring a reply. Strict (the default): the reply is cut of its reasoning and trimmed, and must then
// be the expected answer exactly: "A" is right, "A." and "The answer is A" are wrong, because a caller
// that parses the reply would fail on them. Lenient: the score of the usual "contains the answer"
// check, kept to show how much strictness costs.
#pragma once

#include "apps/eval/question.h"

#include <string>

namespace pj::eval {

// Removes reasoning: every complete <think>...</think> block, then an unclosed <think> and all after
// it (the budget ran out while thinking), then, if a </think> is left with no opening tag (the chat
// template opened the block in the prompt), everything up to and including it; then trims whitespace.
std::string strip_reasoning(const std::string& reply);

// `parsed` is strip_reasoning(reply). Strict: parsed == answer, byte for byte; for tool_args the
// whole of `parsed` must be one JSON value equal to the expected object (key order and spacing free,
// values and their types not).
bool strict_match(const Question& q, const std::string& parsed);

// Lenient: choice: the letter appears as a standalone capital letter; number: the number appears not
// inside a longer number (after removing thousands commas); text and tool_name: the answer appears as
// a whole word, ignoring case; tool_args: the first {...} in the reply parses to the expected object.
bool lenient_match(const Question& q, const std::string& parsed);

}  // namespace pj::eval
