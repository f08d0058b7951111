#include "apps/server/metrics.h"

#include <fmt/format.h>

#include <cstdio>
#include <unistd.h>

namespace pj::server {

namespace {

// Known endpoints keep their name; anything else is "other", so that labels stay few.
std::string endpoint_label(const std::string& path) {
  for (const char* p : {"/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings"})
    if (path == p) return p;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  if (path.rfind("/v1/", 0) == 0) return "other";
  return "ui";
}

// Label values escape backslash, quote and newline (the text format's rules).
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

uint64_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * uint64_t(sysconf(_SC_PAGESIZE)) : 0;
}

void Metrics::request(const std::string& path, int status) {
  std::lock_guard lk(mu_);
  ++requests_[{endpoint_label(path), status}];
}

void Metrics::generation(const GenResult& g) {
  std::lock_guard lk(mu_);
  ++generations_;
  prompt_tokens_ += uint64_t(g.n_prompt);
  cached_tokens_ += uint64_t(g.n_cached);
  completion_tokens_ += uint64_t(g.n_generated);
  prompt_seconds_ += g.prompt_seconds;
  generate_seconds_ += g.generate_seconds;
  if (g.generate_seconds > 0) last_tokens_per_second_ = g.n_generated / g.generate_seconds;
}

std::string Metrics::render(const std::vector<ModelInfo>& models, int active_requests) const {
  std::lock_guard lk(mu_);
  std::string s;
  auto head = [&](const char* name, const char* type, const char* help) {
    s += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  head("pajamas_requests_total", "counter", "HTTP requests by endpoint and status.");
  for (const auto& [k, n] : requests_)
    s += fmt::format("pajamas_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", k.first, k.second, n);
  head("pajamas_requests_active", "gauge", "Requests being served now.");
  s += fmt::format("pajamas_requests_active {}\n", active_requests);
  head("pajamas_generations_total", "counter", "Completed or cancelled generations.");
  s += fmt::format("pajamas_generations_total {}\n", generations_);
  head("pajamas_generations_cancelled_total", "counter", "Generations stopped because the client went away.");
  s += fmt::format("pajamas_generations_cancelled_total {}\n", cancelled.load());
  head("pajamas_prompt_tokens_total", "counter", "Prompt tokens received.");
  s += fmt::format("pajamas_prompt_tokens_total {}\n", prompt_tokens_);
  head("pajamas_prompt_tokens_cached_total", "counter", "Prompt tokens reused from a slot's KV cache.");
  s += fmt::format("pajamas_prompt_tokens_cached_total {}\n", cached_tokens_);
  head("pajamas_completion_tokens_total", "counter", "Tokens generated.");
  s += fmt::format("pajamas_completion_tokens_total {}\n", completion_tokens_);
  head("pajamas_prompt_seconds_total", "counter", "Seconds spent on prompts.");
  s += fmt::format("pajamas_prompt_seconds_total {:.6f}\n", prompt_seconds_);
  head("pajamas_generation_seconds_total", "counter", "Seconds spent generating.");
  s += fmt::format("pajamas_generation_seconds_total {:.6f}\n", generate_seconds_);
  head("pajamas_tokens_per_second", "gauge", "Generation speed of the last finished request.");
  s += fmt::format("pajamas_tokens_per_second {:.3f}\n", last_tokens_per_second_);
  head("pajamas_queue_length", "gauge", "Requests waiting for a slot, per model.");
  for (const auto& m : models)
    if (m.loaded) s += fmt::format("pajamas_queue_length{{model=\"{}\"}} {}\n", label(m.id), m.queued);
  head("pajamas_slots_busy", "gauge", "Slots generating now, per model.");
  for (const auto& m : models)
    if (m.loaded) s += fmt::format("pajamas_slots_busy{{model=\"{}\"}} {}\n", label(m.id), m.busy_slots);
  head("pajamas_models_loaded", "gauge", "Models in memory.");
  int loaded = 0;
  for (const auto& m : models) loaded += m.loaded;
  s += fmt::format("pajamas_models_loaded {}\n", loaded);
  head("process_resident_memory_bytes", "gauge", "Resident memory of the server.");
  s += fmt::format("process_resident_memory_bytes {}\n", resident_bytes());
  return s;
}

}  // namespace pj::server
