// `pajamas serve`: an OpenAI-compatible HTTP API and the web UI, on cpp-httplib.
//   GET  /health, /metrics (Prometheus text), /v1/models, /v1/models/{id}
//   POST /v1/chat/completions, /v1/completions, /v1/embeddings
//   POST /v1/images/classify, /v1/images/embed (vision_api.h)
//   POST /v1/audio/transcriptions, /v1/audio/translations (speech_api.h)
//   GET  / and the UI's files
// With an API key, every API request needs "Authorization: Bearer KEY" (401 otherwise); the UI's
// static files are served without it (they hold no data), and the page asks for the key.
#pragma once

#include "apps/server/model_pool.h"

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace httplib {
class Server;
}

namespace pj::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see bound_port())
  std::string api_key;
  size_t max_body_bytes = 8u << 20;
  int http_threads = 64;  // connections served at once (streams included)
  bool log_requests = true;
  PoolOptions pool;
  std::vector<std::string> speech_models;  // Whisper models for /v1/audio/* (speech_api.h)
  std::string default_speech_model;        // used when speech_models is empty and it exists
  std::vector<std::string> vision_models;  // ViT/CLIP folders or GGUFs for /v1/images/* (vision_api.h)
};

class Metrics;
class VisionApi;
class SpeechApi;

class Server {
 public:
  explicit Server(ServerOptions o);
  ~Server();

  // Binds the socket; pj::Error if it cannot. Returns the port.
  int bind();
  // Serves until stop() (from another thread).
  void run();
  void stop();
  ModelPool& pool() { return *pool_; }

 private:
  void routes();

  ServerOptions opts_;
  std::unique_ptr<ModelPool> pool_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<VisionApi> vision_;
  std::unique_ptr<SpeechApi> speech_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

}  // namespace pj::server
