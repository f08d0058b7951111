// The server's models: found by id among the -m paths and the models folder, loaded on first use,
// unloaded after the keep-alive. A loaded model has N slots (--parallel), each an LlmSession with its
// own KV cache and kernel context, since a session is single-threaded. Requests wait for a slot in a
// first-come, first-served queue per model.
#pragma once

#include "core/kernels/context.h"
#include "models/chat/template.h"
#include "models/llm/model.h"
#include "models/llm/session.h"
#include "models/tokenizer/tokenizer.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pj::server {

struct PoolOptions {
  std::vector<std::string> models;  // model paths (-m), listed first
  std::string models_dir;           // more models: *.gguf files and Hugging Face folders in it
  int parallel = 2;                 // slots per model
  int threads = 0;                  // kernel threads in all (0: all cores), split between slots
  int64_t ctx = 4096;               // KV cache positions per slot
  bool kv_f32 = false;
  double keep_alive_s = 300;        // unload after this long unused; < 0: never
};

struct ModelInfo {
  std::string id, path, format, arch, quant;  // format: "gguf" or "hf"
  uint64_t size_bytes = 0;
  bool loaded = false;
  int64_t n_ctx = 0;        // per slot, when loaded
  int busy_slots = 0, queued = 0;
};

class LoadedModel;

struct Slot {
  int index = 0;
  std::unique_ptr<KernelContext> kctx;
  std::unique_ptr<llm::LlmSession> session;
  std::vector<int32_t> history;  // the tokens whose keys and values the cache holds
  // Embeddings: while `capture` is set, each decode adds its final-norm hidden rows to hidden_sum.
  bool capture = false;
  std::vector<float> hidden_sum, norm_row;
};

// Holds a slot until destroyed; the model stays loaded while a lease exists.
class Lease {
 public:
  Lease(std::shared_ptr<LoadedModel> m, Slot* s) : model_(std::move(m)), slot_(s) {}
  Lease(Lease&& o) noexcept : model_(std::move(o.model_)), slot_(o.slot_) { o.slot_ = nullptr; }
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  Slot& slot() { return *slot_; }
  LoadedModel& model() { return *model_; }

 private:
  std::shared_ptr<LoadedModel> model_;
  Slot* slot_;
};

class LoadedModel : public std::enable_shared_from_this<LoadedModel> {
 public:
  LoadedModel(std::string id, std::string path, const PoolOptions& o);

  // Waits for a free slot, first come first served, preferring the slot whose cache shares the
  // longest prefix with `prompt`. `still_wanted` is asked about once a second while waiting; when it
  // returns false the wait is abandoned and the lease is empty (nullopt).
  std::optional<Lease> acquire(const std::vector<int32_t>& prompt, const std::function<bool()>& still_wanted);

  int queued() const;
  int busy() const;
  int64_t n_ctx() const { return slots_.front()->session->n_ctx(); }
  std::chrono::steady_clock::time_point last_used() const;

  const std::string id, path;
  std::unique_ptr<llm::LlmModel> model;
  std::unique_ptr<tok::Tokenizer> tok;
  std::unique_ptr<chat::Template> tmpl;  // null: the model has none
  bool template_renders_tools = false;
  std::vector<std::string> token_text;   // raw bytes of each id (for constrained decoding)
  std::vector<uint8_t> token_plain;      // 1: an ordinary token with some text
  std::vector<int32_t> eog;              // ids that end generation

 private:
  friend class Lease;
  void release(Slot* s);

  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<bool> busy_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<uint64_t> waiters_;
  uint64_t next_waiter_ = 0;
  std::chrono::steady_clock::time_point last_used_;
};

class ModelPool {
 public:
  explicit ModelPool(PoolOptions o);

  std::vector<ModelInfo> list();
  // The model named `id` ("" = the first one), loaded if it is not; ApiError 404 if there is none.
  std::shared_ptr<LoadedModel> get(const std::string& id);
  // Unloads models unused for longer than the keep-alive (leased ones stay). Returns how many.
  int unload_idle();
  const PoolOptions& options() const { return opts_; }

 private:
  struct Entry {
    std::string id, path, format;
  };
  std::vector<Entry> scan();

  PoolOptions opts_;
  std::mutex mu_;       // guards loaded_ and info_cache_
  std::mutex load_mu_;  // one load at a time (loading is memory- and CPU-heavy)
  std::map<std::string, std::shared_ptr<LoadedModel>> loaded_;
  std::map<std::string, ModelInfo> info_cache_;  // by path
};

// "300", "30s", "5m", "1h", "-1" (never) -> seconds; pj::Error if malformed.
double parse_duration(const std::string& s);

}  // namespace pj::server
