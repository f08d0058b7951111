#include "core/ops/attention.h"

#include "core/base/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pj::ops {
namespace {

// Block sizes of the batched path: queries per block (times the heads of one KV group they share),
// keys transposed at a time (a chunk of kt stays in L1/L2 while every query of the block scores it).
constexpr int64_t kQueryBlock = 32;
constexpr int64_t kKeyChunk = 64;
constexpr int kValueCols = 16;  // V columns summed per pass (head_dim is a multiple of 64 here)
// Below this many query rows per KV head the transposition costs more than it saves (generation).
constexpr int64_t kMinBatchRows = 8;
// One KV head's V is copied once per call, as f32 in slices of kValueCols columns ([slice][position][16]),
// when it takes at most this many floats (4 MiB): the V sums then read 64 contiguous bytes per
// position and no conversions (an F16 cache) instead of a strided row for every query.
constexpr int64_t kMaxVf32 = int64_t(1) << 20;

// One KV head's V rows as the V sums read them.
struct VRows {
  const uint8_t* base;  // row 0 of this head
  bool f16;
  int64_t stride;       // elements between positions
};

int64_t round16(int64_t n) { return (n + 15) & ~int64_t(15); }

bool batched(const OpsTable& ops, const AttentionParams& p, int n_tokens) {
  return ops.attn_dot16 && p.head_dim % 64 == 0 && int64_t(n_tokens) * (p.n_head / p.n_head_kv) >= kMinBatchRows;
}

// The first key a query at position pos sees (the sliding window's start, else 0).
int64_t first_key(const AttentionParams& p, int64_t pos) {
  return p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
}

// Shared by both paths: s[first..pos] holds the scaled scores (soft-capped already); masks and softmax
// in ggml's order, the probabilities rounded to f16 for an F16 cache (as ggml converts them).
void softmax_row(const OpsTable& ops, bool f16_cache, int64_t first, int64_t pos, float* s) {
  const float mx = ops.max_f32(s + first, pos + 1 - first);
  for (int64_t j = 0; j < first; ++j) s[j] = -INFINITY;  // masked, as llama.cpp's -inf mask
  const double sum = ops.exp_sum(s, s, pos + 1, mx);
  ops.scale_f32(s + first, pos + 1 - first, float(1.0 / sum), f16_cache);
}

// One query row at a time, one attn_dot per key (generation, or head sizes attn_dot16 does not take).
void attention_rows(const OpsTable& ops, const AttentionParams& p, const float* q, int n_tokens, int64_t pos0,
                    const KvView& kv, float* out, int head_begin, int head_end, float* scratch) {
  const int group = p.n_head / p.n_head_kv;
  const int hd = p.head_dim;
  const bool f16 = kv.type == KvType::f16;
  const size_t es = f16 ? 2 : 4;
  const auto* kb = static_cast<const uint8_t*>(kv.k);
  const auto* vb = static_cast<const uint8_t*>(kv.v);
  float* s = scratch;                              // scores / probabilities of positions 0..pos
  float* qr = scratch + round16(pos0 + n_tokens);  // q as ggml sees it (rounded to f16 for an F16 cache)
  for (int t = 0; t < n_tokens; ++t) {
    const int64_t pos = pos0 + t;
    const int64_t first = first_key(p, pos);
    for (int h = head_begin; h < head_end; ++h) {
      const float* qh = q + (int64_t(t) * p.n_head + h) * hd;
      if (f16) {
        for (int d = 0; d < hd; ++d) qr[d] = fp16_round(qh[d]);
        qh = qr;
      }
      const int64_t kv_off = int64_t(h / group) * hd;
      for (int64_t j = first; j <= pos; ++j) {
        float sc = ops.attn_dot(qh, kb + size_t(j * kv.row_stride + kv_off) * es, f16, hd) * p.scale;
        if (p.softcap > 0) sc = p.softcap * std::tanh(sc / p.softcap);
        s[j] = sc;
      }
      softmax_row(ops, f16, first, pos, s);
      ops.attn_accumulate(s, vb + size_t(kv_off) * es, f16, kv.row_stride, first, pos, hd,
                          out + (int64_t(t) * p.n_head + h) * hd);
    }
  }
}

// Prompt batches: for each KV head and block of queries, keys are transposed a chunk at a time
// (kt[e * 16 + i] per block of 16 keys) and every query row of the block scores 16 keys per
// attn_dot16 call, which gives attn_dot's bits without its per-key horizontal sum.
void attention_batched(const OpsTable& ops, const AttentionParams& p, const float* q, int n_tokens, int64_t pos0,
                       const KvView& kv, float* out, int head_begin, int head_end, float* scratch) {
  const int group = p.n_head / p.n_head_kv;
  const int hd = p.head_dim;
  const bool f16 = kv.type == KvType::f16;
  const size_t es = f16 ? 2 : 4;
  const auto* kb = static_cast<const uint8_t*>(kv.k);
  const auto* vb = static_cast<const uint8_t*>(kv.v);
  const int64_t n_pos = round16(pos0 + n_tokens) + 16;
  float* kt = scratch;                              // kKeyChunk keys x hd, transposed in blocks of 16
  float* qr = kt + kKeyChunk * hd;                  // kQueryBlock * group rows of q (rounded to f16)
  float* sc = qr + kQueryBlock * group * hd;        // their score rows, n_pos each
  float* vf = sc + kQueryBlock * group * n_pos;     // V of one KV head as f32 slices (when it fits kMaxVf32)
  const int64_t n_keys = pos0 + n_tokens;
  const bool v_slices = n_keys * hd <= kMaxVf32;

  for (int g = head_begin / group; g * group < head_end; ++g) {
    const int h0 = std::max(head_begin, g * group), h1 = std::min(head_end, (g + 1) * group);
    const int nh = h1 - h0;
    const int64_t kv_off = int64_t(g) * hd;
    if (v_slices) {
      const int64_t from = first_key(p, pos0);  // no query of this call looks further back
      for (int64_t j = from; j < n_keys; ++j)
        for (int d0 = 0; d0 < hd; d0 += kValueCols) {
          float* dst = vf + (int64_t(d0) * n_keys + j * kValueCols);
          if (f16)
            ops.f16_to_f32(reinterpret_cast<const uint16_t*>(vb) + j * kv.row_stride + kv_off + d0, dst, kValueCols);
          else
            std::memcpy(dst, reinterpret_cast<const float*>(vb) + j * kv.row_stride + kv_off + d0,
                        kValueCols * sizeof(float));
        }
    }
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kQueryBlock) {
      const int64_t t1 = std::min<int64_t>(n_tokens, t0 + kQueryBlock);
      for (int64_t t = t0; t < t1; ++t)
        for (int h = h0; h < h1; ++h) {
          const float* qh = q + (t * p.n_head + h) * hd;
          float* r = qr + ((t - t0) * nh + (h - h0)) * hd;
          if (f16)
            for (int d = 0; d < hd; ++d) r[d] = fp16_round(qh[d]);
          else
            std::memcpy(r, qh, size_t(hd) * sizeof(float));
        }
      const int64_t kfirst = first_key(p, pos0 + t0) & ~int64_t(15), klast = pos0 + t1 - 1;
      for (int64_t c0 = kfirst; c0 <= klast; c0 += kKeyChunk) {
        const int64_t c1 = std::min(klast + 1, c0 + kKeyChunk);  // keys [c0, c1), blocks of 16 from c0
        for (int64_t jb = c0; jb < c1; jb += 16)
          ops.attn_kt16(kb + size_t(jb * kv.row_stride + kv_off) * es, f16, kv.row_stride,
                        int(std::min<int64_t>(16, c1 - jb)), hd, kt + ((jb - c0) >> 4) * 16 * hd);
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t pos = pos0 + t, first = first_key(p, pos);
          for (int h = h0; h < h1; ++h) {
            const int64_t row = (t - t0) * nh + (h - h0);
            for (int64_t jb = c0; jb < c1; jb += 16) {
              if (jb > pos || jb + 15 < first) continue;
              ops.attn_dot16(qr + row * hd, kt + ((jb - c0) >> 4) * 16 * hd, hd, p.scale, sc + row * n_pos + jb);
            }
          }
        }
      }
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t pos = pos0 + t, first = first_key(p, pos);
        for (int h = h0; h < h1; ++h) {
          float* s = sc + ((t - t0) * nh + (h - h0)) * n_pos;
          if (p.softcap > 0)
            for (int64_t j = first; j <= pos; ++j) s[j] = p.softcap * std::tanh(s[j] / p.softcap);
          softmax_row(ops, f16, first, pos, s);
        }
      }
      // The V sums 16 columns at a time for every row of the block, so that those columns of V (one
      // cache line per position) stay in L1 while the block's rows pass over them; each output column
      // depends on its own V column only, so this is attn_accumulate's arithmetic unchanged.
      for (int d0 = 0; d0 < hd; d0 += kValueCols) {
        const VRows slice = v_slices ? VRows{reinterpret_cast<const uint8_t*>(vf + int64_t(d0) * n_keys), false, kValueCols}
                                     : VRows{vb + size_t(kv_off + d0) * es, f16, kv.row_stride};
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t pos = pos0 + t, first = first_key(p, pos);
          for (int h = h0; h < h1; ++h)
            ops.attn_accumulate(sc + ((t - t0) * nh + (h - h0)) * n_pos, slice.base, slice.f16, slice.stride, first,
                                pos, kValueCols, out + (t * p.n_head + h) * hd + d0);
        }
      }
    }
  }
}

}  // namespace

int64_t attention_scratch_floats(const AttentionParams& p, int n_tokens, int64_t n_pos) {
  const int64_t rows = round16(n_pos) + int64_t(p.head_dim);  // the one-row path: scores + one q row
  const int64_t group = p.n_head / std::max(1, p.n_head_kv);
  int64_t blocked = kKeyChunk * p.head_dim + kQueryBlock * group * (p.head_dim + round16(n_pos) + 16);
  if (n_pos * p.head_dim <= kMaxVf32) blocked += n_pos * p.head_dim;  // V as f32 slices
  return n_tokens * group >= kMinBatchRows ? std::max(rows, blocked) : rows;
}

void attention_heads(const OpsTable& ops, const AttentionParams& p, const float* q, int n_tokens,
                     int64_t pos0, const KvView& kv, float* out, int head_begin, int head_end,
                     float* scratch) {
  if (batched(ops, p, n_tokens))
    attention_batched(ops, p, q, n_tokens, pos0, kv, out, head_begin, head_end, scratch);
  else
    attention_rows(ops, p, q, n_tokens, pos0, kv, out, head_begin, head_end, scratch);
}

}  // namespace pj::ops
