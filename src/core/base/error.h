// One error policy (GUIDE.md, point 6): programming bugs are assertions; user and data errors are
// pj::Error, whose message names the component and the object at fault, e.g.
//   "gguf: model.gguf: tensor 'blk.3.attn_q.weight' extends past end of file (offset 96, size 4096)".
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace pj {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Throws pj::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace pj
