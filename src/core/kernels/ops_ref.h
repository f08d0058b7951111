// Scalar reference element-wise ops; the SIMD variants in the kernel table are tested against these.
#pragma once

#include <cstdint>

namespace pj {

void rms_norm_ref(const float* x, const float* w, float* out, int64_t n, float eps);
void rms_norm_rows_ref(const float* x, const float* w, float* out, int64_t rows, int64_t n, float eps);
void layer_norm_ref(const float* x, const float* w, const float* b, float* out, int64_t n, float eps);
void softmax_ref(const float* x, float* out, int64_t n);
void silu_ref(const float* x, float* out, int64_t n);
void gelu_tanh_ref(const float* x, float* out, int64_t n);
// The ggml-order kernels of OpsTable (kernel_table.h) and their pieces.
float ggml_expf_ref(float x);
float lane_tree_ref(const float* a16);
void swiglu_ref(const float* g, const float* u, float* out, int64_t n);
float attn_dot_ref(const float* q, const void* k, bool k_f16, int64_t n);
void attn_dot16_ref(const float* q, const float* kt, int64_t n, float scale, float* out);
void attn_kt16_ref(const void* k, bool k_f16, int64_t stride, int n_rows, int hd, float* kt);
float max_f32_ref(const float* x, int64_t n);
void f16_to_f32_ref(const uint16_t* x, float* out, int64_t n);
void scale_f32_ref(float* x, int64_t n, float s, bool round_f16);
double exp_sum_ref(const float* x, float* out, int64_t n, float max);
void attn_accumulate_ref(const float* p, const void* v, bool v_f16, int64_t stride, int64_t first,
                         int64_t last, int hd, float* out);

}  // namespace pj
