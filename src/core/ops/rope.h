// Rotary position embeddings (RoFormer, arXiv:2104.09864) with the scalings LLMs use: linear position
// interpolation, per-frequency factors (Llama 3's "llama3" scaling and LongRoPE store these as the
// rope_freqs tensor), and YaRN (arXiv:2309.00071) with the ramp and magnitude correction as llama.cpp
// parametrises it (ext_factor, attn_factor, beta_fast, beta_slow, original context).
#pragma once

#include <cstdint>
#include <vector>

namespace pj::ops {

enum class RopeStyle {
  normal,  // rotate pairs (2i, 2i+1): llama.cpp's layout for the `llama` arch after its Q/K row permutation
  neox,    // rotate pairs (i, i + n_dims/2): Hugging Face's rotate_half, used as is by Qwen, Gemma, ...
};

struct RopeConfig {
  int n_dims = 0;              // rotated dimensions per head (<= head_dim; the rest pass through)
  double freq_base = 10000.0;  // theta
  double freq_scale = 1.0;     // linear scaling: 1 / factor
  RopeStyle style = RopeStyle::normal;
  std::vector<float> freq_factors;  // empty, or n_dims/2 divisors of each frequency
  // YaRN; ext_factor 0 disables it
  double ext_factor = 0.0, attn_factor = 1.0, beta_fast = 32.0, beta_slow = 1.0;
  int n_ctx_orig = 0;
  // Round each inverse frequency to bfloat16 (via float32). transformers does this in effect for a
  // model held in bfloat16 (its inv_freq buffer is cast with the weights), so references computed that
  // way need it; llama.cpp does not round.
  bool inv_freq_bf16 = false;
};

// cos/sin for one position, n_dims/2 of each: the table a whole row of heads shares.
void rope_cos_sin(const RopeConfig& c, int64_t pos, float* cos_out, float* sin_out);

// Rotates x: [n_heads, head_dim] in place for position pos, using a table from rope_cos_sin.
void rope_apply(const RopeConfig& c, const float* cos_t, const float* sin_t, float* x, int n_heads,
                int head_dim);

// llama3 scaling expressed as frequency divisors (what GGUF stores as rope_freqs.weight):
// wavelengths shorter than original_ctx/high_freq_factor are kept, longer than
// original_ctx/low_freq_factor divided by `factor`, and the band between is interpolated smoothly.
std::vector<float> llama3_freq_factors(int n_dims, double freq_base, double factor,
                                       double low_freq_factor, double high_freq_factor,
                                       double original_ctx);

}  // namespace pj::ops
