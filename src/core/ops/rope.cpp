#include "core/ops/rope.h"

#include "core/base/half.h"

#include <algorithm>
#include <cmath>

namespace pj::ops {

namespace {

// Dimension index at which a frequency completes n_rot turns over the original context (YaRN).
double yarn_corr_dim(int n_dims, int n_ctx_orig, double n_rot, double base) {
  return n_dims * std::log(n_ctx_orig / (n_rot * 2 * M_PI)) / (2 * std::log(base));
}

double yarn_ramp(double low, double high, int i0) {
  double y = (i0 / 2 - low) / std::max(0.001, high - low);
  return 1.0 - std::min(1.0, std::max(0.0, y));
}

}  // namespace

namespace {

// Hugging Face's computation (double inverse frequencies, rounded to bf16): the reference for
// models held in bf16 by transformers.
void rope_cos_sin_hf(const RopeConfig& c, int64_t pos, float* cos_out, float* sin_out) {
  double low = 0, high = 0;
  double mscale = c.attn_factor;
  if (c.ext_factor != 0.0) {
    low = std::max(0.0, std::floor(yarn_corr_dim(c.n_dims, c.n_ctx_orig, c.beta_fast, c.freq_base)));
    high = std::min(double(c.n_dims - 1), std::ceil(yarn_corr_dim(c.n_dims, c.n_ctx_orig, c.beta_slow, c.freq_base)));
    mscale *= 1.0 + 0.1 * std::log(1.0 / c.freq_scale);
  }
  for (int i0 = 0; i0 < c.n_dims; i0 += 2) {
    double inv_freq = std::pow(c.freq_base, -double(i0) / c.n_dims);
    if (!c.freq_factors.empty()) inv_freq /= c.freq_factors[i0 / 2];
    inv_freq = bf16_to_f32(f32_to_bf16(float(inv_freq)));
    double theta_extrap = double(pos) * inv_freq;
    double theta = c.freq_scale * theta_extrap;
    if (c.ext_factor != 0.0) {
      double mix = yarn_ramp(low, high, i0) * c.ext_factor;
      theta = theta * (1 - mix) + theta_extrap * mix;
    }
    cos_out[i0 / 2] = float(std::cos(theta) * mscale);
    sin_out[i0 / 2] = float(std::sin(theta) * mscale);
  }
}

}  // namespace

void rope_cos_sin(const RopeConfig& c, int64_t pos, float* cos_out, float* sin_out) {
  if (c.inv_freq_bf16) return rope_cos_sin_hf(c, pos, cos_out, sin_out);
  // llama.cpp's computation, in float as ggml_rope_cache_init / rope_yarn (ggml-cpu/ops.cpp) do:
  // theta starts at pos and is multiplied by base^(-2/n_dims) per pair, so later frequencies carry
  // the rounding of the earlier ones; our logits follow llama.cpp's only with the same angles.
  float corr0 = 0.0f, corr1 = 0.0f;
  const float freq_scale = float(c.freq_scale), ext_factor = float(c.ext_factor);
  float mscale = float(c.attn_factor);
  if (c.ext_factor != 0.0) {
    auto corr_dim = [&](float n_rot) {
      return float(c.n_dims) * std::log(float(c.n_ctx_orig) / (n_rot * 2 * float(M_PI))) /
             (2 * std::log(float(c.freq_base)));
    };
    corr0 = std::max(0.0f, std::floor(corr_dim(float(c.beta_fast))));
    corr1 = std::min(float(c.n_dims - 1), std::ceil(corr_dim(float(c.beta_slow))));
    mscale *= 1.0f + 0.1f * std::log(1.0f / freq_scale);
  }
  const float theta_scale = std::pow(float(c.freq_base), -2.0f / float(c.n_dims));
  float theta = float(pos);
  for (int i0 = 0; i0 < c.n_dims; i0 += 2) {
    const float ff = c.freq_factors.empty() ? 1.0f : c.freq_factors[size_t(i0 / 2)];
    const float theta_extrap = theta / ff;
    float th = freq_scale * theta_extrap;
    if (ext_factor != 0.0f) {
      const float y = (float(i0 / 2) - corr0) / std::max(0.001f, corr1 - corr0);
      const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * ext_factor;
      th = th * (1 - ramp_mix) + theta_extrap * ramp_mix;
    }
    cos_out[i0 / 2] = std::cos(th) * mscale;
    sin_out[i0 / 2] = std::sin(th) * mscale;
    theta *= theta_scale;
  }
}

void rope_apply(const RopeConfig& c, const float* cos_t, const float* sin_t, float* x, int n_heads,
                int head_dim) {
  const int half = c.n_dims / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + size_t(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      int a = c.style == RopeStyle::normal ? 2 * i : i;
      int b = c.style == RopeStyle::normal ? 2 * i + 1 : i + half;
      float x0 = v[a], x1 = v[b];
      // x0 cos - x1 sin with the first product fused, as GCC contracts ggml's rotate_pairs
      // (ggml-cpu/ops.cpp, built with FMA): the only order that reproduces llama.cpp's logits bit
      // for bit on SmolLM2 (tests/python/test_llm_vs_llamacpp.py); unfused or other pairings differ
      // from position 3 on by 1-4% after 30 layers of 8-bit activation rounding.
      v[a] = std::fma(x0, cos_t[i], -(x1 * sin_t[i]));
      v[b] = std::fma(x0, sin_t[i], x1 * cos_t[i]);
    }
  }
}

std::vector<float> llama3_freq_factors(int n_dims, double freq_base, double factor,
                                       double low_freq_factor, double high_freq_factor,
                                       double original_ctx) {
  std::vector<float> out;
  const double low_wavelen = original_ctx / low_freq_factor;
  const double high_wavelen = original_ctx / high_freq_factor;
  for (int i0 = 0; i0 < n_dims; i0 += 2) {
    double freq = std::pow(freq_base, -double(i0) / n_dims);
    double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(float(factor));
    } else {
      double smooth = (original_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      out.push_back(float(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

}  // namespace pj::ops
