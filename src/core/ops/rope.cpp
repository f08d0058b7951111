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

void rope_cos_sin(const RopeConfig& c, int64_t pos, float* cos_out, float* sin_out) {
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
    if (c.inv_freq_bf16) inv_freq = bf16_to_f32(f32_to_bf16(float(inv_freq)));
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

void rope_apply(const RopeConfig& c, const float* cos_t, const float* sin_t, float* x, int n_heads,
                int head_dim) {
  const int half = c.n_dims / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + size_t(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      int a = c.style == RopeStyle::normal ? 2 * i : i;
      int b = c.style == RopeStyle::normal ? 2 * i + 1 : i + half;
      float x0 = v[a], x1 = v[b];
      v[a] = x0 * cos_t[i] - x1 * sin_t[i];
      v[b] = x0 * sin_t[i] + x1 * cos_t[i];
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
