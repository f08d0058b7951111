// Test helper: quantizes / dequantizes raw little-endian arrays with our reference kernels, so that
// tests/python/test_quant_vs_gguf.py can compare the bytes with gguf-py's.
//   quant_tool quantize TYPE in.f32 out.bin      (in: float32 array; element count % block size == 0)
//   quant_tool dequantize TYPE in.bin out.f32    (in: whole blocks of TYPE)
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/kernels/context.h"

namespace {

int run(int argc, char** argv) {
  if (argc != 5) pj::fail("usage: quant_tool quantize|dequantize TYPE IN OUT");
  const std::string mode = argv[1], in = argv[3], out = argv[4];
  const auto type = pj::ggml_type_from_name(argv[2]);
  if (!type) pj::fail("quant_tool: unknown type '{}'", argv[2]);
  pj::KernelContext ctx(pj::KernelContext::Options{.threads = 1, .isa = pj::Isa::Scalar});
  const pj::TypeTraits& t = ctx.traits(*type);
  pj::MappedFile file(in);
  std::vector<uint8_t> result;
  if (mode == "quantize") {
    if (file.size() % sizeof(float) != 0) pj::fail("quant_tool: {}: size {} is not a whole number of floats", in, file.size());
    const int64_t n = int64_t(file.size() / sizeof(float));
    std::vector<float> x(static_cast<size_t>(n));
    if (n) std::memcpy(x.data(), file.data(), file.size());
    pj::check_row_length(*type, n, in.c_str());
    result.resize(pj::ggml_row_size(*type, uint64_t(n)));
    ctx.quantize_row(*type, x.data(), result.data(), n);
  } else if (mode == "dequantize") {
    if (file.size() % t.type_size != 0)
      pj::fail("quant_tool: {}: size {} is not a whole number of {}-byte blocks", in, file.size(), t.type_size);
    const int64_t n = int64_t(file.size() / t.type_size) * t.block_size;
    std::vector<uint8_t> blocks(file.data(), file.data() + file.size());  // aligned copy
    std::vector<float> y(static_cast<size_t>(n));
    ctx.dequantize_row(*type, blocks.data(), y.data(), n);
    result.resize(y.size() * sizeof(float));
    if (n) std::memcpy(result.data(), y.data(), result.size());
  } else {
    pj::fail("quant_tool: unknown mode '{}' (quantize or dequantize)", mode);
  }
  pj::AtomicFileWriter w(out);
  w.write(result.data(), result.size());
  w.commit();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
