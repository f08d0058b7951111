// A fixed pool of worker threads for data-parallel kernels. Owned by a KernelContext (no global
// pool). parallel_for may be called from one caller thread at a time; the caller runs the first
// chunk itself. Workers spin briefly after each job (so back-to-back matmuls of a forward pass
// dispatch in well under a microsecond) and then sleep on an atomic wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace pj {

class ThreadPool {
 public:
  // threads = total threads including the caller; 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Splits [0, n) into size() contiguous chunks (fewer when n is small) and calls
  // fn(begin, end, thread_id) for each, thread_id in [0, size()). Returns when all are done; an
  // exception thrown by fn is rethrown here (the first one, if several).
  template <typename Fn>
  void parallel_for(int64_t n, Fn&& fn) {
    if (n <= 0) return;
    auto call = [](void* ctx, int64_t b, int64_t e, int t) { (*static_cast<Fn*>(ctx))(b, e, t); };
    run(n, call, &fn);
  }

 private:
  using Trampoline = void (*)(void* ctx, int64_t begin, int64_t end, int thread_id);
  void run(int64_t n, Trampoline fn, void* ctx);
  void worker_main(int thread_id);
  void run_chunk(int thread_id);

  std::vector<std::thread> workers_;
  // The current job, published by bumping generation_ (release) and read by workers (acquire).
  Trampoline job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  int64_t job_n_ = 0;
  int job_chunks_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers still running the current job
  std::atomic<bool> stop_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace pj
