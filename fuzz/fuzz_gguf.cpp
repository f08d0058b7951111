// libFuzzer target: parse arbitrary bytes as GGUF from memory. Malformed input must end in pj::Error;
// anything else (crash, sanitizer report, other exception) is a bug. Every parsed value and every byte
// range a tensor claims is touched so that ASan sees any pointer that escaped the input.
#include "core/base/error.h"
#include "core/gguf/gguf.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <numeric>

namespace {

uint64_t touch(const pj::gguf::Array& a);

uint64_t touch(const pj::gguf::Value& v) {
  return std::visit(
      [](const auto& x) -> uint64_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return x.size() ? uint8_t(x.front()) + uint8_t(x.back()) : 0;
        else if constexpr (std::is_same_v<T, pj::gguf::Array>) return touch(x);
        else if constexpr (std::is_floating_point_v<T>) {
          // by bit pattern: a value cast of NaN, inf or 3e38 to an integer is itself undefined
          uint64_t bits = 0;
          std::memcpy(&bits, &x, sizeof(x));
          return bits;
        } else return static_cast<uint64_t>(x);
      },
      v.storage());
}

uint64_t touch(const pj::gguf::Array& a) {
  return std::visit(
      [](const auto& items) -> uint64_t {
        uint64_t h = items.size();
        for (const auto& e : items) {
          using E = typename std::decay_t<decltype(items)>::value_type;
          h += touch(pj::gguf::Value(static_cast<const E&>(e)));
        }
        return h;
      },
      a.storage());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = pj::gguf::File::from_memory(data, size, "fuzz.gguf");
    volatile uint64_t sink = f.alignment() + f.data_offset();
    for (const auto& kv : f.metadata()) {
      sink = sink + touch(kv.value) + kv.key.size();
      if (f.find(kv.key) != &kv.value) __builtin_trap();  // the index must agree with the list
    }
    for (const auto& t : f.tensors()) {
      if (f.data_offset() + t.offset + t.n_bytes > size || t.n_bytes == 0) __builtin_trap();
      sink = sink + t.data[0] + t.data[t.n_bytes - 1] + t.n_elements + t.shape.size();
      if (&f.tensor(t.name) != &t) __builtin_trap();
    }
    (void)f.get_u32_or("general.alignment", 32);
    (void)f.get_string_or("general.architecture", "");
  } catch (const pj::Error&) {
  }
  return 0;
}
