// libFuzzer target: the same bytes go to the safetensors parser and to the SentencePiece ModelProto
// parser. Either may reject the input with pj::Error; anything else (a crash, a sanitizer report, another
// exception type) is a bug.
//   CXX=clang++ cmake -S . -B build-fuzz-hf -G Ninja -DPJ_FUZZ=ON && cmake --build build-fuzz-hf --target fuzz_safetensors
//   ./build-fuzz-hf/fuzz_safetensors -max_total_time=30 fuzz/corpus/fuzz_safetensors
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/hf/sentencepiece_model.h"
#include "core/safetensors/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = pj::safetensors::File::parse(pj::MappedFile::borrow(data, size, "fuzz.safetensors"));
    // Touch every byte the parser claims is valid, and convert the first elements of each tensor.
    float out[4];
    for (const auto& t : f.tensors()) {
      volatile uint8_t sink = 0;
      for (uint64_t i = 0; i < t.nbytes; ++i) sink = sink ^ t.data[i];
      uint64_t n = t.n_elements() < 4 ? t.n_elements() : 4;
      pj::safetensors::to_f32(t, 0, n, out);
    }
  } catch (const pj::Error&) {
  }
  try {
    auto m = pj::hf::parse_spm_model(data, size, "fuzz.model");
    (void)m;
  } catch (const pj::Error&) {
  }
  return 0;
}
