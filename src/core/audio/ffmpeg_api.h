// FFmpeg's functions that the audio decoder calls, loaded at run time with dlopen.
//
// Why not link them: libavformat/libavcodec pull in ~130 shared libraries (codecs, TLS, SVG, GLib...)
// that the dynamic loader maps and relocates at the start of every process, ~25 MiB resident, for
// every command, LLM and vision ones included. Loaded here, only a process that decodes audio pays.
//
// The libraries are opened by the sonames of the headers we compiled against (libavformat.so.59 for
// LIBAVFORMAT_VERSION_MAJOR 59, ...), so the ABI is the one the structs in the headers describe.
// Each pointer has the exact type of the header's declaration (decltype), so a signature mismatch is
// a compile error.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libswresample/swresample.h>
}

#include <string_view>

namespace pj::audio {

// X(library, function) for every FFmpeg function decode.cpp uses.
#define PJ_FFMPEG_FUNCTIONS(X)                                                                    \
  X(avutil, av_strerror) X(avutil, av_log_set_level) X(avutil, av_malloc) X(avutil, av_free)      \
  X(avutil, av_freep) X(avutil, av_channel_layout_copy) X(avutil, av_channel_layout_default)      \
  X(avutil, av_channel_layout_uninit) X(avutil, av_channel_layout_compare) X(avutil, av_frame_alloc) \
  X(avutil, av_frame_free) X(avutil, av_frame_unref)                                              \
  X(swresample, swr_alloc_set_opts2) X(swresample, swr_init) X(swresample, swr_free)              \
  X(swresample, swr_get_out_samples) X(swresample, swr_convert)                                   \
  X(avcodec, avcodec_alloc_context3) X(avcodec, avcodec_parameters_to_context)                    \
  X(avcodec, avcodec_open2) X(avcodec, avcodec_free_context) X(avcodec, avcodec_send_packet)      \
  X(avcodec, avcodec_receive_frame) X(avcodec, av_packet_alloc) X(avcodec, av_packet_free)        \
  X(avcodec, av_packet_unref)                                                                     \
  X(avformat, avio_alloc_context) X(avformat, avio_context_free) X(avformat, avformat_alloc_context) \
  X(avformat, avformat_open_input) X(avformat, avformat_find_stream_info)                         \
  X(avformat, av_find_best_stream) X(avformat, av_read_frame) X(avformat, avformat_close_input)

struct FfmpegApi {
#define PJ_FFMPEG_POINTER(lib, fn) decltype(&::fn) fn = nullptr;
  PJ_FFMPEG_FUNCTIONS(PJ_FFMPEG_POINTER)
#undef PJ_FFMPEG_POINTER
};

// The function table. The first call opens the four libraries (a shared library is process-wide
// state, so the table is loaded once per process and never changes afterwards; the initialisation is
// thread-safe); a failure throws pj::Error "audio: <for_file>: cannot load FFmpeg's <soname> (<dlerror>)
// ..." (for_file: the input being decoded) and the next call tries again.
const FfmpegApi& ffmpeg(std::string_view for_file);

}  // namespace pj::audio
