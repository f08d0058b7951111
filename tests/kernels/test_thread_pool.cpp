#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <vector>

#include "core/kernels/thread_pool.h"

namespace pj {
namespace {

TEST(ThreadPool, EveryIndexExactlyOnceWithDistinctThreadIds) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 3, 4, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::vector<std::atomic<int>> by_thread(static_cast<size_t>(threads));
      pool.parallel_for(n, [&](int64_t b, int64_t e, int tid) {
        ASSERT_LE(0, b);
        ASSERT_LE(b, e);
        ASSERT_LE(e, n);
        ASSERT_LT(tid, threads);
        by_thread[size_t(tid)]++;
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)], 1) << "threads " << threads << " n " << n;
      // each thread id gets at most one chunk; all of them when there is enough work
      int used = 0;
      for (auto& c : by_thread) {
        EXPECT_LE(c, 1);
        used += c;
      }
      EXPECT_EQ(used, int(std::min<int64_t>(n, threads)));
    }
  }
}

TEST(ThreadPool, ManyBackToBackJobsAndSleepingWorkers) {
  ThreadPool pool(3);
  int64_t total = 0;
  for (int rep = 0; rep < 3000; ++rep) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(10, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum += i;
    });
    total += sum;
    if (rep % 1000 == 999) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // workers go to sleep
  }
  EXPECT_EQ(total, 3000 * 45);
}

TEST(ThreadPool, ExceptionsReachTheCallerAndThePoolStaysUsable) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(100, [](int64_t b, int64_t, int) {
                 if (b > 0) throw std::runtime_error("chunk failed");
               }),
               std::runtime_error);
  std::atomic<int> n{0};
  pool.parallel_for(100, [&](int64_t b, int64_t e, int) { n += int(e - b); });
  EXPECT_EQ(n, 100);
}

}  // namespace
}  // namespace pj
