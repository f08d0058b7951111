#include "models/whisper/transcribe.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "models/whisper/mel.h"

namespace pj::whisper {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr double kSecondsPerToken = 0.02;   // one timestamp step
constexpr int kInputStride = 2;             // mel frames per encoder position

void log_softmax(const std::vector<float>& x, std::vector<float>& out) {
  float mx = kNegInf;
  for (float v : x) mx = std::max(mx, v);
  double sum = 0;
  for (float v : x) sum += v == kNegInf ? 0.0 : std::exp(double(v - mx));
  const float lse = mx + float(std::log(sum));
  out.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] - lse;
}

int32_t argmax(const std::vector<float>& x) { return int32_t(std::max_element(x.begin(), x.end()) - x.begin()); }

std::string strip(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Copies the filled part of a cache (positions [0, n) of every layer).
void copy_cache(const HParams& hp, const DecoderCache& src, DecoderCache& dst) {
  if (dst.k.size() != src.k.size()) {
    dst.k.resize(src.k.size());
    dst.v.resize(src.v.size());
  }
  const size_t layer = size_t(hp.n_text_ctx) * size_t(hp.n_text_state), used = size_t(src.n) * size_t(hp.n_text_state);
  for (int l = 0; l < hp.n_text_layer; ++l) {
    std::copy_n(src.k.begin() + long(l * layer), used, dst.k.begin() + long(l * layer));
    std::copy_n(src.v.begin() + long(l * layer), used, dst.v.begin() + long(l * layer));
  }
  dst.n = src.n;
}

}  // namespace

float compression_ratio(const std::string& text) {
  if (text.empty()) return 0.0f;
  uLongf cap = compressBound(uLong(text.size()));
  std::vector<Bytef> buf(cap);
  if (compress2(buf.data(), &cap, reinterpret_cast<const Bytef*>(text.data()), uLong(text.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK)
    return 0.0f;
  return float(text.size()) / float(cap);
}

Transcriber::Transcriber(KernelContext& ctx, const Model& model, const Tokenizer& tok) : ctx_(ctx), m_(model), tok_(tok) {
  if (tok.n_vocab() != model.hp.n_vocab) fail("whisper: tokenizer and model vocabularies differ");
  // whisper's suppress_tokens="-1": the non-speech symbols plus the task/control tokens.
  suppress_ = tok.non_speech_tokens();
  blank_ = tok.encode(" ");
  for (int32_t t : {tok.transcribe(), tok.translate(), tok.sot(), tok.sot_prev(), tok.sot_lm(), tok.no_speech()})
    suppress_.push_back(t);
  std::sort(suppress_.begin(), suppress_.end());
  suppress_.erase(std::unique(suppress_.begin(), suppress_.end()), suppress_.end());
}

void Transcriber::set_window(const float* mel) {
  encode(ctx_, m_, mel, enc_);
  cross_kv(ctx_, m_, enc_, xkv_);
}

std::vector<std::pair<std::string, float>> Transcriber::detect_language() {
  DecoderCache cache;
  const int32_t sot = tok_.sot();
  std::vector<float> logits;
  decode(ctx_, m_, xkv_, cache, &sot, 1, false, logits);
  const int32_t first = tok_.sot() + 1;
  float mx = kNegInf;
  for (int i = 0; i < tok_.n_languages(); ++i) mx = std::max(mx, logits[size_t(first + i)]);
  double sum = 0;
  for (int i = 0; i < tok_.n_languages(); ++i) sum += std::exp(double(logits[size_t(first + i)] - mx));
  std::vector<std::pair<std::string, float>> probs;
  for (int i = 0; i < tok_.n_languages(); ++i)
    probs.emplace_back(std::string(tok_.language_code(first + i)),
                       float(std::exp(double(logits[size_t(first + i)] - mx)) / sum));
  std::sort(probs.begin(), probs.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return probs;
}

// decoding.py: SuppressBlank, SuppressTokens and ApplyTimestampRules.
void Transcriber::apply_filters(std::vector<float>& logits, const std::vector<int32_t>& seq, int sample_begin,
                                const TranscribeOptions& opts) const {
  const int32_t eot = tok_.eot(), ts_begin = tok_.timestamp_begin(), n_vocab = int32_t(logits.size());
  if (int(seq.size()) == sample_begin) {
    for (int32_t t : blank_) logits[size_t(t)] = kNegInf;
    logits[size_t(eot)] = kNegInf;
  }
  for (int32_t t : suppress_) logits[size_t(t)] = kNegInf;
  if (!opts.timestamps) return;

  logits[size_t(tok_.no_timestamps())] = kNegInf;
  const size_t n_sampled = seq.size() - size_t(sample_begin);
  const bool last_ts = n_sampled >= 1 && seq.back() >= ts_begin;
  const bool penultimate_ts = n_sampled < 2 || seq[seq.size() - 2] >= ts_begin;
  if (last_ts) {
    if (penultimate_ts) {
      std::fill(logits.begin() + ts_begin, logits.end(), kNegInf);  // a text token or the end must follow
    } else {
      std::fill(logits.begin(), logits.begin() + eot, kNegInf);  // a timestamp pair must close
    }
  }
  int32_t last_timestamp = -1;
  for (size_t i = size_t(sample_begin); i < seq.size(); ++i)
    if (seq[i] >= ts_begin) last_timestamp = seq[i];
  if (last_timestamp >= 0) {
    // Timestamps never decrease; after a closed pair they must move forward.
    const int32_t limit = (last_ts && !penultimate_ts) ? last_timestamp : last_timestamp + 1;
    std::fill(logits.begin() + ts_begin, logits.begin() + std::min(limit, n_vocab), kNegInf);
  }
  if (n_sampled == 0) {
    std::fill(logits.begin(), logits.begin() + ts_begin, kNegInf);  // start with a timestamp
    const int32_t last_allowed = ts_begin + int32_t(std::lround(opts.max_initial_timestamp / kSecondsPerToken));
    if (last_allowed + 1 < n_vocab) std::fill(logits.begin() + last_allowed + 1, logits.end(), kNegInf);
  }
  // If the timestamps together are likelier than any text token, emit a timestamp.
  std::vector<float> lp;
  log_softmax(logits, lp);
  float mx_ts = kNegInf, mx_text = kNegInf;
  for (int32_t i = ts_begin; i < n_vocab; ++i) mx_ts = std::max(mx_ts, lp[size_t(i)]);
  double sum_ts = 0;
  for (int32_t i = ts_begin; i < n_vocab; ++i) sum_ts += lp[size_t(i)] == kNegInf ? 0.0 : std::exp(double(lp[size_t(i)] - mx_ts));
  const float ts_logprob = mx_ts == kNegInf ? kNegInf : mx_ts + float(std::log(sum_ts));
  for (int32_t i = 0; i < ts_begin; ++i) mx_text = std::max(mx_text, lp[size_t(i)]);
  if (ts_logprob > mx_text) std::fill(logits.begin(), logits.begin() + ts_begin, kNegInf);
}

WindowResult Transcriber::decode_window(const std::vector<int32_t>& prompt, const std::string& language,
                                        float temperature, const TranscribeOptions& opts) {
  const HParams& hp = m_.hp;
  std::vector<int32_t> init;
  if (!prompt.empty()) {
    init.push_back(tok_.sot_prev());
    const size_t keep = std::min(prompt.size(), size_t(hp.n_text_ctx / 2 - 1));
    init.insert(init.end(), prompt.end() - long(keep), prompt.end());
  }
  const size_t sot_index = init.size();
  for (int32_t t : tok_.sot_sequence(language, opts.translate)) init.push_back(t);
  if (!opts.timestamps) init.push_back(tok_.no_timestamps());
  const int sample_begin = int(init.size());
  const int sample_len = opts.sample_len > 0 ? std::min(opts.sample_len, hp.n_text_ctx / 2) : hp.n_text_ctx / 2;
  const int32_t eot = tok_.eot();

  WindowResult res;
  res.temperature = temperature;
  DecoderCache base;
  std::vector<float> logits, lp;
  decode(ctx_, m_, xkv_, base, init.data(), int(sot_index + 1), false, logits);
  log_softmax(logits, lp);
  res.no_speech_prob = std::exp(lp[size_t(tok_.no_speech())]);
  if (init.size() > sot_index + 1)
    decode(ctx_, m_, xkv_, base, init.data() + sot_index + 1, int(init.size() - sot_index - 1), false, logits);

  struct Candidate {
    std::vector<int32_t> tokens;  // sampled, without eot
    double sum_logprob = 0;
  };
  std::vector<Candidate> candidates;

  if (temperature == 0.0f && opts.beam_size > 1) {
    struct Beam {
      std::vector<int32_t> seq;
      double sum_logprob = 0;
      DecoderCache cache;
      std::vector<float> logits;
    };
    const int beam_size = opts.beam_size;
    const size_t max_candidates = size_t(std::max(1L, std::lround(beam_size * opts.patience)));
    std::vector<Beam> beams(1);
    beams[0].seq = init;
    beams[0].cache = std::move(base);
    beams[0].logits = logits;
    std::map<std::vector<int32_t>, double> finished;
    for (int step = 0; step < sample_len && !beams.empty(); ++step) {
      std::map<std::vector<int32_t>, std::pair<double, size_t>> scores;
      for (size_t i = 0; i < beams.size(); ++i) {
        std::vector<float>& lg = beams[i].logits;
        apply_filters(lg, beams[i].seq, sample_begin, opts);
        log_softmax(lg, lp);
        std::vector<int32_t> idx(lp.size());
        for (size_t k = 0; k < idx.size(); ++k) idx[k] = int32_t(k);
        const size_t topk = std::min(idx.size(), size_t(beam_size + 1));
        std::partial_sort(idx.begin(), idx.begin() + long(topk), idx.end(),
                          [&](int32_t a, int32_t b) { return lp[size_t(a)] > lp[size_t(b)]; });
        for (size_t k = 0; k < topk; ++k) {
          if (lp[size_t(idx[k])] == kNegInf) break;
          std::vector<int32_t> s = beams[i].seq;
          s.push_back(idx[k]);
          scores[std::move(s)] = {beams[i].sum_logprob + lp[size_t(idx[k])], i};
        }
      }
      std::vector<std::pair<const std::vector<int32_t>*, std::pair<double, size_t>>> order;
      for (const auto& [s, v] : scores) order.push_back({&s, v});
      std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
      std::vector<Beam> next;
      for (const auto& [s, v] : order) {
        if (s->back() == eot) {
          if (finished.size() < max_candidates) finished[*s] = v.first;
        } else {
          Beam b;
          b.seq = *s;
          b.sum_logprob = v.first;
          copy_cache(hp, beams[v.second].cache, b.cache);
          next.push_back(std::move(b));
          if (int(next.size()) == beam_size) break;
        }
      }
      beams = std::move(next);
      if (finished.size() >= max_candidates) break;
      bool full = false;
      std::vector<DecoderCache*> caches;
      std::vector<int32_t> last;
      for (Beam& b : beams) {
        full = full || b.cache.n >= hp.n_text_ctx;
        caches.push_back(&b.cache);
        last.push_back(b.seq.back());
      }
      if (full || beams.empty()) break;
      std::vector<float> all;
      decode_batch(ctx_, m_, xkv_, caches, last.data(), all);  // the whole beam in one pass
      for (size_t i = 0; i < beams.size(); ++i)
        beams[i].logits.assign(all.begin() + long(i) * hp.n_vocab, all.begin() + long(i + 1) * hp.n_vocab);
    }
    for (const auto& [s, score] : finished)
      candidates.push_back({std::vector<int32_t>(s.begin() + sample_begin, s.end() - 1), score});
    if (candidates.size() < size_t(beam_size)) {
      std::stable_sort(beams.begin(), beams.end(), [](const Beam& a, const Beam& b) { return a.sum_logprob > b.sum_logprob; });
      for (const Beam& b : beams) {
        if (candidates.size() >= size_t(beam_size)) break;
        candidates.push_back({std::vector<int32_t>(b.seq.begin() + sample_begin, b.seq.end()), b.sum_logprob});
      }
    }
  } else {
    const int n_group = temperature > 0 ? std::max(1, opts.best_of) : 1;
    std::mt19937_64 rng(opts.seed + rng_state_++);
    for (int g = 0; g < n_group; ++g) {
      DecoderCache cache;
      copy_cache(hp, base, cache);
      std::vector<float> lg = logits;
      std::vector<int32_t> seq = init;
      Candidate c;
      for (int step = 0; step < sample_len; ++step) {
        apply_filters(lg, seq, sample_begin, opts);
        log_softmax(lg, lp);
        int32_t next;
        if (temperature > 0) {
          std::vector<double> w(lg.size());
          for (size_t k = 0; k < lg.size(); ++k) w[k] = lp[k] == kNegInf ? 0.0 : std::exp(double(lp[k]) / temperature);
          std::discrete_distribution<int32_t> dist(w.begin(), w.end());
          next = dist(rng);
        } else {
          next = argmax(lg);
        }
        c.sum_logprob += lp[size_t(next)];
        if (next == eot) break;
        seq.push_back(next);
        c.tokens.push_back(next);
        if (cache.n >= hp.n_text_ctx) break;
        decode(ctx_, m_, xkv_, cache, &next, 1, false, lg);
      }
      candidates.push_back(std::move(c));
    }
  }
  if (candidates.empty()) candidates.push_back({});
  // MaximumLikelihoodRanker without a length penalty: the mean log-probability per token.
  size_t best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < candidates.size(); ++i) {
    const double score = candidates[i].sum_logprob / double(std::max<size_t>(1, candidates[i].tokens.size()));
    if (score > best_score) {
      best_score = score;
      best = i;
    }
  }
  res.tokens = candidates[best].tokens;
  res.avg_logprob = float(candidates[best].sum_logprob / double(res.tokens.size() + 1));
  res.text = tok_.decode(res.tokens);
  res.compression_ratio = compression_ratio(strip(res.text));
  return res;
}

WindowResult Transcriber::decode_with_fallback(const std::vector<int32_t>& prompt, const std::string& language,
                                               const TranscribeOptions& opts) {
  WindowResult r;
  const std::vector<float> temps = opts.temperatures.empty() ? std::vector<float>{0.0f} : opts.temperatures;
  for (float t : temps) {
    r = decode_window(prompt, language, t, opts);
    bool fallback = false;
    if (opts.compression_ratio_threshold > 0 && r.compression_ratio > opts.compression_ratio_threshold) fallback = true;
    if (r.avg_logprob < opts.logprob_threshold) fallback = true;
    if (r.no_speech_prob > opts.no_speech_threshold) fallback = false;  // silence: do not retry
    if (!fallback) break;
  }
  return r;
}

std::vector<std::pair<int, int>> Transcriber::alignment_heads() const {
  if (!m_.alignment_heads.empty()) return m_.alignment_heads;
  std::vector<std::pair<int, int>> heads;
  for (int l = m_.hp.n_text_layer / 2; l < m_.hp.n_text_layer; ++l)
    for (int h = 0; h < m_.hp.n_text_head; ++h) heads.emplace_back(l, h);
  return heads;
}

double Transcriber::add_word_timestamps(std::vector<Segment>& segments, const std::string& language, bool translate,
                                        int64_t num_frames, double time_offset, double last_speech_timestamp) {
  if (segments.empty()) return last_speech_timestamp;
  const int32_t eot = tok_.eot();
  std::vector<std::vector<int32_t>> per_segment;
  std::vector<int32_t> text;
  for (const Segment& s : segments) {
    per_segment.emplace_back();
    for (int32_t t : s.tokens)
      if (t < eot) per_segment.back().push_back(t);
    text.insert(text.end(), per_segment.back().begin(), per_segment.back().end());
  }
  if (text.empty()) return last_speech_timestamp;
  // Forced decode: sot_sequence, <|notimestamps|>, the text, <|endoftext|> (whisper's context limit
  // leaves room: at most sample_len text tokens per window).
  std::vector<int32_t> seq = tok_.sot_sequence(language, translate);
  const int sot_len = int(seq.size());
  seq.push_back(tok_.no_timestamps());
  seq.insert(seq.end(), text.begin(), text.end());
  seq.push_back(eot);
  if (int(seq.size()) > m_.hp.n_text_ctx) seq.resize(size_t(m_.hp.n_text_ctx));  // cannot happen with sample_len
  if (seq.size() != size_t(sot_len) + 2 + text.size()) return last_speech_timestamp;
  const auto heads = alignment_heads();
  std::vector<float> qk, logits;
  decode_cross_qk(ctx_, m_, xkv_, seq.data(), int(seq.size()), heads, qk, logits);
  std::vector<Word> alignment =
      find_alignment(tok_, language, text, qk, int(heads.size()), xkv_.n_ctx, sot_len, logits, num_frames);

  // add_word_timestamps: median word duration (at most 0.7 s), long words at sentence ends truncated.
  std::vector<double> durations;
  for (const Word& w : alignment)
    if (w.end - w.start != 0) durations.push_back(w.end - w.start);
  double median_duration = 0;
  if (!durations.empty()) {
    std::sort(durations.begin(), durations.end());
    const size_t k = durations.size();
    median_duration = k % 2 ? durations[k / 2] : 0.5 * (durations[k / 2 - 1] + durations[k / 2]);
  }
  median_duration = std::min(0.7, median_duration);
  const double max_duration = median_duration * 2;
  const std::string_view sentence_end = ".\u3002!\uff01?\uff1f";
  if (!durations.empty()) {
    for (size_t i = 1; i < alignment.size(); ++i) {
      Word& w = alignment[i];
      if (w.end - w.start > max_duration) {
        if (sentence_end.find(w.word) != std::string_view::npos) {
          w.end = w.start + max_duration;
        } else if (sentence_end.find(alignment[i - 1].word) != std::string_view::npos) {
          w.start = w.end - max_duration;
        }
      }
    }
  }
  merge_punctuations(alignment);

  auto round2 = [](double x) { return std::round(x * 100.0) / 100.0; };
  size_t wi = 0;
  for (size_t si = 0; si < segments.size(); ++si) {
    Segment& seg = segments[si];
    std::vector<Word> words;
    size_t saved = 0;
    while (wi < alignment.size() && saved < per_segment[si].size()) {
      const Word& t = alignment[wi];
      if (!t.word.empty()) {
        Word w = t;
        w.start = round2(time_offset + t.start);
        w.end = round2(time_offset + t.end);
        words.push_back(std::move(w));
      }
      saved += t.tokens.size();
      ++wi;
    }
    if (!words.empty()) {
      // the first and second word after a pause are at most twice the median word duration
      if (words[0].end - last_speech_timestamp > median_duration * 4 &&
          (words[0].end - words[0].start > max_duration ||
           (words.size() > 1 && words[1].end - words[0].start > max_duration * 2))) {
        if (words.size() > 1 && words[1].end - words[1].start > max_duration) {
          const double boundary = std::max(words[1].end / 2, words[1].end - max_duration);
          words[0].end = words[1].start = boundary;
        }
        words[0].start = std::max(0.0, words[0].end - max_duration);
      }
      // prefer the segment-level start timestamp if the first word is too long
      if (seg.start < words[0].end && seg.start - 0.5 > words[0].start) {
        words[0].start = std::max(0.0, std::min(words[0].end - median_duration, seg.start));
      } else {
        seg.start = words[0].start;
      }
      // prefer the segment-level end timestamp if the last word is too long
      if (seg.end > words.back().start && seg.end + 0.5 < words.back().end) {
        words.back().end = std::max(words.back().start + median_duration, seg.end);
      } else {
        seg.end = words.back().end;
      }
      last_speech_timestamp = seg.end;
    }
    seg.words = std::move(words);
  }
  return last_speech_timestamp;
}

Transcript Transcriber::transcribe(const float* audio, size_t n, const TranscribeOptions& opts) {
  const HParams& hp = m_.hp;
  Transcript out;
  out.duration = double(n) / kSampleRate;
  const LogMel mel = log_mel_spectrogram(audio, n, hp.n_mels, kChunkSamples, &ctx_.pool());
  const int64_t content_frames = mel.n_frames - kChunkFrames;
  rng_state_ = 0;

  std::string language = opts.language == "auto" ? "" : opts.language;
  if (!tok_.multilingual()) {
    if (!language.empty() && language != "en" && language != "english")
      fail("whisper: this model is English-only; --language {} is not possible", language);
    if (opts.translate) fail("whisper: this model is English-only and cannot translate");
    language = "en";
  } else if (!language.empty()) {
    if (tok_.language_token(language) < 0) fail("whisper: unknown language '{}'", language);
    language = std::string(tok_.language_code(tok_.language_token(language)));
  } else {
    const std::vector<float> w = mel_window(mel, 0);
    set_window(w.data());
    const auto probs = detect_language();
    language = probs[0].first;
    out.language_prob = probs[0].second;
  }
  out.language = language;

  std::vector<int32_t> all_tokens;
  size_t prompt_reset_since = 0;
  if (!strip(opts.initial_prompt).empty()) all_tokens = tok_.encode(" " + strip(opts.initial_prompt));
  int64_t seek = 0;
  double last_speech = 0;
  const int32_t ts_begin = tok_.timestamp_begin();
  while (seek < content_frames) {
    const double time_offset = double(seek) * kHop / kSampleRate;
    const int64_t segment_size = std::min<int64_t>(kChunkFrames, content_frames - seek);
    const double segment_duration = double(segment_size) * kHop / kSampleRate;
    const std::vector<float> w = mel_window(mel, seek);
    // pad_or_trim: frames past this segment's content are zeroed as whisper does.
    std::vector<float> win(w.size(), 0.0f);
    for (int c = 0; c < hp.n_mels; ++c)
      std::copy_n(w.begin() + long(c) * kChunkFrames, segment_size, win.begin() + long(c) * kChunkFrames);
    set_window(win.data());
    std::vector<int32_t> prompt;
    if (opts.condition_on_previous_text || prompt_reset_since == 0)
      prompt.assign(all_tokens.begin() + long(prompt_reset_since), all_tokens.end());
    const WindowResult r = decode_with_fallback(prompt, language, opts);

    bool skip = r.no_speech_prob > opts.no_speech_threshold;
    if (r.avg_logprob > opts.logprob_threshold) skip = false;
    if (skip) {
      seek += segment_size;
      if (opts.progress) opts.progress(std::min(out.duration, double(seek) * kHop / kSampleRate), out.duration);
      continue;
    }
    const std::vector<int32_t>& tokens = r.tokens;
    const int64_t seek_before = seek;
    std::vector<Segment> current;
    auto add_segment = [&](double start, double end, std::vector<int32_t> toks) {
      Segment s;
      s.start = start;
      s.end = end;
      s.text = tok_.decode(toks);
      s.tokens = std::move(toks);
      s.avg_logprob = r.avg_logprob;
      s.no_speech_prob = r.no_speech_prob;
      s.compression_ratio = r.compression_ratio;
      s.temperature = r.temperature;
      if (s.start == s.end && strip(s.text).empty()) return;  // whisper drops empty zero-length segments
      current.push_back(std::move(s));
    };
    const size_t nt = tokens.size();
    auto is_ts = [&](size_t i) { return tokens[i] >= ts_begin; };
    const bool single_ending = nt >= 2 && !is_ts(nt - 2) && is_ts(nt - 1);
    std::vector<size_t> consecutive;
    for (size_t i = 1; i < nt; ++i)
      if (is_ts(i - 1) && is_ts(i)) consecutive.push_back(i);
    if (!consecutive.empty()) {
      std::vector<size_t> slices = consecutive;
      if (single_ending) slices.push_back(nt);
      size_t last = 0;
      for (size_t cur : slices) {
        std::vector<int32_t> sl(tokens.begin() + long(last), tokens.begin() + long(cur));
        const double start = time_offset + (sl.front() - ts_begin) * kSecondsPerToken;
        const double end = time_offset + (sl.back() - ts_begin) * kSecondsPerToken;
        add_segment(start, end, std::move(sl));
        last = cur;
      }
      if (single_ending) {
        seek += segment_size;
      } else {
        seek += int64_t(tokens[last - 1] - ts_begin) * kInputStride;
      }
    } else {
      double duration = segment_duration;
      for (size_t i = nt; i-- > 0;) {
        if (is_ts(i)) {
          if (tokens[i] != ts_begin) duration = (tokens[i] - ts_begin) * kSecondsPerToken;
          break;
        }
      }
      add_segment(time_offset, time_offset + duration, tokens);
      seek += segment_size;
    }
    if (opts.word_timestamps && !current.empty()) {
      last_speech = add_word_timestamps(current, language, opts.translate, segment_size, time_offset, last_speech);
      if (!single_ending) {  // continue after the last word, as whisper does with word timestamps
        double last_word_end = -1;
        for (auto it = current.rbegin(); it != current.rend() && last_word_end < 0; ++it)
          if (!it->words.empty()) last_word_end = it->words.back().end;
        if (last_word_end > time_offset) seek = std::llround(last_word_end * kSampleRate / kHop);
      }
    }
    // A window that ends on <|0.00|> would not move: never decode the same window twice.
    if (seek <= seek_before) seek = seek_before + segment_size;
    for (Segment& s : current) {
      all_tokens.insert(all_tokens.end(), s.tokens.begin(), s.tokens.end());
      out.segments.push_back(std::move(s));
    }
    if (!opts.condition_on_previous_text || r.temperature > 0.5f) prompt_reset_since = all_tokens.size();
    if (opts.progress) opts.progress(std::min(out.duration, double(seek) * kHop / kSampleRate), out.duration);
  }
  for (const Segment& s : out.segments) out.text += s.text;
  return out;
}

std::string format_timestamp(double seconds, bool always_hours, char decimal_marker) {
  if (seconds < 0) seconds = 0;
  int64_t ms = std::llround(seconds * 1000.0);
  const int64_t h = ms / 3600000;
  ms -= h * 3600000;
  const int64_t m = ms / 60000;
  ms -= m * 60000;
  const int64_t s = ms / 1000;
  ms -= s * 1000;
  if (always_hours || h > 0) return fmt::format("{:02}:{:02}:{:02}{}{:03}", h, m, s, decimal_marker, ms);
  return fmt::format("{:02}:{:02}{}{:03}", m, s, decimal_marker, ms);
}

std::string format_transcript(const Transcript& t, const std::string& format) {
  if (format == "txt" || format == "text") {
    std::string s;
    for (const Segment& seg : t.segments) s += strip(seg.text) + "\n";
    return s;
  }
  if (format == "srt" || format == "vtt") {
    const bool srt = format == "srt";
    std::string s = srt ? "" : "WEBVTT\n\n";
    int i = 1;
    const char dm = srt ? ',' : '.';
    for (const Segment& seg : t.segments) {
      if (srt && !seg.words.empty()) {  // with word timestamps: one cue per word
        for (const Word& w : seg.words)
          s += std::to_string(i++) + "\n" + format_timestamp(w.start, true, dm) + " --> " +
               format_timestamp(w.end, true, dm) + "\n" + strip(w.word) + "\n\n";
        continue;
      }
      if (srt) s += std::to_string(i++) + "\n";
      std::string text = strip(seg.text);
      if (!srt && !seg.words.empty()) {  // WebVTT cue timestamps: each later word starts at its tag
        text.clear();
        for (size_t k = 0; k < seg.words.size(); ++k) {
          if (k > 0) text += "<" + format_timestamp(seg.words[k].start, true, '.') + ">";
          text += k == 0 ? strip(seg.words[k].word) : seg.words[k].word;
        }
      }
      s += format_timestamp(seg.start, srt, dm) + " --> " + format_timestamp(seg.end, srt, dm) + "\n" + text + "\n\n";
    }
    return s;
  }
  if (format == "json" || format == "verbose_json") {
    nlohmann::json j;
    j["text"] = t.text;
    if (format == "json") return j.dump() + "\n";
    std::string lang_name = t.language;
    for (const auto& l : languages())
      if (l.code == t.language) lang_name = l.name;
    j["task"] = "transcribe";
    j["language"] = lang_name;
    j["duration"] = t.duration;
    nlohmann::json segs = nlohmann::json::array(), all_words = nlohmann::json::array();
    bool any_words = false;
    int id = 0;
    for (const Segment& seg : t.segments) {
      nlohmann::json words = nlohmann::json::array();
      for (const Word& w : seg.words) {
        words.push_back({{"word", w.word}, {"start", w.start}, {"end", w.end}, {"probability", w.probability}});
        all_words.push_back({{"word", strip(w.word)}, {"start", w.start}, {"end", w.end}});
        any_words = true;
      }
      segs.push_back({{"id", id++},
                      {"seek", int64_t(std::floor(seg.start * kSampleRate / kHop))},
                      {"start", seg.start},
                      {"end", seg.end},
                      {"text", seg.text},
                      {"tokens", seg.tokens},
                      {"temperature", seg.temperature},
                      {"avg_logprob", seg.avg_logprob},
                      {"compression_ratio", seg.compression_ratio},
                      {"no_speech_prob", seg.no_speech_prob}});
      if (!seg.words.empty()) segs.back()["words"] = words;
    }
    j["segments"] = segs;
    if (any_words) j["words"] = all_words;  // OpenAI's timestamp_granularities[]=word
    return j.dump() + "\n";
  }
  fail("whisper: unknown output format '{}' (txt, json, verbose_json, srt, vtt)", format);
}

}  // namespace pj::whisper
