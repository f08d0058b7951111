// Counters for GET /metrics, in the Prometheus text format (version 0.0.4).
#pragma once

#include "apps/server/engine.h"
#include "apps/server/model_pool.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace pj::server {

class Metrics {
 public:
  void request(const std::string& path, int status);
  void generation(const GenResult& g);
  std::string render(const std::vector<ModelInfo>& models, int active_requests) const;

  std::atomic<int> active{0};
  std::atomic<uint64_t> cancelled{0};

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (endpoint, status)
  uint64_t prompt_tokens_ = 0, cached_tokens_ = 0, completion_tokens_ = 0, generations_ = 0;
  double prompt_seconds_ = 0, generate_seconds_ = 0;
  double last_tokens_per_second_ = 0;
};

// Resident set size of this process in bytes (/proc/self/statm), 0 if unknown.
uint64_t resident_bytes();

}  // namespace pj::server
