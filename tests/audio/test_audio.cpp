// Audio decoding through FFmpeg: real files in several containers/codecs, down-mixing and resampling,
// and broken input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/audio/audio.h"
#include "core/base/error.h"
#include "core/base/file.h"

namespace {

namespace fs = std::filesystem;
using pj::audio::decode_file;
const std::string kAudio = std::string(PJ_SHARED_DIR) + "/data/audio";

std::string error_of(const std::string& path) {
  try {
    decode_file(path);
  } catch (const pj::Error& e) {
    return e.what();
  }
  return "";
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("pj_audio_test_" + std::to_string(::getpid()));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

double rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * v;
  return std::sqrt(s / double(std::max<size_t>(1, x.size())));
}

// jfk.flac: 11 s, 44.1 kHz stereo 24-bit -> 16 kHz mono.
TEST(Audio, FlacStereo44kTo16kMono) {
  pj::audio::DecodeInfo info;
  const auto x = decode_file(kAudio + "/jfk.flac", 16000, &info);
  EXPECT_EQ(info.source_rate, 44100);
  EXPECT_EQ(info.source_channels, 2);
  EXPECT_EQ(info.codec, "flac");
  EXPECT_NEAR(info.duration_s, 11.0, 0.05);
  EXPECT_NEAR(double(x.size()), 11.0 * 16000, 0.05 * 16000);
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  EXPECT_GT(peak, 0.1f);
  EXPECT_LT(peak, 1.5f);  // resampling may overshoot full scale a little (float output is not clipped)
}

// 16 kHz mono 16-bit WAV needs no resampling: sample i is the int16 value / 32768.
TEST(Audio, WavIsExact) {
  const std::string path = kAudio + "/espeak_local_models.wav";
  const auto x = decode_file(path);
  pj::MappedFile f(path);
  ASSERT_GT(f.size(), 44u);
  // Find the "data" chunk and compare every sample.
  size_t pos = 12;
  while (pos + 8 <= f.size() && std::string(reinterpret_cast<const char*>(f.data() + pos), 4) != "data") {
    uint32_t len;
    std::memcpy(&len, f.data() + pos + 4, 4);
    pos += 8 + len;
  }
  ASSERT_LT(pos + 8, f.size());
  uint32_t len;
  std::memcpy(&len, f.data() + pos + 4, 4);
  ASSERT_EQ(x.size(), len / 2);
  for (size_t i = 0; i < x.size(); ++i) {
    int16_t s;
    std::memcpy(&s, f.data() + pos + 8 + 2 * i, 2);
    ASSERT_EQ(x[i], float(s) / 32768.0f) << i;
  }
}

// The other containers and codecs browsers and phones produce, encoded from the WAV by the ffmpeg tool:
// the decoded length matches within codec padding and the level within 25%.
TEST(Audio, ManyFormats) {
  if (std::system("ffmpeg -version > /dev/null 2>&1") != 0) GTEST_SKIP() << "ffmpeg tool not installed";
  TempDir tmp;
  const std::string src = kAudio + "/espeak_local_models.wav";
  const auto ref = decode_file(src);
  struct Case {
    const char* name;
    const char* args;
  } cases[] = {
      {"a.mp3", "-c:a libmp3lame -b:a 64k"},       {"a.ogg", "-c:a libopus -b:a 32k"},
      {"a.webm", "-c:a libopus -b:a 32k"},         {"a.m4a", "-c:a aac -b:a 64k"},
      {"b.ogg", "-c:a libvorbis -q:a 3"},          {"a.flac", "-c:a flac"},
      {"s48.wav", "-ar 48000 -ac 2 -c:a pcm_f32le"},
  };
  for (const auto& c : cases) {
    const std::string out = tmp.file(c.name);
    const std::string cmd = "ffmpeg -v error -y -i " + src + " " + c.args + " " + out;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    pj::audio::DecodeInfo info;
    const auto x = decode_file(out, 16000, &info);
    EXPECT_NEAR(double(x.size()), double(ref.size()), 0.12 * 16000) << c.name << " " << info.codec;
    EXPECT_NEAR(rms(x), rms(ref), 0.25 * rms(ref)) << c.name;
  }
  // Bytes in memory decode like the file.
  pj::MappedFile f(tmp.file("a.ogg"));
  const auto m = pj::audio::decode_memory(f.data(), f.size(), "upload.ogg");
  EXPECT_EQ(m, decode_file(tmp.file("a.ogg")));
}

TEST(Audio, BrokenInputGivesClearErrors) {
  TempDir tmp;
  EXPECT_NE(error_of(tmp.file("missing.wav")).find("no such file"), std::string::npos);
  write_bytes(tmp.file("empty.wav"), "");
  EXPECT_NE(error_of(tmp.file("empty.wav")).find("empty file"), std::string::npos);
  write_bytes(tmp.file("text.mp3"), "this is not audio at all, just some text in a file\n");
  const std::string e = error_of(tmp.file("text.mp3"));
  EXPECT_NE(e.find("text.mp3"), std::string::npos) << e;
  EXPECT_FALSE(e.empty());
  std::string noise(4096, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = char((i * 2654435761u) >> 13);
  write_bytes(tmp.file("noise.bin"), noise);
  EXPECT_FALSE(error_of(tmp.file("noise.bin")).empty());
  EXPECT_NE(error_of(tmp.file("")).find("audio:"), std::string::npos);  // a directory-like empty name
  // A WAV header that promises data which is not there: an error, never a crash.
  pj::MappedFile wav(kAudio + "/espeak_local_models.wav");
  write_bytes(tmp.file("header_only.wav"), std::string(reinterpret_cast<const char*>(wav.data()), 44));
  EXPECT_NE(error_of(tmp.file("header_only.wav")).find("header_only.wav"), std::string::npos);
  // A truncated FLAC decodes what is there (as ffmpeg does) or fails cleanly.
  pj::MappedFile flac(kAudio + "/jfk.flac");
  for (size_t cut : {size_t(10), size_t(100), size_t(5000), flac.size() / 2}) {
    write_bytes(tmp.file("cut.flac"), std::string(reinterpret_cast<const char*>(flac.data()), cut));
    try {
      const auto x = decode_file(tmp.file("cut.flac"));
      EXPECT_LT(x.size(), size_t(11 * 16000)) << cut;
    } catch (const pj::Error& err) {
      EXPECT_NE(std::string(err.what()).find("cut.flac"), std::string::npos);
    }
  }
  // A video file without an audio stream.
  if (std::system("ffmpeg -version > /dev/null 2>&1") == 0) {
    const std::string v = tmp.file("video.webm");
    ASSERT_EQ(std::system(("ffmpeg -v error -y -f lavfi -i color=c=red:s=32x32:d=0.2 -c:v libvpx " + v).c_str()), 0);
    EXPECT_NE(error_of(v).find("no audio stream"), std::string::npos) << error_of(v);
  }
}

TEST(Audio, WavWriterRoundTrip) {
  TempDir tmp;
  std::vector<float> x(16000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * std::sin(float(i) * 0.05f);
  pj::audio::write_wav_s16(tmp.file("w.wav"), x.data(), x.size(), 16000);
  const auto y = decode_file(tmp.file("w.wav"));
  ASSERT_EQ(y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], x[i], 1.0 / 32000) << i;
}

}  // namespace
