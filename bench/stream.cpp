// STREAM-style memory bandwidth (after J. McCalpin's STREAM: copy c=a, scale b=s*c, add c=a+b,
// triad a=b+s*c), plus a read-only sum, which is what LLM token generation does to its weights.
// Own implementation, std::thread instead of OpenMP. Each thread first-touches and works on its own
// contiguous slice; every kernel runs --reps times and the best time is kept (STREAM's convention).
// Bytes counted as STREAM counts them: copy/scale 2 arrays, add/triad 3, read 1 (no write-allocate).
//
//   bench_stream [--mib 1024] [--threads 1] [--reps 10] [--json]
//
// --mib is the size of ONE array; STREAM's rule is >= 4x the last-level cache for a DRAM figure.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  size_t mib = 1024;
  int threads = 1;
  int reps = 10;
  bool json = false;
};

struct Arrays {
  double* a;
  double* b;
  double* c;
  size_t n;
};

// Runs fn(begin, end, thread_index) on `threads` slices of [0, n) and returns the wall time in seconds.
template <class Fn>
double timed_parallel(size_t n, int threads, Fn fn) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  size_t chunk = (n + size_t(threads) - 1) / size_t(threads);
  for (int t = 1; t < threads; ++t) {
    size_t b = std::min(n, chunk * size_t(t)), e = std::min(n, b + chunk);
    pool.emplace_back([=] { fn(b, e, t); });
  }
  fn(0, std::min(n, chunk), 0);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int usage() {
  std::fprintf(stderr, "usage: bench_stream [--mib N (one array, MiB)] [--threads T] [--reps R] [--json]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> long {
      if (i + 1 >= argc) { std::fprintf(stderr, "bench_stream: %s needs a value\n", a.c_str()); std::exit(2); }
      char* end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (!end || *end || v <= 0) { std::fprintf(stderr, "bench_stream: bad value for %s\n", a.c_str()); std::exit(2); }
      return v;
    };
    if (a == "--mib") o.mib = size_t(next());
    else if (a == "--threads" || a == "-t") o.threads = int(next());
    else if (a == "--reps" || a == "-r") o.reps = int(next());
    else if (a == "--json") o.json = true;
    else return usage();
  }
  if (o.mib > (size_t(1) << 20) || o.threads > 1024) return usage();
  const size_t n = o.mib * (size_t(1) << 20) / sizeof(double);
  const size_t bytes = n * sizeof(double);
  // 64-byte aligned, never initialised here: each thread first-touches its own slice (NUMA placement).
  auto alloc = [&] {
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) { std::fprintf(stderr, "bench_stream: cannot allocate %zu MiB\n", o.mib); std::exit(1); }
    return std::unique_ptr<double, decltype(&std::free)>(static_cast<double*>(p), &std::free);
  };
  auto pa = alloc(), pb = alloc(), pc = alloc();
  Arrays A{pa.get(), pb.get(), pc.get(), n};
  timed_parallel(n, o.threads, [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e; ++i) { A.a[i] = 1.0; A.b[i] = 2.0; A.c[i] = 0.0; }
  });
  const double s = 3.0;
  std::vector<double> partial(size_t(o.threads) * 8, 0.0);  // one cache line per thread
  struct Kernel {
    const char* name;
    double bytes_per_elem;
    double best = 1e30;
  };
  Kernel ks[] = {{"copy", 16}, {"scale", 16}, {"add", 24}, {"triad", 24}, {"read", 8}};
  for (int r = 0; r < o.reps; ++r) {
    ks[0].best = std::min(ks[0].best, timed_parallel(n, o.threads, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) A.c[i] = A.a[i];
    }));
    ks[1].best = std::min(ks[1].best, timed_parallel(n, o.threads, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) A.b[i] = s * A.c[i];
    }));
    ks[2].best = std::min(ks[2].best, timed_parallel(n, o.threads, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) A.c[i] = A.a[i] + A.b[i];
    }));
    ks[3].best = std::min(ks[3].best, timed_parallel(n, o.threads, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) A.a[i] = A.b[i] + s * A.c[i];
    }));
    ks[4].best = std::min(ks[4].best, timed_parallel(n, o.threads, [&](size_t b, size_t e, int t) {
      // four independent sums so the add latency does not bound the loop
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      size_t i = b;
      for (; i + 4 <= e; i += 4) { s0 += A.a[i]; s1 += A.a[i + 1]; s2 += A.a[i + 2]; s3 += A.a[i + 3]; }
      for (; i < e; ++i) s0 += A.a[i];
      partial[size_t(t) * 8] += s0 + s1 + s2 + s3;
    }));
  }
  // Check the arithmetic (STREAM's validation): after R rounds, a, b, c follow the same recurrence.
  double ea = 1.0, eb = 2.0, ec = 0.0;
  for (int r = 0; r < o.reps; ++r) { ec = ea; eb = s * ec; ec = ea + eb; ea = eb + s * ec; }
  bool ok = true;
  for (size_t i = 0; i < n; i += 4099) {
    if (A.a[i] != ea || A.b[i] != eb || A.c[i] != ec) { ok = false; break; }
  }
  double sink = 0;
  for (int t = 0; t < o.threads; ++t) sink += partial[size_t(t) * 8];
  if (!ok || sink == 0) { std::fprintf(stderr, "bench_stream: validation failed\n"); return 1; }
  if (o.json) {
    std::printf("{\"array_mib\": %zu, \"threads\": %d, \"reps\": %d", o.mib, o.threads, o.reps);
    for (auto& k : ks) std::printf(", \"%s_gbs\": %.3f", k.name, k.bytes_per_elem * double(n) / k.best / 1e9);
    std::printf("}\n");
  } else {
    std::printf("array %zu MiB x 3, %d thread(s), best of %d\n", o.mib, o.threads, o.reps);
    std::printf("%-6s %10s %10s\n", "kernel", "GB/s", "best s");
    for (auto& k : ks) std::printf("%-6s %10.2f %10.5f\n", k.name, k.bytes_per_elem * double(n) / k.best / 1e9, k.best);
  }
  return 0;
}
