#include "core/ops/attention.h"

#include "core/base/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pj::ops {

namespace {

inline float load(const void* base, KvType t, int64_t i) {
  return t == KvType::f32 ? static_cast<const float*>(base)[i]
                          : fp16_to_f32(static_cast<const uint16_t*>(base)[i]);
}

}  // namespace

void attention_heads(const AttentionParams& p, const float* q, int n_tokens, int64_t pos0,
                     const KvView& kv, float* out, int head_begin, int head_end, float* scratch) {
  const int group = p.n_head / p.n_head_kv;
  const int hd = p.head_dim;
  for (int t = 0; t < n_tokens; ++t) {
    const int64_t pos = pos0 + t;
    const int64_t first = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
    for (int h = head_begin; h < head_end; ++h) {
      const float* qh = q + (int64_t(t) * p.n_head + h) * hd;
      const int64_t kv_off = int64_t(h / group) * hd;
      float mx = -INFINITY;
      for (int64_t j = first; j <= pos; ++j) {
        const int64_t base = j * kv.row_stride + kv_off;
        float s = 0;
        for (int d = 0; d < hd; ++d) s += qh[d] * load(kv.k, kv.type, base + d);
        s *= p.scale;
        if (p.softcap > 0) s = p.softcap * std::tanh(s / p.softcap);
        scratch[j] = s;
        mx = std::max(mx, s);
      }
      float sum = 0;
      for (int64_t j = first; j <= pos; ++j) {
        scratch[j] = std::exp(scratch[j] - mx);
        sum += scratch[j];
      }
      float* o = out + (int64_t(t) * p.n_head + h) * hd;
      std::memset(o, 0, sizeof(float) * hd);
      const float inv = 1.0f / sum;
      for (int64_t j = first; j <= pos; ++j) {
        const float w = scratch[j] * inv;
        const int64_t base = j * kv.row_stride + kv_off;
        for (int d = 0; d < hd; ++d) o[d] += w * load(kv.v, kv.type, base + d);
      }
    }
  }
}

}  // namespace pj::ops
