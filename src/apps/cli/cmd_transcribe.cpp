// pajamas transcribe [-m MODEL] FILE... [--language auto|en|...] [--task transcribe|translate]
//                    [--beam-size N] [--format txt|json|srt|vtt] [--output DIR] [--word-timestamps] ...
// Speech to text with Whisper. MODEL is a Whisper GGUF (pajamas convert), a Hugging Face Whisper folder
// or a CTranslate2 folder (faster-whisper's format); without -m, $PAJAMAS_WHISPER_MODEL or the tiny.en
// model that setup.sh installs in models/whisper-tiny.en. Audio is anything FFmpeg decodes.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/cli/commands.h"
#include "apps/cli/model_path.h"
#include "core/audio/audio.h"
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/kernels/context.h"
#include "models/whisper/transcribe.h"

namespace pj::cli {
namespace {

struct TranscribeCliOptions {
  std::string model, vocab, language = "auto", task = "transcribe", format = "txt", output, prompt;
  std::vector<std::string> files;
  int beam_size = 5, best_of = 5, threads = 0;
  float temperature = -1;  // < 0: the fallback schedule 0, 0.2 ... 1.0
  bool no_timestamps = false, no_progress = false, no_fallback = false, word_timestamps = false;
};

std::string resolve_whisper_model(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("PAJAMAS_WHISPER_MODEL"); env && *env) return env;
  const std::string d = default_model_dir(kDefaultSpeechModelDir);
  if (!d.empty()) return d;
  fail("transcribe: no model given (-m) and the default speech model models/{} is not installed: run ./setup.sh, "
       "or set PAJAMAS_WHISPER_MODEL", kDefaultSpeechModelDir);
}

void progress_bar(double done, double total) {
  const int width = 30;
  const double f = total > 0 ? std::min(1.0, done / total) : 1.0;
  const int filled = int(f * width);
  std::fprintf(stderr, "\r[%.*s%*s] %3d%%  %.0f/%.0f s", filled, "==============================", width - filled, "",
               int(f * 100 + 0.5), done, total);
  if (f >= 1.0) std::fputc('\n', stderr);
  std::fflush(stderr);
}

void run_transcribe(const TranscribeCliOptions& o) {
  const std::string model_path = resolve_whisper_model(o.model);
  std::string format = o.format;
  if (format != "txt" && format != "json" && format != "srt" && format != "vtt" && format != "verbose_json")
    fail("transcribe: unknown --format '{}' (txt, json, srt, vtt)", format);
  if (o.task != "transcribe" && o.task != "translate") fail("transcribe: --task must be transcribe or translate");
  if (!o.output.empty() && !is_directory(o.output)) {
    std::error_code ec;
    std::filesystem::create_directories(o.output, ec);
    if (ec) fail("transcribe: cannot create output folder {}: {}", o.output, ec.message());
  }
  KernelContext::Options ko;
  ko.threads = o.threads;
  KernelContext ctx(ko);
  const whisper::Model model = whisper::Model::load(model_path);
  const whisper::Tokenizer tok = whisper::Tokenizer::for_model(model, o.vocab);
  whisper::Transcriber tr(ctx, model, tok);

  whisper::TranscribeOptions to;
  to.language = o.language;
  to.translate = o.task == "translate";
  to.beam_size = o.beam_size;
  to.best_of = o.best_of;
  to.initial_prompt = o.prompt;
  to.timestamps = !o.no_timestamps;
  to.word_timestamps = o.word_timestamps;
  if (o.temperature >= 0) to.temperatures = {o.temperature};
  if (o.no_fallback) to.temperatures = {to.temperatures.front()};

  for (const std::string& file : o.files) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> audio = audio::decode_file(file);
    const double seconds = double(audio.size()) / audio::kWhisperSampleRate;
    const bool show = !o.no_progress && seconds > 30.0 && isatty(STDERR_FILENO);
    to.progress = show ? whisper::TranscribeOptions{}.progress : nullptr;
    if (show) to.progress = progress_bar;
    const whisper::Transcript t = tr.transcribe(audio.data(), audio.size(), to);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string text = whisper::format_transcript(t, format == "json" ? "verbose_json" : format);
    if (o.output.empty()) {
      if (o.files.size() > 1 && format == "txt") std::printf("== %s\n", file.c_str());
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    } else {
      const std::string stem = std::filesystem::path(file).stem().string();
      const std::string out = (std::filesystem::path(o.output) / (stem + "." + (format == "verbose_json" ? "json" : format))).string();
      AtomicFileWriter w(out);
      w.write(text);
      w.commit();
      std::fprintf(stderr, "%s -> %s\n", file.c_str(), out.c_str());
    }
    std::fprintf(stderr, "transcribe: %s: %.1f s of audio in %.2f s (real-time factor %.3f), language %s\n",
                 file.c_str(), seconds, elapsed, elapsed / std::max(seconds, 1e-9), t.language.c_str());
  }
}

}  // namespace

void register_transcribe(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<TranscribeCliOptions>();
  auto* cmd = app.add_subcommand("transcribe", "Speech to text with Whisper (any audio FFmpeg decodes)");
  cmd->add_option("files", o->files, "Audio files (WAV, FLAC, MP3, OGG/Opus, WebM, M4A, ...)")->required();
  cmd->add_option("-m,--model", o->model,
                  "Whisper GGUF, Hugging Face folder or CTranslate2 folder (default: models/whisper-tiny.en)");
  cmd->add_option("--vocab", o->vocab, "Vocabulary (.tiktoken or byte-level vocabulary.txt) for a model without one");
  cmd->add_option("-l,--language", o->language, "Spoken language code, or auto to detect it")->capture_default_str();
  cmd->add_option("--task", o->task, "transcribe, or translate into English")->capture_default_str();
  cmd->add_option("--beam-size", o->beam_size, "Beam size at temperature 0 (1: greedy)")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--best-of", o->best_of, "Candidates sampled at temperature > 0")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--temperature", o->temperature, "A single decoding temperature (default: 0 with fallback to 0.2 ... 1.0)");
  cmd->add_flag("--no-fallback", o->no_fallback, "Do not retry at higher temperatures");
  cmd->add_option("--prompt", o->prompt, "Initial prompt (spelling, names, style)");
  cmd->add_option("-f,--format", o->format, "Output format: txt, json, srt, vtt")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "Write FILE.<format> into this folder instead of printing");
  cmd->add_flag("--no-timestamps", o->no_timestamps, "Decode without timestamp tokens");
  cmd->add_flag("--word-timestamps", o->word_timestamps,
                "Times of each word (json: words per segment; srt: one cue per word; vtt: cue timestamps)");
  cmd->add_flag("--no-progress", o->no_progress, "No progress bar");
  cmd->add_option("-t,--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->callback([o] { run_transcribe(*o); });
}

}  // namespace pj::cli
