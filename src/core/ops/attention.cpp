#include "core/ops/attention.h"

#include "core/base/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pj::ops {

int64_t attention_scratch_floats(int64_t n_pos, int head_dim) {
  return (n_pos + 16) + int64_t(head_dim);  // scores rounded up to a 16-lane chunk, one query row
}

void attention_heads(const OpsTable& ops, const AttentionParams& p, const float* q, int n_tokens,
                     int64_t pos0, const KvView& kv, float* out, int head_begin, int head_end,
                     float* scratch) {
  const int group = p.n_head / p.n_head_kv;
  const int hd = p.head_dim;
  const bool f16 = kv.type == KvType::f16;
  const size_t es = f16 ? 2 : 4;
  const auto* kb = static_cast<const uint8_t*>(kv.k);
  const auto* vb = static_cast<const uint8_t*>(kv.v);
  for (int t = 0; t < n_tokens; ++t) {
    const int64_t pos = pos0 + t;
    const int64_t first = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
    float* s = scratch;                          // scores / probabilities of positions 0..pos
    float* qr = scratch + (pos0 + n_tokens + 16);  // q as ggml sees it (rounded to f16 for an F16 cache)
    for (int h = head_begin; h < head_end; ++h) {
      const float* qh = q + (int64_t(t) * p.n_head + h) * hd;
      if (f16) {
        for (int d = 0; d < hd; ++d) qr[d] = fp16_round(qh[d]);
        qh = qr;
      }
      const int64_t kv_off = int64_t(h / group) * hd;
      float mx = -INFINITY;
      for (int64_t j = 0; j < first; ++j) s[j] = -INFINITY;  // masked, as llama.cpp's -inf mask
      for (int64_t j = first; j <= pos; ++j) {
        float sc = ops.attn_dot(qh, kb + size_t(j * kv.row_stride + kv_off) * es, f16, hd) * p.scale;
        if (p.softcap > 0) sc = p.softcap * std::tanh(sc / p.softcap);
        s[j] = sc;
        mx = std::max(mx, sc);
      }
      const double sum = ops.exp_sum(s, s, pos + 1, mx);
      const float inv = float(1.0 / sum);
      for (int64_t j = first; j <= pos; ++j) {
        s[j] *= inv;
        if (f16) s[j] = fp16_round(s[j]);
      }
      float* o = out + (int64_t(t) * p.n_head + h) * hd;
      ops.attn_accumulate(s, vb + size_t(kv_off) * es, f16, kv.row_stride, first, pos, hd, o);
    }
  }
}

}  // namespace pj::ops
