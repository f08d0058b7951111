// Summary statistics for an evaluation: binomial confidence intervals for accuracy and order
// statistics for latencies.
#pragma once

#include <cstdint>
#include <vector>

namespace pj::eval {

struct Interval {
  double lo = 0, hi = 0;
};

// Wilson score interval for `correct` successes in `total` trials at normal quantile z (1.959964 for
// 95%): centre (p + z^2/2n) / (1 + z^2/n), half-width z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n).
// Source: E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
// JASA 22 (1927); it stays inside [0, 1] and is sensible at 0/n and n/n, unlike the normal
// approximation. total == 0 gives [0, 1].
Interval wilson_interval(int64_t correct, int64_t total, double z = 1.959963984540054);

// The q-quantile (0..1) with linear interpolation between closest ranks (numpy.percentile's default,
// Hyndman & Fan type 7). Empty input gives 0.
double quantile(std::vector<double> v, double q);

double mean(const std::vector<double>& v);

// Peak resident set size of this process in bytes (getrusage ru_maxrss).
int64_t peak_rss_bytes();

}  // namespace pj::eval
