#include "core/audio/audio.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/base/error.h"
#include "core/base/file.h"

#include "core/audio/ffmpeg_api.h"

namespace pj::audio {
namespace {

std::string av_err(const FfmpegApi& ff, int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  ff.av_strerror(code, buf, sizeof buf);
  return buf;
}

// FFmpeg reads through this cursor over the caller's bytes (no temporary file, no second copy).
struct MemReader {
  const uint8_t* data;
  int64_t size;
  int64_t pos = 0;
};

int mem_read(void* opaque, uint8_t* buf, int n) {
  auto* r = static_cast<MemReader*>(opaque);
  const int64_t left = r->size - r->pos;
  if (left <= 0) return AVERROR_EOF;
  const int k = int(std::min<int64_t>(n, left));
  std::memcpy(buf, r->data + r->pos, size_t(k));
  r->pos += k;
  return k;
}

int64_t mem_seek(void* opaque, int64_t offset, int whence) {
  auto* r = static_cast<MemReader*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return r->size;
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? r->pos : whence == SEEK_END ? r->size : -1;
  if (base < 0) return -1;
  const int64_t p = base + offset;
  if (p < 0 || p > r->size) return -1;
  r->pos = p;
  return p;
}

struct FormatCloser {
  const FfmpegApi* ff;
  void operator()(AVFormatContext* f) const { ff->avformat_close_input(&f); }
};
struct IoCloser {
  const FfmpegApi* ff;
  void operator()(AVIOContext* io) const {
    ff->av_freep(&io->buffer);
    ff->avio_context_free(&io);
  }
};
struct CodecCloser {
  const FfmpegApi* ff;
  void operator()(AVCodecContext* c) const { ff->avcodec_free_context(&c); }
};
struct SwrCloser {
  const FfmpegApi* ff;
  void operator()(SwrContext* s) const { ff->swr_free(&s); }
};
struct PacketCloser {
  const FfmpegApi* ff;
  void operator()(AVPacket* p) const { ff->av_packet_free(&p); }
};
struct FrameCloser {
  const FfmpegApi* ff;
  void operator()(AVFrame* f) const { ff->av_frame_free(&f); }
};

}  // namespace

std::vector<float> decode_memory(const void* data, size_t size, std::string_view name_sv, int sample_rate,
                                 DecodeInfo* info) {
  const std::string name(name_sv);
  if (size == 0) fail("audio: {}: empty file", name);
  if (sample_rate <= 0 || sample_rate > 768000) fail("audio: {}: bad output sample rate {}", name, sample_rate);
  const FfmpegApi& ff = ffmpeg(name);
  // FFmpeg's own log would print half-sentences beside our error; keep only its fatal messages.
  ff.av_log_set_level(AV_LOG_FATAL);

  MemReader reader{static_cast<const uint8_t*>(data), int64_t(size)};
  constexpr int kIoBuf = 64 * 1024;
  auto* iobuf = static_cast<uint8_t*>(ff.av_malloc(kIoBuf));
  if (!iobuf) fail("audio: {}: out of memory", name);
  std::unique_ptr<AVIOContext, IoCloser> io(
      ff.avio_alloc_context(iobuf, kIoBuf, 0, &reader, mem_read, nullptr, mem_seek), IoCloser{&ff});
  if (!io) {
    ff.av_free(iobuf);
    fail("audio: {}: out of memory", name);
  }

  AVFormatContext* fmt_raw = ff.avformat_alloc_context();
  if (!fmt_raw) fail("audio: {}: out of memory", name);
  fmt_raw->pb = io.get();
  fmt_raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  int rc = ff.avformat_open_input(&fmt_raw, nullptr, nullptr, nullptr);  // frees fmt_raw on failure
  if (rc < 0) fail("audio: {}: not an audio file FFmpeg can read ({})", name, av_err(ff, rc));
  std::unique_ptr<AVFormatContext, FormatCloser> fmt(fmt_raw, FormatCloser{&ff});
  rc = ff.avformat_find_stream_info(fmt.get(), nullptr);
  if (rc < 0) fail("audio: {}: cannot read stream information ({})", name, av_err(ff, rc));

  const AVCodec* codec = nullptr;
  const int stream_index = ff.av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
  if (stream_index < 0) fail("audio: {}: no audio stream ({})", name, fmt->iformat->name);
  if (!codec) fail("audio: {}: no decoder for the audio stream", name);
  AVStream* stream = fmt->streams[stream_index];

  std::unique_ptr<AVCodecContext, CodecCloser> dec(ff.avcodec_alloc_context3(codec), CodecCloser{&ff});
  if (!dec) fail("audio: {}: out of memory", name);
  rc = ff.avcodec_parameters_to_context(dec.get(), stream->codecpar);
  if (rc < 0) fail("audio: {}: bad codec parameters ({})", name, av_err(ff, rc));
  dec->thread_count = 1;
  rc = ff.avcodec_open2(dec.get(), codec, nullptr);
  if (rc < 0) fail("audio: {}: cannot open the {} decoder ({})", name, codec->name, av_err(ff, rc));

  std::vector<float> out;
  std::unique_ptr<SwrContext, SwrCloser> swr(nullptr, SwrCloser{&ff});
  int swr_in_rate = 0, swr_in_format = -1;
  AVChannelLayout swr_in_layout{};
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;

  auto configure = [&](const AVFrame* fr) {
    AVChannelLayout in_layout{};
    if (fr->ch_layout.nb_channels > 0 && fr->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC) {
      ff.av_channel_layout_copy(&in_layout, &fr->ch_layout);
    } else {
      const int nch = fr->ch_layout.nb_channels > 0 ? fr->ch_layout.nb_channels : dec->ch_layout.nb_channels;
      if (nch <= 0) fail("audio: {}: stream has no channels", name);
      ff.av_channel_layout_default(&in_layout, nch);
    }
    SwrContext* s = nullptr;
    int r = ff.swr_alloc_set_opts2(&s, &mono, AV_SAMPLE_FMT_FLT, sample_rate, &in_layout,
                                AVSampleFormat(fr->format), fr->sample_rate, 0, nullptr);
    if (r < 0 || !s) {
      ff.av_channel_layout_uninit(&in_layout);
      fail("audio: {}: cannot set up resampling ({})", name, av_err(ff, r));
    }
    swr.reset(s);
    r = ff.swr_init(s);
    if (r < 0) {
      ff.av_channel_layout_uninit(&in_layout);
      fail("audio: {}: cannot set up resampling from {} Hz, {} channels ({})", name, fr->sample_rate,
           in_layout.nb_channels, av_err(ff, r));
    }
    ff.av_channel_layout_uninit(&swr_in_layout);
    swr_in_layout = in_layout;
    swr_in_rate = fr->sample_rate;
    swr_in_format = fr->format;
  };

  auto convert = [&](const AVFrame* fr) {
    // Output room: the resampler may hold back a few samples and release them later.
    const int64_t cap = ff.swr_get_out_samples(swr.get(), fr ? fr->nb_samples : 0);
    if (cap < 0) fail("audio: {}: resampler error", name);
    const size_t old = out.size();
    out.resize(old + size_t(cap) + 32);
    uint8_t* dst = reinterpret_cast<uint8_t*>(out.data() + old);
    const int got = ff.swr_convert(swr.get(), &dst, int(cap) + 32, fr ? const_cast<const uint8_t**>(fr->extended_data) : nullptr,
                                fr ? fr->nb_samples : 0);
    if (got < 0) fail("audio: {}: resampling failed ({})", name, av_err(ff, got));
    out.resize(old + size_t(got));
  };

  std::unique_ptr<AVPacket, PacketCloser> pkt(ff.av_packet_alloc(), PacketCloser{&ff});
  std::unique_ptr<AVFrame, FrameCloser> frame(ff.av_frame_alloc(), FrameCloser{&ff});
  if (!pkt || !frame) fail("audio: {}: out of memory", name);
  int decode_errors = 0;

  auto drain = [&]() {
    for (;;) {
      const int r = ff.avcodec_receive_frame(dec.get(), frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) {
        ++decode_errors;
        return;
      }
      if (frame->nb_samples > 0) {
        if (!swr || frame->sample_rate != swr_in_rate || frame->format != swr_in_format ||
            ff.av_channel_layout_compare(&frame->ch_layout, &swr_in_layout) != 0) {
          if (swr) convert(nullptr);  // flush what the old resampler holds
          configure(frame.get());
        }
        convert(frame.get());
      }
      ff.av_frame_unref(frame.get());
    }
  };

  try {
    for (;;) {
      rc = ff.av_read_frame(fmt.get(), pkt.get());
      if (rc == AVERROR_EOF) break;
      if (rc < 0) {
        // A truncated file: keep what decoded so far, as ffmpeg does, unless nothing did.
        break;
      }
      if (pkt->stream_index == stream_index) {
        const int s = ff.avcodec_send_packet(dec.get(), pkt.get());
        if (s < 0 && s != AVERROR(EAGAIN)) ++decode_errors;
        drain();
      }
      ff.av_packet_unref(pkt.get());
    }
    ff.avcodec_send_packet(dec.get(), nullptr);
    drain();
    if (swr) convert(nullptr);
  } catch (...) {
    ff.av_channel_layout_uninit(&swr_in_layout);
    throw;
  }
  ff.av_channel_layout_uninit(&swr_in_layout);

  if (out.empty()) {
    if (decode_errors > 0) fail("audio: {}: the {} stream could not be decoded", name, codec->name);
    fail("audio: {}: no audio samples", name);
  }
  if (info) {
    info->format = fmt->iformat->name;
    info->codec = codec->name;
    info->source_rate = stream->codecpar->sample_rate;
    info->source_channels = stream->codecpar->ch_layout.nb_channels;
    info->duration_s = double(out.size()) / sample_rate;
  }
  return out;
}

std::vector<float> decode_file(const std::string& path, int sample_rate, DecodeInfo* info) {
  if (!file_exists(path)) fail("audio: {}: no such file", path);
  if (is_directory(path)) fail("audio: {}: is a directory", path);
  MappedFile map(path);
  return decode_memory(map.data(), map.size(), path, sample_rate, info);
}

void write_wav_s16(const std::string& path, const float* samples, size_t n, int sample_rate) {
  if (n > (0xFFFFFFFFull - 44) / 2) fail("audio: {}: too many samples for a WAV file", path);
  AtomicFileWriter w(path);
  auto u32 = [&](uint32_t v) { w.write(&v, 4); };
  auto u16 = [&](uint16_t v) { w.write(&v, 2); };
  const uint32_t data_bytes = uint32_t(n * 2);
  w.write("RIFF");
  u32(36 + data_bytes);
  w.write("WAVEfmt ");
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(uint32_t(sample_rate));
  u32(uint32_t(sample_rate) * 2);
  u16(2);
  u16(16);
  w.write("data");
  u32(data_bytes);
  std::vector<int16_t> buf;
  buf.reserve(4096);
  for (size_t i = 0; i < n; i += 4096) {
    buf.clear();
    for (size_t j = i; j < std::min(n, i + 4096); ++j) {
      const float v = std::clamp(samples[j], -1.0f, 1.0f) * 32767.0f;
      buf.push_back(int16_t(v < 0 ? v - 0.5f : v + 0.5f));
    }
    w.write(buf.data(), buf.size() * 2);
  }
  w.commit();
}

}  // namespace pj::audio
