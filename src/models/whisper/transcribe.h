// Whisper decoding and long-form transcription, following openai/whisper's decoding.py and
// transcribe.py: greedy or beam search at temperature 0, best-of-N sampling at higher temperatures,
// temperature fallback when the compression ratio or the average log-probability says the decode
// failed, no-speech detection, language detection, timestamp rules and segments from timestamp
// tokens, and seeking window to window through audio longer than 30 s with the previous text as the
// prompt.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/whisper/model.h"
#include "models/whisper/tokenizer.h"
#include "models/whisper/words.h"

namespace pj::whisper {

struct TranscribeOptions {
  std::string language;     // "", "auto": detect (multilingual models); English-only models use "en"
  bool translate = false;   // task: translate to English instead of transcribe
  int beam_size = 5;        // at temperature 0; <= 1: greedy
  float patience = 1.0f;
  int best_of = 5;          // candidates sampled at temperature > 0
  std::vector<float> temperatures = {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
  float compression_ratio_threshold = 2.4f;  // <= 0: no check
  float logprob_threshold = -1.0f;           // avg log-prob below this: fall back; NaN-like off: -inf
  float no_speech_threshold = 0.6f;
  bool condition_on_previous_text = true;
  std::string initial_prompt;
  bool timestamps = true;        // false: <|notimestamps|>, one segment per window
  float max_initial_timestamp = 1.0f;  // seconds
  uint64_t seed = 0;             // sampling at temperature > 0
  bool word_timestamps = false;  // words with times in each segment (words.h); seeking follows the last word
  int sample_len = 0;            // most tokens sampled per window; 0: n_text_ctx / 2 (224), as whisper
  // Called after each 30-second window with seconds done and total seconds.
  std::function<void(double done, double total)> progress;
};

struct Segment {
  double start = 0, end = 0;  // seconds
  std::string text;
  std::vector<int32_t> tokens;  // including timestamp tokens
  float avg_logprob = 0, no_speech_prob = 0, compression_ratio = 0, temperature = 0;
  std::vector<Word> words;  // with TranscribeOptions::word_timestamps
};

struct Transcript {
  std::string language;        // code, e.g. "en"
  float language_prob = 1.0f;  // when detected
  double duration = 0;         // seconds of audio
  std::vector<Segment> segments;
  std::string text;            // the segments' text joined
};

// One 30-second window's decoding (decoding.py DecodingResult).
struct WindowResult {
  std::vector<int32_t> tokens;  // sampled tokens without the prompt and without <|endoftext|>
  std::string text;
  float avg_logprob = 0, no_speech_prob = 0, compression_ratio = 0, temperature = 0;
};

class Transcriber {
 public:
  Transcriber(KernelContext& ctx, const Model& model, const Tokenizer& tok);

  // 16 kHz mono samples -> transcript.
  Transcript transcribe(const float* audio, size_t n, const TranscribeOptions& opts);

  // Language probabilities of the window whose encoder output is loaded (detect_language).
  std::vector<std::pair<std::string, float>> detect_language();

  // Loads one mel window [n_mels][3000]: runs the encoder and the cross-attention projections.
  void set_window(const float* mel);
  WindowResult decode_window(const std::vector<int32_t>& prompt, const std::string& language, float temperature,
                             const TranscribeOptions& opts);

  // Word timestamps of the segments decoded from the loaded window (timing.py add_word_timestamps):
  // fills each segment's words (absolute seconds) and may move its start/end to them; returns the new
  // last speech time. num_frames: mel frames of audio in the window; time_offset: its start in seconds.
  double add_word_timestamps(std::vector<Segment>& segments, const std::string& language, bool translate,
                             int64_t num_frames, double time_offset, double last_speech_timestamp);
  // The (layer, head) pairs used: the model's alignment heads, else every head of the upper half of the
  // decoder's layers (whisper's default).
  std::vector<std::pair<int, int>> alignment_heads() const;

 private:
  WindowResult decode_with_fallback(const std::vector<int32_t>& prompt, const std::string& language,
                                    const TranscribeOptions& opts);
  void apply_filters(std::vector<float>& logits, const std::vector<int32_t>& seq, int sample_begin,
                     const TranscribeOptions& opts) const;

  KernelContext& ctx_;
  const Model& m_;
  const Tokenizer& tok_;
  std::vector<int32_t> suppress_, blank_;
  std::vector<float> enc_;
  CrossKv xkv_;
  uint64_t rng_state_ = 0;
};

float compression_ratio(const std::string& text);  // len(bytes) / len(zlib.compress(bytes))

// Output formats: "txt", "json", "srt", "vtt", "verbose_json" (OpenAI's), as text.
std::string format_transcript(const Transcript& t, const std::string& format);
std::string format_timestamp(double seconds, bool always_hours, char decimal_marker);

}  // namespace pj::whisper
