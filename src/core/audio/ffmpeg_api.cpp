#include "core/audio/ffmpeg_api.h"

#include <dlfcn.h>

extern "C" {
#include <libavcodec/version.h>
#include <libavformat/version.h>
#include <libavutil/version.h>
#include <libswresample/version.h>
}

#include "core/base/error.h"

namespace pj::audio {
namespace {

#define PJ_STR2(x) #x
#define PJ_STR(x) PJ_STR2(x)
// Sonames of the versions in the headers (Debian 12: libavutil.so.57, libswresample.so.4,
// libavcodec.so.59, libavformat.so.59). Order: each one's FFmpeg dependencies before it.
constexpr const char* kAvutil = "libavutil.so." PJ_STR(LIBAVUTIL_VERSION_MAJOR);
constexpr const char* kSwresample = "libswresample.so." PJ_STR(LIBSWRESAMPLE_VERSION_MAJOR);
constexpr const char* kAvcodec = "libavcodec.so." PJ_STR(LIBAVCODEC_VERSION_MAJOR);
constexpr const char* kAvformat = "libavformat.so." PJ_STR(LIBAVFORMAT_VERSION_MAJOR);
// Debian's runtime packages of those versions, for the error message.
constexpr const char* kPackages = "libavutil" PJ_STR(LIBAVUTIL_VERSION_MAJOR) " libswresample" PJ_STR(
    LIBSWRESAMPLE_VERSION_MAJOR) " libavcodec" PJ_STR(LIBAVCODEC_VERSION_MAJOR) " libavformat" PJ_STR(LIBAVFORMAT_VERSION_MAJOR);
#undef PJ_STR
#undef PJ_STR2

void* open_library(const char* soname, std::string_view for_file) {
  // RTLD_LOCAL: FFmpeg's symbols stay out of the global namespace; dlsym below names the handle.
  void* h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* why = dlerror();
    fail("audio: {}: cannot load FFmpeg's {} ({}); audio decoding needs FFmpeg's runtime libraries (Debian packages: {})",
         for_file, soname, why ? why : "unknown error", kPackages);
  }
  return h;
}

void* symbol(void* lib, const char* soname, const char* fn, std::string_view for_file) {
  void* p = dlsym(lib, fn);
  if (!p)
    fail("audio: {}: FFmpeg's {} has no function {} (not the FFmpeg of the headers we compiled with)", for_file,
         soname, fn);
  return p;
}

FfmpegApi load(std::string_view for_file) {
  // Never closed: the table lives as long as the process.
  void* const avutil = open_library(kAvutil, for_file);
  void* const swresample = open_library(kSwresample, for_file);
  void* const avcodec = open_library(kAvcodec, for_file);
  void* const avformat = open_library(kAvformat, for_file);
  const char* const avutil_name = kAvutil;
  const char* const swresample_name = kSwresample;
  const char* const avcodec_name = kAvcodec;
  const char* const avformat_name = kAvformat;
  FfmpegApi api;
#define PJ_FFMPEG_RESOLVE(lib, fn) api.fn = reinterpret_cast<decltype(api.fn)>(symbol(lib, lib##_name, #fn, for_file));
  PJ_FFMPEG_FUNCTIONS(PJ_FFMPEG_RESOLVE)
#undef PJ_FFMPEG_RESOLVE
  return api;
}

}  // namespace

const FfmpegApi& ffmpeg(std::string_view for_file) {
  static const FfmpegApi api = load(for_file);
  return api;
}

}  // namespace pj::audio
