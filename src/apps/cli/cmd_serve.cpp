// `pajamas serve`: the OpenAI-compatible server and web UI (src/apps/server). Binds to 127.0.0.1
// unless --host says otherwise; SIGINT/SIGTERM stop it cleanly.
#include "apps/cli/commands.h"
#include "apps/cli/model_path.h"
#include "apps/server/server.h"
#include "core/base/error.h"

#include <csignal>
#include <cstdio>
#include <memory>
#include <pthread.h>
#include <thread>

namespace pj::cli {

void register_serve(CLI::App& app, const GlobalOptions& g) {
  struct Opts {
    server::ServerOptions s;
    std::vector<std::string> models;
    std::string keep_alive = "5m", kv_type = "f16";
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("serve", "Serve models over an OpenAI-compatible HTTP API, with a web UI at /");
  cmd->add_option("--host", o->s.host, "Address to listen on (0.0.0.0 exposes the server to the network)")->capture_default_str();
  cmd->add_option("--port", o->s.port, "Port (0: any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("-m,--model", o->models, "GGUF file or Hugging Face folder to serve (repeatable; default: the installed default model)");
  cmd->add_option("--speech-model", o->s.speech_models, "Whisper GGUF/HF/CTranslate2 model for /v1/audio/transcriptions (repeatable; default: models/whisper-tiny.en)");
  cmd->add_option("--vision-model", o->s.vision_models, "ViT/CLIP folder or GGUF, or a .tflite classifier, for /v1/images/classify|embed; a YOLOv8 .safetensors/GGUF for /v1/images/detect (repeatable)");
  cmd->add_option("--models-dir", o->s.pool.models_dir, "Folder of models (*.gguf, HF folders), loaded on first use");
  cmd->add_option("--api-key", o->s.api_key, "Require 'Authorization: Bearer KEY' on every API request");
  cmd->add_option("--parallel", o->s.pool.parallel, "Requests served at once per model (each has its own KV cache)")
      ->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("-c,--ctx", o->s.pool.ctx, "Context length per slot")->check(CLI::Range(16, 1 << 22))->capture_default_str();
  cmd->add_option("-t,--threads", o->s.pool.threads, "Kernel threads in all, split between slots (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--kv-type", o->kv_type, "KV cache element type")->check(CLI::IsMember({"f16", "f32"}))->capture_default_str();
  cmd->add_option("--keep-alive", o->keep_alive, "Unload a model unused for this long (300, 30s, 5m, 1h; -1: never)")->capture_default_str();
  cmd->add_option("--max-body", o->s.max_body_bytes, "Largest request body in bytes")->check(CLI::Range(1024, 1 << 30))->capture_default_str();
  cmd->add_option("--http-threads", o->s.http_threads, "Connections served at once (streams included)")->check(CLI::Range(4, 4096))->capture_default_str();
  cmd->add_flag("-q,--quiet", o->quiet, "Do not log requests");
  cmd->callback([o, &g] {
    o->s.pool.models = o->models;
    if (o->models.empty() && o->s.pool.models_dir.empty() && o->s.vision_models.empty())
      o->s.pool.models.push_back(resolve_model_path(""));
    o->s.pool.keep_alive_s = server::parse_duration(o->keep_alive);
    o->s.default_speech_model = default_model_dir(kDefaultSpeechModelDir);
    o->s.pool.kv_f32 = o->kv_type == "f32";
    o->s.log_requests = !o->quiet;

    // Signals go to a thread that stops the server (stop() is not async-signal-safe).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    server::Server srv(o->s);
    const int port = srv.bind();
    std::fprintf(stderr, "pajamas serve: listening on http://%s:%d (web UI at /, API at /v1)\n", o->s.host.c_str(), port);
    std::fflush(stderr);
    std::thread sig([&srv, set] {
      int s = 0;
      sigwait(&set, &s);
      srv.stop();
    });
    srv.run();
    // run() also returns if the listener fails; wake the signal thread so it can be joined
    pthread_kill(sig.native_handle(), SIGTERM);
    sig.join();
  });
}

}  // namespace pj::cli
