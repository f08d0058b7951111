// Gemma 2 and Gemma 3: embeddings scaled by sqrt(n_embd), GeGLU (GELU-tanh), RMS norms before and
// after both attention and feed-forward (the converter stores Gemma's (1 + w) norm weights with the 1
// added, as llama.cpp does), NeoX RoPE, local sliding-window layers interleaved with global ones.
// Gemma 2: attention and final logit soft-capping, sliding window on even layers.
// Gemma 3: q/k RMS norms, local layers use RoPE base 10000 (rope.freq_base_swa), a pattern of five local
// layers to one global unless the file lists the pattern per layer.
#include "models/llm/arch.h"

#include "core/base/error.h"
#include "core/base/half.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace pj::llm {

namespace {

void read_swa_pattern(const gguf::File& f, LlmHparams& h, int default_period) {
  const std::string key = h.arch + ".attention.sliding_window_pattern";
  if (const gguf::Value* v = f.find(key)) {
    if (const gguf::Array* a = v->get_if<gguf::Array>(); a && a->holds<bool>()) {
      const auto& b = a->get<bool>();
      if (int64_t(b.size()) != h.n_layer)
        fail("llm: {}: {} has {} entries for {} layers", f.path(), key, b.size(), h.n_layer);
      for (int64_t i = 0; i < h.n_layer; ++i) h.layer_swa[size_t(i)] = b[size_t(i)];
      return;
    }
    if (auto p = v->as_int<uint32_t>()) default_period = int(*p);
  }
  // period P: layers with (i + 1) % P != 0 are local
  for (int64_t i = 0; i < h.n_layer; ++i)
    h.layer_swa[size_t(i)] = default_period > 0 && (i + 1) % default_period != 0;
}

// Gemma's 27B models scale queries by 1/sqrt(n_embd / n_head) instead of 1/sqrt(head_dim)
// (query_pre_attn_scalar in the reference config); hub GGUFs do not store it, llama.cpp keys it on the
// layer count, and so do we unless the file says otherwise (attention.scale, written by our converter).
void gemma_attention_scale(const gguf::File& f, LlmHparams& h, int64_t layers_27b) {
  if (h.attn_scale > 0 || h.n_layer != layers_27b) return;
  h.attn_scale = 1.0f / std::sqrt(float(h.n_embd / h.n_head));
}

}  // namespace

void configure_gemma2(const gguf::File& f, LlmHparams& h) {
  h.rope.style = ops::RopeStyle::neox;
  h.rope_swa = h.rope;
  h.act = Activation::gelu_tanh;
  h.embed_scale = true;
  if (!f.has(h.arch + ".attention.sliding_window")) h.sliding_window = 4096;  // Gemma 2's default
  read_swa_pattern(f, h, 2);
  gemma_attention_scale(f, h, 46);
}

void configure_gemma3(const gguf::File& f, LlmHparams& h) {
  h.rope.style = ops::RopeStyle::neox;
  h.rope_swa = h.rope;
  // Local layers never use the long-context scaling of the global ones.
  h.rope_swa.freq_scale = 1.0;
  h.rope_swa.ext_factor = 0.0;
  h.rope_swa.freq_factors.clear();
  h.rope_swa.freq_base = f.get_f32_or(h.arch + ".rope.freq_base_swa", 10000.0f);
  h.act = Activation::gelu_tanh;
  h.embed_scale = true;
  read_swa_pattern(f, h, 6);
  gemma_attention_scale(f, h, 62);
}

namespace {

// ggml-cpu/vec.h: ggml_vec_geglu_f32 (GGML_GELU_FP16) looks GELU up in ggml_table_gelu_f16[i] =
// fp16(ggml_gelu_f32(f32(i))), ggml_gelu_f32(x) = 0.5f*x*(1.0f + tanhf(SQRT_2_OVER_PI*x*(1.0f + GELU_COEF_A*x*x))),
// for -10 < x < 10 (0 below, x above). The F16 rounding of both the input and the output is a relative
// change of up to 2^-11, which 18 layers of 8-bit activation quantization would amplify to percent-level
// logit differences if we used the float formula, so we keep it.
float gelu_f16_value(uint16_t h) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefA = 0.044715f;
  const float f = fp16_to_f32(h);
  // 1 + A x x as one fma: GCC contracts ggml's expression so (-ffp-contract=fast, the default for
  // gnu11 with -march=native); the plain form differs in the last bit for some inputs, which the F16
  // rounding can turn into a whole F16 step (seen at x = -1.999).
  const float g = 0.5f * f * (1.0f + std::tanh(kSqrt2OverPi * f * std::fma(kCoefA * f, f, 1.0f)));
  return fp16_to_f32(f32_to_fp16(g));
}

// The table over the F16 values of magnitude <= 10 (0x4900; inputs in (-10, 10) round to those), as
// floats: index m for +m, kSize + m for -m. Built once per process, read-only afterwards.
struct GeluTable {
  static constexpr uint32_t kTen = 0x4900, kSize = kTen + 1;
  std::vector<float> v;
  GeluTable() : v(2 * size_t(kSize)) {
    for (uint32_t m = 0; m < kSize; ++m) {
      v[m] = gelu_f16_value(uint16_t(m));
      v[kSize + m] = gelu_f16_value(uint16_t(0x8000u | m));
    }
  }
};

}  // namespace

void geglu_ggml(const float* gate, const float* up, float* out, int64_t n) {
  static const GeluTable table;  // immutable after construction (thread-safe initialisation)
  const float* t = table.v.data();
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    float y;
    if (x <= -10.0f) {
      y = 0.0f;
    } else if (x >= 10.0f) {
      y = x * up[i];
    } else {
      const uint16_t h = f32_to_fp16(x);
      const uint32_t m = h & 0x7fffu;
      const float g = m > GeluTable::kTen ? gelu_f16_value(h)  // NaN
                                          : t[(h & 0x8000u ? GeluTable::kSize : 0u) + m];
      y = g * up[i];
    }
    out[i] = y;
  }
}

}  // namespace pj::llm
