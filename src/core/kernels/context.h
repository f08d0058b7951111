// KernelContext: the kernels' view of the machine. Owns the thread pool and the function table of
// the chosen instruction set, picked once at construction (CPUID, lowered by Options::isa or the
// environment variable PJ_ISA=scalar|avx2|avx512). Not thread-safe: one caller thread at a time,
// as with the pool. Several contexts may coexist (e.g. one per server worker).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/kernels/kernel_table.h"
#include "core/kernels/thread_pool.h"

namespace pj {

std::optional<Isa> parse_isa(std::string_view name);

class KernelContext {
 public:
  struct Options {
    int threads = 0;          // 0: hardware concurrency
    std::optional<Isa> isa;   // unset: PJ_ISA if set, else the best the CPU has
    // matmul's register-blocked tile kernels (TypeTraits::gemm) for n >= 2. They give the same bits
    // as the one-row dots, so this only changes speed (for A/B benchmarks). Unset: on unless the
    // environment variable PJ_GEMM is 0.
    std::optional<bool> gemm = std::nullopt;  // (initialised: no -Wmissing-field-initializers where omitted)
  };
  KernelContext() : KernelContext(Options{}) {}
  explicit KernelContext(Options opts);

  Isa isa() const { return table_->isa; }
  bool gemm_enabled() const { return gemm_; }
  const KernelTable& table() const { return *table_; }
  const OpsTable& ops() const { return table_->ops; }
  ThreadPool& pool() { return pool_; }

  // Traits of a type that has kernels; pj::Error for a type without (yet), naming it.
  const TypeTraits& traits(GgmlType type) const;

  // Checked row conversions and dot product: pj::Error if n is not a multiple of the block size.
  void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) const;
  void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) const;
  // x: a row of `type`, y: a row of traits(type).vec_dot_type.
  float vec_dot(GgmlType type, int64_t n, const void* x, const void* y) const;

  // Scratch memory for kernels (e.g. the quantized activations of a matmul); reused across calls.
  uint8_t* scratch(size_t bytes);

 private:
  const KernelTable* table_;
  bool gemm_ = true;
  ThreadPool pool_;
  std::vector<uint8_t> scratch_;
};

// Throws pj::Error "<what>: <n> elements is not a multiple of <type>'s block size <bs>".
void check_row_length(GgmlType type, int64_t n, const char* what);

}  // namespace pj
