// Test helper: quantizes / dequantizes raw little-endian arrays with our reference kernels, so that
// tests/python/test_quant_vs_gguf.py can compare the bytes with gguf-py's.
//   quant_tool quantize TYPE in.f32 out.bin      (in: float32 array; element count % block size == 0)
//   quant_tool dequantize TYPE in.bin out.f32    (in: whole blocks of TYPE)
//   quant_tool quantize_rows TYPE N_PER_ROW in.f32 imatrix.f32|none out.bin
//       rows of N_PER_ROW values through the type's quantize_rows (what `pajamas quantize` runs), with
//       N_PER_ROW importance weights or none (tests/python/test_iquants_vs_gguf.py)
//   quant_tool dot TYPE N x.bin y.bin out.f32
//       vec_dot of each row of N values of TYPE in x.bin with the one row of its vec_dot_type in y.bin,
//       per instruction set: out holds rows floats for scalar, then AVX2, then AVX-512 (NaN where this
//       CPU lacks it) (tests/python/test_dot_order_vs_ggml.py)
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/kernels/context.h"

namespace {

std::vector<float> read_floats(const std::string& path) {
  pj::MappedFile file(path);
  if (file.size() % sizeof(float) != 0) pj::fail("quant_tool: {}: size {} is not a whole number of floats", path, file.size());
  std::vector<float> x(file.size() / sizeof(float));
  if (!x.empty()) std::memcpy(x.data(), file.data(), file.size());
  return x;
}

int quantize_rows(int argc, char** argv) {
  if (argc != 7) pj::fail("usage: quant_tool quantize_rows TYPE N_PER_ROW IN IMATRIX|none OUT");
  const auto type = pj::ggml_type_from_name(argv[2]);
  if (!type) pj::fail("quant_tool: unknown type '{}'", argv[2]);
  const int64_t n_per_row = std::stoll(argv[3]);
  pj::KernelContext ctx(pj::KernelContext::Options{.threads = 1, .isa = pj::Isa::Scalar});
  const pj::TypeTraits& t = ctx.traits(*type);
  const std::vector<float> x = read_floats(argv[4]);
  std::vector<float> imatrix;
  if (std::string(argv[5]) != "none") imatrix = read_floats(argv[5]);
  if (n_per_row <= 0 || x.size() % size_t(n_per_row) != 0 || (!imatrix.empty() && imatrix.size() != size_t(n_per_row)))
    pj::fail("quant_tool: {} values, {} importance weights do not make rows of {}", x.size(), imatrix.size(), n_per_row);
  pj::check_row_length(*type, n_per_row, argv[4]);
  if (!t.quantize_rows) pj::fail("quant_tool: type {} has no quantize_rows", argv[2]);
  const int64_t nrow = int64_t(x.size()) / n_per_row;
  std::vector<uint8_t> result(size_t(nrow) * pj::ggml_row_size(*type, uint64_t(n_per_row)));
  t.quantize_rows(x.data(), result.data(), nrow, n_per_row, imatrix.empty() ? nullptr : imatrix.data());
  pj::AtomicFileWriter w(argv[6]);
  w.write(result.data(), result.size());
  w.commit();
  return 0;
}

int dot(int argc, char** argv) {
  if (argc != 7) pj::fail("usage: quant_tool dot TYPE N X Y OUT");
  const auto type = pj::ggml_type_from_name(argv[2]);
  if (!type) pj::fail("quant_tool: unknown type '{}'", argv[2]);
  const int64_t n = std::stoll(argv[3]);
  pj::check_row_length(*type, n, argv[2]);
  const pj::TypeTraits& t = pj::kernel_table(pj::Isa::Scalar).types[size_t(*type)];
  if (!t.vec_dot) pj::fail("quant_tool: type {} has no vec_dot", argv[2]);
  const size_t xrow = pj::ggml_row_size(*type, uint64_t(n)), yrow = pj::ggml_row_size(t.vec_dot_type, uint64_t(n));
  pj::MappedFile xf(argv[4]), yf(argv[5]);
  if (xf.size() % xrow != 0) pj::fail("quant_tool: {}: size {} is not a whole number of {}-byte rows", argv[4], xf.size(), xrow);
  if (yf.size() != yrow) pj::fail("quant_tool: {}: size {}, expected one {}-byte row", argv[5], yf.size(), yrow);
  const std::vector<uint8_t> x(xf.data(), xf.data() + xf.size()), y(yf.data(), yf.data() + yf.size());  // aligned copies
  const size_t rows = x.size() / xrow;
  std::vector<float> out;
  for (pj::Isa isa : {pj::Isa::Scalar, pj::Isa::Avx2, pj::Isa::Avx512})
    for (size_t r = 0; r < rows; ++r)
      out.push_back(pj::isa_available(isa) ? pj::kernel_table(isa).types[size_t(*type)].vec_dot(n, x.data() + r * xrow, y.data())
                                           : std::nanf(""));
  pj::AtomicFileWriter w(argv[6]);
  w.write(out.data(), out.size() * sizeof(float));
  w.commit();
  return 0;
}

int run(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "quantize_rows") return quantize_rows(argc, argv);
  if (argc >= 2 && std::string(argv[1]) == "dot") return dot(argc, argv);
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
