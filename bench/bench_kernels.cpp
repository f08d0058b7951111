// Matrix-vector throughput per weight type, instruction set and thread count, in GB/s of weight
// bytes read (the quantity that bounds single-token decoding). Sizes: 4096x4096 (a 7B model's
// attention projection) and 576x1536 (SmolLM-135M's feed-forward).
// Also one row dot product per IQ/ternary/MXFP4 type and instruction set ("dot/<type>/<isa>"), in seconds
// per block (counter per_block): the SIMD variants against the scalar reference.
//   build-kern/bench_kernels --benchmark_min_time=0.2s [--benchmark_filter=Q4_0]
//   build-kern/bench_kernels --benchmark_filter=dot/ --benchmark_min_time=0.2s
// And the matrix-matrix product of prompt processing / encoders ("gemm/<type>/<isa>/<rows>x<cols>x<n>/
// <path>/threads:<t>", counter GFLOPS = 2 rows cols n per second): path "tiles" is matmul (the
// register-blocked kernels where the type has them), "dots" is matmul_by_dots (one vec_dot per
// output, the previous implementation), measured in the same run.
//   build-kern/bench_kernels --benchmark_filter=gemm/ --benchmark_min_time=0.5s
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/context.h"
#include "core/kernels/matmul.h"

namespace {

struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<float> x;
};

Weights make_weights(pj::KernelContext& ctx, pj::GgmlType type, int64_t rows, int64_t cols) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Weights w;
  const size_t row_bytes = pj::ggml_row_size(type, uint64_t(cols));
  w.bytes.resize(row_bytes * size_t(rows));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    ctx.quantize_row(type, row.data(), w.bytes.data() + size_t(r) * row_bytes, cols);
  }
  w.x.resize(size_t(cols));
  for (auto& v : w.x) v = dist(rng);
  return w;
}

// A row of `blocks` blocks of `type` (quantized from N(0, 1) with unit importance weights, which every
// quantizer accepts) and the activation row of its vec_dot_type.
struct DotRows {
  std::vector<uint8_t> x, y;
  int64_t n = 0;
};

DotRows make_dot_rows(pj::KernelContext& ctx, pj::GgmlType type, int64_t blocks) {
  const pj::TypeTraits& tr = ctx.traits(type);
  DotRows r;
  r.n = blocks * tr.block_size;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(r.n)), ones(static_cast<size_t>(r.n), 1.0f);
  for (auto& f : v) f = dist(rng);
  r.x.resize(pj::ggml_row_size(type, uint64_t(r.n)));
  if (tr.quantize_rows) tr.quantize_rows(v.data(), r.x.data(), 1, r.n, ones.data());
  else ctx.quantize_row(type, v.data(), r.x.data(), r.n);
  for (auto& f : v) f = dist(rng);
  r.y.resize(pj::ggml_row_size(tr.vec_dot_type, uint64_t(r.n)));
  ctx.quantize_row(tr.vec_dot_type, v.data(), r.y.data(), r.n);
  return r;
}

void register_dot_benchmarks(pj::KernelContext& setup) {
  using T = pj::GgmlType;
  const T types[] = {T::IQ1_S, T::IQ1_M, T::IQ2_XXS, T::IQ2_XS, T::IQ2_S, T::IQ3_XXS,
                     T::IQ3_S, T::IQ4_NL, T::IQ4_XS, T::TQ1_0, T::TQ2_0, T::MXFP4};
  static std::map<int, DotRows> rows;  // benchmark data, alive until main returns
  for (T type : types) {
    const int64_t blocks = setup.traits(type).block_size == 32 ? 2048 : 256;  // 64 Ki elements
    rows[int(type)] = make_dot_rows(setup, type, blocks);
    for (pj::Isa isa : {pj::Isa::Scalar, pj::Isa::Avx2, pj::Isa::Avx512, pj::Isa::Neon}) {
      if (!pj::isa_available(isa)) continue;
      const pj::VecDotFn dot = pj::kernel_table(isa).types[size_t(type)].vec_dot;
      const DotRows* r = &rows[int(type)];
      const std::string name =
          "dot/" + std::string(pj::ggml_type_info(type).name) + "/" + std::string(pj::isa_name(isa));
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
        for (auto _ : state) benchmark::DoNotOptimize(dot(r->n, r->x.data(), r->y.data()));
        // seconds per block (printed with an SI prefix: 12.3n = 12.3 ns)
        state.counters["per_block"] = benchmark::Counter(double(blocks) * double(state.iterations()),
                                                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
      });
    }
  }
}

void register_gemm_benchmarks(pj::KernelContext& setup) {
  using T = pj::GgmlType;
  const T types[] = {T::F32,  T::F16,  T::Q8_0,   T::Q4_0,  T::Q4_1,  T::Q5_0,  T::Q5_1,
                     T::Q4_K, T::Q5_K, T::Q6_K, T::IQ4_NL, T::IQ4_XS, T::IQ3_S, T::IQ3_XXS, T::IQ2_S};
  const int64_t rows = 576, cols = 1536, n = 512;
  static std::map<int, Weights> weights;  // benchmark data, alive until main returns
  static std::vector<float> x;
  x.resize(size_t(n * cols));
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& v : x) v = dist(rng);
  static std::map<std::pair<int, int>, std::unique_ptr<pj::KernelContext>> contexts;
  for (T type : types) {
    weights[int(type)] = make_weights(setup, type, rows, cols);
    for (pj::Isa isa : {pj::Isa::Scalar, pj::Isa::Avx2, pj::Isa::Avx512, pj::Isa::Neon}) {
      if (!pj::isa_available(isa)) continue;
      for (int threads : {1, 2}) {
        auto& ctx = contexts[{int(isa), threads}];
        if (!ctx) ctx = std::make_unique<pj::KernelContext>(pj::KernelContext::Options{.threads = threads, .isa = isa});
        for (bool tiles : {true, false}) {
          pj::KernelContext* c = ctx.get();
          const Weights* w = &weights[int(type)];
          const std::string name = "gemm/" + std::string(pj::ggml_type_info(type).name) + "/" +
                                   std::string(pj::isa_name(isa)) + "/" + std::to_string(rows) + "x" +
                                   std::to_string(cols) + "x" + std::to_string(n) + "/" +
                                   (tiles ? "tiles" : "dots") + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
            std::vector<float> y(size_t(rows * n));
            for (auto _ : state) {
              if (tiles) pj::matmul(*c, type, w->bytes.data(), rows, cols, x.data(), n, y.data());
              else pj::matmul_by_dots(*c, type, w->bytes.data(), rows, cols, x.data(), n, y.data());
              benchmark::DoNotOptimize(y.data());
            }
            state.counters["GFLOPS"] = benchmark::Counter(2.0 * double(rows) * double(cols) * double(n) * 1e-9 *
                                                              double(state.iterations()),
                                                          benchmark::Counter::kIsRate);
          })->UseRealTime();
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  using T = pj::GgmlType;
  const T types[] = {T::F32, T::F16, T::BF16, T::Q8_0, T::Q5_1, T::Q5_0, T::Q4_1, T::Q4_0};
  const std::pair<int64_t, int64_t> shapes[] = {{4096, 4096}, {576, 1536}};
  std::map<std::pair<int, int>, std::unique_ptr<pj::KernelContext>> contexts;
  std::map<std::tuple<int, int64_t, int64_t>, Weights> weights;
  pj::KernelContext setup(pj::KernelContext::Options{.threads = 1, .isa = pj::Isa::Scalar});
  for (pj::Isa isa : {pj::Isa::Scalar, pj::Isa::Avx2, pj::Isa::Avx512, pj::Isa::Neon}) {
    if (!pj::isa_available(isa)) continue;
    for (int threads : {1, 2}) {
      auto& ctx = contexts[{int(isa), threads}];
      ctx = std::make_unique<pj::KernelContext>(pj::KernelContext::Options{.threads = threads, .isa = isa});
      for (T type : types) {
        for (auto [rows, cols] : shapes) {
          auto key = std::make_tuple(int(type), rows, cols);
          if (!weights.count(key)) weights[key] = make_weights(setup, type, rows, cols);
          const Weights* w = &weights[key];
          pj::KernelContext* c = ctx.get();
          const std::string name = std::string(pj::ggml_type_info(type).name) + "/" +
                                   std::string(pj::isa_name(isa)) + "/" + std::to_string(rows) + "x" +
                                   std::to_string(cols) + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
            std::vector<float> y(static_cast<size_t>(rows));
            for (auto _ : state) {
              pj::matvec(*c, type, w->bytes.data(), rows, cols, w->x.data(), y.data());
              benchmark::DoNotOptimize(y.data());
            }
            state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w->bytes.size()));
          })->UseRealTime();
        }
      }
    }
  }
  register_dot_benchmarks(setup);
  register_gemm_benchmarks(setup);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
