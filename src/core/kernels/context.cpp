#include "core/kernels/context.h"

#include <cstdlib>
#include <string>

#include "core/base/error.h"
#include "core/kernels/gemm_kernels.h"
#include "core/kernels/iquants_ref.h"
#include "core/kernels/kquants_ref.h"
#include "core/kernels/simd_kernels.h"

namespace pj {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
  }
  return "?";
}

std::optional<Isa> parse_isa(std::string_view name) {
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon})
    if (isa_name(i) == name) return i;
  return std::nullopt;
}

Isa cpu_best_isa() {
#if defined(__x86_64__)
  // __builtin_cpu_supports also checks (via XGETBV) that the OS saves the wider registers.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    return Isa::Avx2;
#elif defined(__aarch64__)
  return Isa::Neon;  // Advanced SIMD is part of every AArch64 CPU
#endif
  return Isa::Scalar;
}

bool isa_available(Isa isa) {
  const Isa best = cpu_best_isa();
  if (isa == Isa::Scalar) return true;
  if (best == Isa::Neon) return isa == Isa::Neon;
  return isa != Isa::Neon && isa <= best;
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

namespace {

void overlay(KernelTable& t, const SimdKernels& k) {
  auto put = [&](GgmlType type, SimdKernels::Dot dot) {
    if (dot) t.types[size_t(type)].vec_dot = dot;
  };
  put(GgmlType::Q4_0, k.q4_0_q8_0);
  put(GgmlType::Q4_1, k.q4_1_q8_1);
  put(GgmlType::Q5_0, k.q5_0_q8_0);
  put(GgmlType::Q5_1, k.q5_1_q8_1);
  put(GgmlType::Q8_0, k.q8_0_q8_0);
  put(GgmlType::F32, k.f32);
  put(GgmlType::F16, k.f16_f32);
  put(GgmlType::BF16, k.bf16);
  if (k.rms_norm) t.ops.rms_norm = k.rms_norm;
  if (k.softmax) t.ops.softmax = k.softmax;
  if (k.silu) t.ops.silu = k.silu;
  if (k.q4_1_q8_1_x4) t.types[size_t(GgmlType::Q4_1)].vec_dot4 = k.q4_1_q8_1_x4;
  if (k.q8_0_q8_0_x4) t.types[size_t(GgmlType::Q8_0)].vec_dot4 = k.q8_0_q8_0_x4;
  if (k.q4_0_q8_0_x4) t.types[size_t(GgmlType::Q4_0)].vec_dot4 = k.q4_0_q8_0_x4;
  if (k.q5_0_q8_0_x4) t.types[size_t(GgmlType::Q5_0)].vec_dot4 = k.q5_0_q8_0_x4;
  if (k.q8_0_act) t.types[size_t(GgmlType::Q8_0)].from_float = k.q8_0_act;
  if (k.q8_1_act) t.types[size_t(GgmlType::Q8_1)].from_float = k.q8_1_act;
  if (k.swiglu) t.ops.swiglu = k.swiglu;
  if (k.attn_dot) t.ops.attn_dot = k.attn_dot;
  if (k.attn_dot16) t.ops.attn_dot16 = k.attn_dot16;
  if (k.attn_kt16) t.ops.attn_kt16 = k.attn_kt16;
  if (k.max_f32) t.ops.max_f32 = k.max_f32;
  if (k.f16_to_f32) t.ops.f16_to_f32 = k.f16_to_f32;
  if (k.scale_f32) t.ops.scale_f32 = k.scale_f32;
  if (k.exp_sum) t.ops.exp_sum = k.exp_sum;
  if (k.attn_accumulate) t.ops.attn_accumulate = k.attn_accumulate;
}

void overlay_gemm(KernelTable& t, const GemmKernels& k) {
  auto put = [&](GgmlType type, GemmKernels::Gemm gemm) {
    if (gemm) t.types[size_t(type)].gemm = gemm;
  };
  put(GgmlType::F32, k.f32);
  put(GgmlType::F16, k.f16_f32);
  put(GgmlType::Q4_0, k.q4_0_q8_0);
  put(GgmlType::Q4_1, k.q4_1_q8_1);
  put(GgmlType::Q5_0, k.q5_0_q8_0);
  put(GgmlType::Q5_1, k.q5_1_q8_1);
  put(GgmlType::Q8_0, k.q8_0_q8_0);
  put(GgmlType::IQ4_NL, k.iq4_nl_q8_0);  // its vec_dot (iquants_simd.inc) is installed after, same order
  if (k.iq4_nl_q8_0_x4) t.types[size_t(GgmlType::IQ4_NL)].vec_dot4 = k.iq4_nl_q8_0_x4;
}

KernelTable build_table(Isa isa) {
  KernelTable t;
  t.isa = isa;
  install_scalar(t);
#if defined(__x86_64__)
  if (isa == Isa::Avx2 || isa == Isa::Avx512) overlay(t, simd_kernels_avx2());
  if (isa == Isa::Avx512) overlay(t, simd_kernels_avx512(cpu_has_avx512_bf16()));
  // Tile kernels (gemm_avx2.cpp, gemm_avx512.cpp), each bit-identical to the vec_dot installed above.
  if (isa == Isa::Avx2 || isa == Isa::Avx512) overlay_gemm(t, gemm_kernels_avx2());
  if (isa == Isa::Avx512) overlay_gemm(t, gemm_kernels_avx512());
#elif defined(__aarch64__)
  if (isa == Isa::Neon) overlay(t, simd_kernels_neon());  // dot_neon.cpp; no tile kernels yet
#endif
  install_kquants_simd(t, isa);  // K-quant dots (kquants_avx2.cpp, kquants_avx512.cpp)
  install_iquants_simd(t, isa);  // IQ/ternary/MXFP4 dots (iquants_avx2.cpp, iquants_avx512.cpp)
  return t;
}

Isa choose_isa(const KernelContext::Options& opts) {
  const Isa best = cpu_best_isa();
  std::optional<Isa> want = opts.isa;
  if (!want) {
    if (const char* env = std::getenv("PJ_ISA"); env && *env) {
      want = parse_isa(env);
      if (!want) fail("kernels: PJ_ISA='{}' is not one of scalar, avx2, avx512, neon", env);
    }
  }
  if (!want) return best;
  if (!isa_available(*want)) {
    std::string have;
    for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon})
      if (isa_available(i)) have += (have.empty() ? "" : ", ") + std::string(isa_name(i));
    fail("kernels: instruction set {} was requested but this build and CPU run only {}", isa_name(*want), have);
  }
  return *want;
}

}  // namespace

const KernelTable& kernel_table(Isa isa) {
  // Built on first use and never modified afterwards: constant data, not mutable state.
  static const KernelTable tables[] = {build_table(Isa::Scalar),
                                       isa_available(Isa::Avx2) ? build_table(Isa::Avx2) : KernelTable{},
                                       isa_available(Isa::Avx512) ? build_table(Isa::Avx512) : KernelTable{},
                                       isa_available(Isa::Neon) ? build_table(Isa::Neon) : KernelTable{}};
  return tables[size_t(isa)];
}

namespace {
bool choose_gemm(const KernelContext::Options& opts) {
  if (opts.gemm) return *opts.gemm;
  const char* env = std::getenv("PJ_GEMM");
  if (!env || !*env) return true;
  const std::string_view v(env);
  if (v == "0") return false;
  if (v == "1") return true;
  fail("kernels: PJ_GEMM='{}' is not 0 or 1", env);
}
}  // namespace

KernelContext::KernelContext(Options opts)
    : table_(&kernel_table(choose_isa(opts))), gemm_(choose_gemm(opts)), pool_(opts.threads) {}

const TypeTraits& KernelContext::traits(GgmlType type) const {
  const auto id = size_t(type);
  if (id >= kNumTypeIds || !table_->types[id].supported) {
    const GgmlTypeInfo* info = ggml_type_info(uint32_t(type));
    fail("kernels: type {} (id {}) has no CPU kernels yet", info ? info->name : "unknown", id);
  }
  return table_->types[id];
}

void check_row_length(GgmlType type, int64_t n, const char* what) {
  const GgmlTypeInfo* info = ggml_type_info(uint32_t(type));
  if (!info) fail("kernels: {}: unknown type id {}", what, uint32_t(type));
  if (n < 0 || n % info->block_size != 0)
    fail("kernels: {}: {} elements is not a multiple of {}'s block size {}", what, n, info->name,
         info->block_size);
}

void KernelContext::quantize_row(GgmlType type, const float* src, void* dst, int64_t n) const {
  const TypeTraits& t = traits(type);
  if (!t.from_float_ref) fail("kernels: type {} has no reference quantizer yet", ggml_type_info(type).name);
  check_row_length(type, n, "quantize_row");
  t.from_float_ref(src, dst, n);
}

void KernelContext::dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) const {
  const TypeTraits& t = traits(type);
  check_row_length(type, n, "dequantize_row");
  t.to_float(src, dst, n);
}

float KernelContext::vec_dot(GgmlType type, int64_t n, const void* x, const void* y) const {
  const TypeTraits& t = traits(type);
  if (!t.vec_dot) fail("kernels: type {} is an activation type and has no dot product", ggml_type_info(type).name);
  check_row_length(type, n, "vec_dot");
  return t.vec_dot(n, x, y);
}

uint8_t* KernelContext::scratch(size_t bytes) {
  if (scratch_.size() < bytes) scratch_.resize(bytes);
  return scratch_.data();
}

}  // namespace pj
