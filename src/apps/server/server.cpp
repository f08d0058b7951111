#include "apps/server/server.h"

#include "apps/server/api_error.h"
#include "apps/server/engine.h"
#include "apps/server/metrics.h"
#include "apps/server/openai_api.h"
#include "apps/server/vision_api.h"
#include "apps/server/speech_api.h"
#include "apps/server/web_assets.h"
#include "core/base/error.h"

#include <httplib.h>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <cstdio>
#include <random>
#include <thread>

namespace pj::server {

namespace {

using json = nlohmann::json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string new_id(const char* prefix) {
  std::random_device rd;
  return fmt::format("{}{:08x}{:08x}", prefix, rd(), rd());
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

json parse_body(const httplib::Request& req) {
  const std::string ct = req.get_header_value("Content-Type");
  // Only JSON bodies: this also keeps other web sites from posting forms to a local server.
  if (ct.find("json") == std::string::npos)
    throw ApiError(415, "the request body must be JSON (Content-Type: application/json)");
  try {
    return json::parse(req.body);
  } catch (const json::parse_error& e) {
    throw ApiError(400, std::string("could not parse the JSON body: ") + e.what());
  }
}

bool same_key(const std::string& a, const std::string& b) {
  // constant time in the contents, so that the key cannot be guessed byte by byte from timings
  unsigned diff = unsigned(a.size() ^ b.size());
  for (size_t i = 0; i < a.size(); ++i) diff |= unsigned(uint8_t(a[i]) ^ uint8_t(i < b.size() ? b[i] : 0));
  return diff == 0;
}

const WebAsset* find_asset(const std::string& path) {
  const std::string p = path == "/" ? "/index.html" : path;
  for (const auto& a : web_assets())
    if (a.path == p) return &a;
  return nullptr;
}

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

}  // namespace

Server::Server(ServerOptions o)
    : opts_(std::move(o)), pool_(std::make_unique<ModelPool>(opts_.pool)), metrics_(std::make_unique<Metrics>()),
      http_(std::make_unique<httplib::Server>()),
      vision_(std::make_unique<VisionApi>(opts_.vision_models, opts_.pool.threads)),
      speech_(std::make_unique<SpeechApi>(opts_.speech_models, opts_.default_speech_model, opts_.pool.threads)) {
  routes();
}

Server::~Server() = default;

int Server::bind() {
  const int n = opts_.http_threads;
  http_->new_task_queue = [n] { return new httplib::ThreadPool(size_t(n)); };
  http_->set_payload_max_length(opts_.max_body_bytes);
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);
  // Debian's cpp-httplib 0.11 listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into the
  // shared library): a burst of concurrent connections overflows it and clients get "connection reset"
  // (seen with 32 streaming clients). Keep the socket to listen() on it again with a longer queue.
  int listen_fd = -1;
  http_->set_socket_options([&listen_fd](int sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });
  if (opts_.port == 0) {
    port_ = http_->bind_to_any_port(opts_.host);
    if (port_ <= 0) fail("serve: cannot listen on {} (any port)", opts_.host);
  } else {
    if (!http_->bind_to_port(opts_.host, opts_.port))
      fail("serve: cannot listen on {}:{} (address in use, or not an address of this machine)", opts_.host, opts_.port);
    port_ = opts_.port;
  }
  if (listen_fd >= 0 && ::listen(listen_fd, SOMAXCONN) != 0)
    std::fprintf(stderr, "pajamas serve: warning: could not lengthen the listen queue (%s)\n", std::strerror(errno));
  http_->set_socket_options(httplib::default_socket_options);
  return port_;
}

void Server::run() {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  // Unloads idle models; wakes often enough to keep the keep-alive to about a second.
  std::thread reaper([&] {
    std::unique_lock lk(mu);
    while (!done) {
      cv.wait_for(lk, std::chrono::milliseconds(250));
      lk.unlock();
      const int n = pool_->unload_idle();
      if (n && opts_.log_requests) std::fprintf(stderr, "pajamas serve: unloaded %d idle model(s)\n", n);
      lk.lock();
    }
  });
  http_->listen_after_bind();
  {
    std::lock_guard lk(mu);
    done = true;
  }
  cv.notify_all();
  reaper.join();
}

void Server::stop() {
  stopping_ = true;
  http_->stop();
}

void Server::routes() {
  using httplib::Request;
  using httplib::Response;
  using HR = httplib::Server::HandlerResponse;

  // Turns exceptions into OpenAI error objects; counts every request.
  auto wrap = [this](auto fn) {
    return [this, fn](const Request& req, Response& res) {
      try {
        fn(req, res);
      } catch (const ApiError& e) {
        send_json(res, e.status, e.body());
      } catch (const std::bad_alloc&) {
        send_json(res, 503, ApiError(503, "out of memory", "server_error").body());
      } catch (const std::exception& e) {
        send_json(res, 500, ApiError(500, e.what(), "server_error").body());
      }
    };
  };

  http_->set_pre_routing_handler([this](const Request& req, Response& res) {
    metrics_->active++;
    if (opts_.api_key.empty()) return HR::Unhandled;
    if (req.method == "GET" && find_asset(req.path)) return HR::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (!same_key(auth, "Bearer " + opts_.api_key)) {
      const char* msg = auth.empty() ? "You didn't provide an API key (Authorization: Bearer KEY)."
                                     : "Incorrect API key provided.";
      send_json(res, 401, ApiError(401, msg, "invalid_request_error", "", "invalid_api_key").body());
      return HR::Handled;
    }
    return HR::Unhandled;
  });
  http_->set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
    if (!res.body.empty()) return HR::Unhandled;
    std::string msg;
    switch (res.status) {
      case 404: msg = "Unknown endpoint: " + req.method + " " + req.path; break;
      case 413: msg = "The request body is too large."; break;
      case 414: msg = "The request URI is too long."; break;
      default: msg = fmt::format("HTTP {}", res.status);
    }
    send_json(res, res.status, ApiError(res.status, msg).body());
    return HR::Handled;
  }));
  http_->set_logger([this](const Request& req, const Response& res) {
    metrics_->active--;
    metrics_->request(req.path, res.status);
    if (opts_.log_requests) std::fprintf(stderr, "%s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
  });

  http_->Get("/health", wrap([](const Request&, Response& res) { send_json(res, 200, {{"status", "ok"}}); }));
  http_->Get("/metrics", wrap([this](const Request&, Response& res) {
    res.set_content(metrics_->render(pool_->list(), metrics_->active.load()), "text/plain; version=0.0.4");
  }));

  auto model_json = [](const ModelInfo& m) {
    return json{{"id", m.id}, {"object", "model"}, {"created", 0}, {"owned_by", "pajamas"},
                {"format", m.format}, {"architecture", m.arch}, {"quantization", m.quant},
                {"size_bytes", m.size_bytes}, {"loaded", m.loaded}, {"n_ctx", m.n_ctx},
                {"busy_slots", m.busy_slots}, {"queued", m.queued}};
  };
  http_->Get("/v1/models", wrap([this, model_json](const Request&, Response& res) {
    json data = json::array();
    for (const auto& m : pool_->list()) data.push_back(model_json(m));
    send_json(res, 200, {{"object", "list"}, {"data", data}});
  }));
  http_->Get(R"(/v1/models/(.+))", wrap([this, model_json](const Request& req, Response& res) {
    const std::string id = req.matches[1];
    for (const auto& m : pool_->list())
      if (m.id == id) return send_json(res, 200, model_json(m));
    throw ApiError(404, "The model '" + id + "' does not exist", "invalid_request_error", "model", "model_not_found");
  }));

  auto generate = [this](const Request& req, Response& res, bool chat) {
    const json body = parse_body(req);
    auto r = std::make_shared<CompletionRequest>(chat ? parse_chat_request(body) : parse_completion_request(body));
    auto model = pool_->get(r->model);
    auto g = std::make_shared<GenParams>(prepare(*r, *model, model->n_ctx()));
    const std::string id = new_id(chat ? "chatcmpl-" : "cmpl-");
    const int64_t created = unix_now();
    if (!r->stream) {
      auto lease = model->acquire(g->prompt, {});
      GenResult out = generate_on(*lease, *g, {});
      metrics_->generation(out);
      send_json(res, 200, chat ? chat_response(*r, id, created, model->id, out)
                               : completion_response(*r, id, created, model->id, out));
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider("text/event-stream", [this, r, g, model, id, created, chat](size_t, httplib::DataSink& sink) {
      auto send = [&](const json& j) {
        const std::string s = sse(j);
        return sink.write(s.data(), s.size());
      };
      auto lease = model->acquire(g->prompt, [&] {
        static constexpr char kWaiting[] = ": waiting for a free slot\n\n";  // an SSE comment
        return sink.write(kWaiting, sizeof kWaiting - 1) && sink.is_writable();
      });
      if (!lease) {
        metrics_->cancelled++;
        return false;
      }
      const bool buffer = chat && !r->tools.is_null();  // calls are parsed from the whole reply
      bool ok = true;
      if (chat) ok = send(chat_chunk(id, created, model->id, {{"role", "assistant"}, {"content", ""}}, nullptr));
      else if (r->echo) ok = send(completion_chunk(id, created, model->id, r->prompt, nullptr));
      GenResult out;
      try {
        out = generate_on(*lease, *g, [&](const std::string& piece) {
          if (!buffer)
            ok = ok && send(chat ? chat_chunk(id, created, model->id, {{"content", piece}}, nullptr)
                                 : completion_chunk(id, created, model->id, piece, nullptr));
          return ok && sink.is_writable();
        });
      } catch (const std::exception& e) {
        send({{"error", {{"message", e.what()}, {"type", "server_error"}, {"param", nullptr}, {"code", nullptr}}}});
        sink.done();
        return true;
      }
      metrics_->generation(out);
      if (out.cancelled) {
        metrics_->cancelled++;
        return false;
      }
      std::string finish = out.finish_reason;
      if (buffer) {
        ParsedReply p = parse_tool_calls(out.text);
        if (!p.calls.empty()) {
          json calls = tool_calls_json(p.calls, "call_" + id.substr(id.size() - 8) + "_");
          for (size_t i = 0; i < calls.size(); ++i) calls[i]["index"] = i;
          json delta = {{"tool_calls", calls}};
          if (!p.content.empty()) delta["content"] = p.content;
          send(chat_chunk(id, created, model->id, delta, nullptr));
          finish = "tool_calls";
        } else if (!out.text.empty()) {
          send(chat_chunk(id, created, model->id, {{"content", out.text}}, nullptr));
        }
      }
      if (chat) send(chat_chunk(id, created, model->id, json::object(), finish));
      else send(completion_chunk(id, created, model->id, "", finish));
      if (r->include_usage) {
        json u = chat ? chat_chunk(id, created, model->id, json::object(), nullptr)
                      : completion_chunk(id, created, model->id, "", nullptr);
        u["choices"] = json::array();
        u["usage"] = usage_json(out);
        send(u);
      }
      static constexpr char kDone[] = "data: [DONE]\n\n";
      sink.write(kDone, sizeof kDone - 1);
      sink.done();
      return true;
    });
  };
  http_->Post("/v1/chat/completions", wrap([generate](const Request& q, Response& s) { generate(q, s, true); }));
  http_->Post("/v1/completions", wrap([generate](const Request& q, Response& s) { generate(q, s, false); }));

  // OpenAI's audio API: multipart/form-data with the file and form fields (speech_api.h).
  auto speech = [this](const Request& req, Response& res, bool translate) {
    if (!req.is_multipart_form_data()) throw bad_param("file", "Send multipart/form-data with a 'file' field.");
    if (!req.has_file("file")) throw bad_param("file", "The 'file' field is missing.");
    const auto f = req.get_file_value("file");
    SpeechRequest r;
    r.audio = f.content;
    r.filename = f.filename;
    r.translate = translate;
    auto field = [&](const char* k) { return req.has_file(k) ? req.get_file_value(k).content : std::string(); };
    r.model = field("model");
    r.language = field("language");
    r.prompt = field("prompt");
    if (req.has_file("response_format")) r.response_format = field("response_format");
    for (const char* k : {"timestamp_granularities[]", "timestamp_granularities"}) {  // repeated field
      auto [b, e] = req.files.equal_range(k);
      for (auto it = b; it != e; ++it) r.timestamp_granularities.push_back(it->second.content);
    }
    if (req.has_file("temperature")) {
      try {
        r.temperature = std::stof(field("temperature"));
      } catch (const std::exception&) {
        throw bad_param("temperature", "temperature must be a number");
      }
      if (r.temperature < 0) throw bad_param("temperature", "temperature must be between 0 and 1");
    }
    const SpeechResponse out = speech_->transcribe(r);
    res.status = 200;
    res.set_content(out.body, out.content_type.c_str());
  };
  http_->Post("/v1/audio/transcriptions", wrap([speech](const Request& q, Response& s) { speech(q, s, false); }));
  http_->Post("/v1/audio/translations", wrap([speech](const Request& q, Response& s) { speech(q, s, true); }));

  http_->Post("/v1/images/classify", wrap([this](const Request& req, Response& res) {
    send_json(res, 200, vision_->classify(parse_body(req)));
  }));
  http_->Post("/v1/images/embed", wrap([this](const Request& req, Response& res) {
    send_json(res, 200, vision_->embed(parse_body(req)));
  }));
  http_->Post("/v1/images/detect", wrap([this](const Request& req, Response& res) {
    send_json(res, 200, vision_->detect(parse_body(req)));
  }));
  http_->Post("/v1/embeddings", wrap([this](const Request& req, Response& res) {
    const EmbeddingRequest r = parse_embedding_request(parse_body(req));
    auto model = pool_->get(r.model);
    std::vector<std::vector<int32_t>> inputs = r.token_inputs;
    const auto& sp = model->tok->spec();
    for (const auto& t : r.texts) {
      std::vector<int> ids = model->tok->encode(t, false, false);
      if (sp.add_bos && sp.bos_id >= 0) ids.insert(ids.begin(), sp.bos_id);
      inputs.emplace_back(ids.begin(), ids.end());
    }
    int total = 0;
    for (const auto& in : inputs) {
      for (int32_t id : in)
        if (id >= model->tok->n_vocab())
          throw bad_param("input", fmt::format("token id {} is outside the vocabulary (0..{})", id, model->tok->n_vocab() - 1));
      if (int64_t(in.size()) > model->n_ctx())
        throw ApiError(400, fmt::format("an input has {} tokens; the context holds {}", in.size(), model->n_ctx()),
                       "invalid_request_error", "input", "context_length_exceeded");
      total += int(in.size());
    }
    const int64_t E = model->model->hparams().n_embd;
    if (r.dimensions > E) throw bad_param("dimensions", fmt::format("'dimensions' must be at most {}", E));
    auto lease = model->acquire({}, {});
    json data = json::array();
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::vector<float> v = embed_on(*lease, inputs[i]);
      if (r.dimensions > 0) {  // shortened as OpenAI does: cut, then normalise again
        v.resize(size_t(r.dimensions));
        double n2 = 0;
        for (float x : v) n2 += double(x) * x;
        for (float& x : v) x = n2 > 0 ? float(x / std::sqrt(n2)) : 0.0f;
      }
      data.push_back({{"object", "embedding"}, {"index", i},
                      {"embedding", r.base64 ? json(base64_floats(v)) : json(v)}});
    }
    send_json(res, 200, {{"object", "list"}, {"data", data}, {"model", model->id},
                         {"usage", {{"prompt_tokens", total}, {"total_tokens", total}}}});
  }));

  // The web UI
  for (const auto& a : web_assets()) {
    auto serve = [&a](const Request&, Response& res) {
      res.set_header("Cache-Control", "no-cache");
      // Everything the page uses comes from this server: nothing from a CDN can load.
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(std::string(a.bytes), std::string(a.mime));
    };
    http_->Get(std::string(a.path), serve);
    if (a.path == "/index.html") http_->Get("/", serve);
  }
}

}  // namespace pj::server
