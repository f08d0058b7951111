// Audio input: any container/codec FFmpeg's libraries decode (WAV, FLAC, MP3, OGG/Opus/Vorbis, WebM,
// M4A/AAC, ...), down-mixed and resampled with libswresample to mono float at a chosen rate (Whisper:
// 16 kHz). The same path as `ffmpeg -i FILE -ac 1 -ar 16000 -f f32le -`, which is how openai/whisper
// loads audio, so the samples match the reference's. FFmpeg's libraries are loaded on the first decode
// (ffmpeg_api.h), not linked: a process that never decodes audio never maps them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pj::audio {

constexpr int kWhisperSampleRate = 16000;

struct DecodeInfo {
  std::string format;      // container, e.g. "wav", "flac", "ogg", "matroska,webm", "mov,mp4,m4a,..."
  std::string codec;       // e.g. "pcm_s16le", "flac", "opus"
  int source_rate = 0;     // Hz
  int source_channels = 0;
  double duration_s = 0;   // of the decoded output
};

// Decodes a whole file. pj::Error naming `path` if it is missing, empty, not audio FFmpeg can decode,
// has no audio stream or yields no samples, or if FFmpeg's libraries cannot be loaded.
std::vector<float> decode_file(const std::string& path, int sample_rate = kWhisperSampleRate,
                               DecodeInfo* info = nullptr);

// The same for bytes in memory (an HTTP upload); `name` is used in error messages only.
std::vector<float> decode_memory(const void* data, size_t size, std::string_view name,
                                 int sample_rate = kWhisperSampleRate, DecodeInfo* info = nullptr);

// Writes 16-bit PCM mono WAV (for tests and tools), atomically.
void write_wav_s16(const std::string& path, const float* samples, size_t n, int sample_rate);

}  // namespace pj::audio
