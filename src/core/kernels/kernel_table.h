// The kernel function table: one row of traits per ggml type (GUIDE.md point 3: quant types are data)
// plus the element-wise ops the LLM engine needs. One table exists per instruction set; a
// KernelContext (context.h) picks one at construction, so the table itself is immutable data.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/base/ggml_types.h"

namespace pj {

// Avx2 and Avx512 exist on x86-64 CPUs that have them, Neon on every AArch64 CPU.
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };
std::string_view isa_name(Isa isa);

// Raw kernels. `n` is the number of elements and must be a multiple of the type's block size; the
// checked entry points in context.h enforce that, these do not.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);
// Dot product of a row of this type (x) with a row of vec_dot_type (y).
using VecDotFn = float (*)(int64_t n, const void* x, const void* y);
// Four rows of this type (x, x + row_bytes, ...) with one row of vec_dot_type: out[r] is bit-identical
// to vec_dot(n, row r, y); one pass over y with four independent accumulators.
using VecDot4Fn = void (*)(int64_t n, const void* x, size_t row_bytes, const void* y, float* out);
// A tile of a matrix product (the register-blocked GEMM kernels, gemm_avx2.cpp / gemm_avx512.cpp):
// out[j * ldo + r] = vec_dot(n, x + r * x_stride, y + j * y_stride) for r < mr, j < nr, x rows of this
// type, y rows of vec_dot_type (strides in bytes). Bit-identical to this table's vec_dot for every
// element: each output accumulates in exactly vec_dot's order; the tiling only reuses each loaded
// weight block across several activation rows and each activation block across several weight rows.
using GemmFn = void (*)(int64_t n, const void* x, size_t x_stride, int64_t mr, const void* y, size_t y_stride,
                        int64_t nr, float* out, int64_t ldo);
// Quantizes nrows rows of n_per_row values as llama.cpp's quantize_<type> (what llama_model_quantize
// runs): imatrix holds one importance weight per column (n_per_row values) or is nullptr. Returns
// the bytes written.
using QuantizeRowsFn = size_t (*)(const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                                  const float* imatrix);

struct TypeTraits {
  GgmlType type = GgmlType::F32;
  bool supported = false;  // false: the id is known but no kernels exist yet (K-quants, IQ types)
  uint32_t block_size = 1;
  uint32_t type_size = 0;
  ToFloatFn to_float = nullptr;
  FromFloatFn from_float_ref = nullptr;  // reference quantizer, bit-exact with llama.cpp's *_ref
  // Quantizer for activations (matmul inputs): llama.cpp's ggml-cpu x86 quantize_row_q8_0/q8_1,
  // which differs from its *_ref in the last bit (127/amax, round-half-even). nullptr: from_float_ref.
  FromFloatFn from_float = nullptr;
  VecDotFn vec_dot = nullptr;            // nullptr for activation-only types (Q8_1)
  VecDot4Fn vec_dot4 = nullptr;          // optional
  GemmFn gemm = nullptr;                 // optional; matmul uses it for n >= 2 activation rows
  GgmlType vec_dot_type = GgmlType::F32;
  QuantizeRowsFn quantize_rows = nullptr;  // nullptr: from_float_ref row by row, no importance weights
};

// Element-wise ops on one row of n floats; `out` may alias `x`.
struct OpsTable {
  // out = x / sqrt(mean(x^2) + eps) * w   (w may be nullptr: no scale)
  void (*rms_norm)(const float* x, const float* w, float* out, int64_t n, float eps) = nullptr;
  // rms_norm of `rows` consecutive rows of n (the same bits; rows interleaved so that their serial
  // double sums overlap instead of each waiting on its own add latency).
  void (*rms_norm_rows)(const float* x, const float* w, float* out, int64_t rows, int64_t n, float eps) = nullptr;
  // out = (x - mean) / sqrt(var + eps) * w + b   (w, b may be nullptr)
  void (*layer_norm)(const float* x, const float* w, const float* b, float* out, int64_t n,
                     float eps) = nullptr;
  // out = exp(x - max) / sum(exp(x - max))
  void (*softmax)(const float* x, float* out, int64_t n) = nullptr;
  // out = x * sigmoid(x)
  void (*silu)(const float* x, float* out, int64_t n) = nullptr;
  // tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  void (*gelu_tanh)(const float* x, float* out, int64_t n) = nullptr;

  // The LLM forward pass in ggml-cpu's arithmetic order (what llama.cpp computes on an AVX-512 CPU),
  // so that our logits follow llama.cpp's through 8-bit activation rounding. "Lanes" below are the
  // 16 float lanes of a 512-bit register; every ISA emulates them exactly (ops_ref.cpp spells the
  // order out), so scalar, AVX2 and AVX-512 give bit-identical results.
  // out = silu(g) * u, silu(x) = x / (1 + exp(-x)) with ggml's vector expf (ggml_v_expf, AVX-512 form).
  void (*swiglu)(const float* g, const float* u, float* out, int64_t n) = nullptr;
  // q . k over n values as ggml_vec_dot_f32: 4 x 16-lane FMA accumulators over steps of 64, folded
  // (0+2, 1+3, 0+1), then the 16-lane tree; a tail of n % 64 added one by one with FMA. k is f32, or f16 when
  // k_f16 (q then holds values already rounded to f16, as ggml converts q to K's type).
  float (*attn_dot)(const float* q, const void* k, bool k_f16, int64_t n) = nullptr;
  // out[i] = attn_dot(q, key i) * scale for 16 keys at once, bit for bit, from keys stored transposed:
  // kt[e * 16 + i] = element e of key i (f32), n a multiple of 64. The keys sit in the lanes, so the 16
  // dots need no horizontal sums: the same products, the same fold and the same 16-lane tree, done
  // across registers instead of within one. (attention.cpp uses it to score a block of queries.)
  void (*attn_dot16)(const float* q, const float* kt, int64_t n, float scale, float* out) = nullptr;
  // kt[e * 16 + i] = element e of row i (k + i * stride, f16 when k_f16, else f32), e < hd, i < 16;
  // rows n_rows..15 are zeros (never read). The layout attn_dot16 takes.
  void (*attn_kt16)(const void* k, bool k_f16, int64_t stride, int n_rows, int hd, float* kt) = nullptr;
  // max of x[0..n) (-inf when n == 0), and x[i] = x[i] * s, rounded to f16 when round_f16: the
  // softmax's maximum and normalisation, exact in any order.
  float (*max_f32)(const float* x, int64_t n) = nullptr;
  // out[i] = x[i] as float (exact), i < n.
  void (*f16_to_f32)(const uint16_t* x, float* out, int64_t n) = nullptr;
  void (*scale_f32)(float* x, int64_t n, float s, bool round_f16) = nullptr;
  // out[i] = exp(x[i] - max) (ggml_v_expf) for i < n, returning the sum as ggml_vec_soft_max_f32:
  // per chunk of 16 the lane tree, added in double. The last chunk's missing lanes count as 0
  // (as llama.cpp's -inf masked scores).
  double (*exp_sum)(const float* x, float* out, int64_t n, float max) = nullptr;
  // out[d] = sum over j in [first, last] of p[j] * v[j * stride + d], d < hd, in llamafile sgemm's
  // order: 16 lanes, lane j % 16 accumulating positions j = lane, lane + 16, ... by FMA, then the
  // lane tree. v is f32, or f16 when v_f16 (p then holds values rounded to f16).
  void (*attn_accumulate)(const float* p, const void* v, bool v_f16, int64_t stride, int64_t first,
                          int64_t last, int hd, float* out) = nullptr;
};

// One slot per ggml type id (ids are small and dense, see ggml_types.h).
inline constexpr size_t kNumTypeIds = [] {
  size_t n = 0;
  for (const auto& t : kGgmlTypes) n = size_t(t.type) + 1 > n ? size_t(t.type) + 1 : n;
  return n;
}();

struct KernelTable {
  Isa isa = Isa::Scalar;
  std::array<TypeTraits, kNumTypeIds> types{};
  OpsTable ops{};
};

// The table for an ISA (built once, immutable). Asking for an ISA the CPU lacks is a bug; use
// cpu_best_isa() / isa_available() / KernelContext.
const KernelTable& kernel_table(Isa isa);
Isa cpu_best_isa();
bool isa_available(Isa isa);  // this build and this CPU can run it
bool cpu_has_avx512_bf16();

// Fills the table with the scalar reference kernels (quants_ref.cpp, ops_ref.cpp).
void install_scalar(KernelTable& t);

}  // namespace pj
