// Whisper's log-mel front end, as openai/whisper's audio.log_mel_spectrogram and transformers'
// WhisperFeatureExtractor compute it:
//   STFT: 400-point periodic Hann window, hop 160, centred frames (reflect padding of 200 samples at
//         both ends), power |X|^2 of the 201 non-negative frequencies; the last frame is dropped;
//   mel:  Slaney-style filter bank (librosa.filters.mel(sr=16000, n_fft=400, n_mels), area-normalised),
//   log:  log10(max(mel, 1e-10)), clamped below at (global max - 8), then (x + 4) / 4.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pj {
class ThreadPool;
}

namespace pj::whisper {

constexpr int kSampleRate = 16000;
constexpr int kNFft = 400;
constexpr int kHop = 160;
constexpr int kNFreq = kNFft / 2 + 1;            // 201
constexpr int kChunkSamples = 30 * kSampleRate;  // 480000: one 30-second window
constexpr int kChunkFrames = kChunkSamples / kHop;  // 3000 mel frames per window

// The filter bank, [n_mels][201] row-major, computed as librosa.filters.mel(sr=16000, n_fft=400,
// n_mels=n_mels, htk=False, norm="slaney") does (the source of Whisper's mel_filters.npz).
std::vector<float> mel_filters(int n_mels);

struct LogMel {
  int n_mels = 0;
  int64_t n_frames = 0;
  std::vector<float> data;  // [n_mels][n_frames]
  const float* row(int m) const { return data.data() + int64_t(m) * n_frames; }
};

// Log-mel of `audio` (16 kHz mono) followed by `pad_zeros` zero samples, (n + pad_zeros) / 160 frames.
// pad_zeros = kChunkSamples reproduces whisper's transcribe() (30 s of silence appended); an input of
// at most 30 s with pad_zeros = kChunkSamples - n gives the feature extractor's 3000 frames.
// `pool` may be null (one thread).
LogMel log_mel_spectrogram(const float* audio, size_t n, int n_mels, size_t pad_zeros, ThreadPool* pool);

// Frames [frame0, frame0 + 3000) of `mel` as one encoder input [n_mels][3000], zero-padded on the right
// past the end of `mel` (whisper's pad_or_trim on a mel segment pads with 0).
std::vector<float> mel_window(const LogMel& mel, int64_t frame0);

}  // namespace pj::whisper
