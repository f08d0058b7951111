#include "apps/eval/metrics.h"

#include <gtest/gtest.h>

using namespace pj::eval;

// Reference values: R. G. Newcombe, "Two-sided confidence intervals for the single proportion:
// comparison of seven methods", Statistics in Medicine 17 (1998), Table I, method 3 (Wilson score
// interval without continuity correction), printed to 4 decimals: hence the 5e-5 tolerance.
TEST(Metrics, WilsonMatchesNewcombe1998) {
  struct Case {
    int c, n;
    double lo, hi;
  } cases[] = {{81, 263, 0.2553, 0.3662}, {15, 148, 0.0624, 0.1605}, {0, 20, 0.0, 0.1611},
               {1, 29, 0.0061, 0.1718},   {29, 29, 0.8830, 1.0}};
  for (const auto& k : cases) {
    const Interval i = wilson_interval(k.c, k.n);
    EXPECT_NEAR(i.lo, k.lo, 5e-5) << k.c << "/" << k.n;
    EXPECT_NEAR(i.hi, k.hi, 5e-5) << k.c << "/" << k.n;
  }
}

TEST(Metrics, WilsonEdges) {
  const Interval none = wilson_interval(0, 0);
  EXPECT_EQ(none.lo, 0.0);
  EXPECT_EQ(none.hi, 1.0);
  const Interval half = wilson_interval(70, 140);
  EXPECT_NEAR(half.lo + half.hi, 1.0, 1e-12);  // symmetric around 0.5
  EXPECT_LT(half.lo, 0.5);
  EXPECT_GT(half.hi, 0.5);
}

// numpy.percentile (linear) values, computed by hand: sorted [1, 2, 3, 4, 10].
TEST(Metrics, QuantileIsNumpyLinear) {
  const std::vector<double> v = {10, 2, 4, 1, 3};
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(quantile(v, 0.95), 4.0 + 0.8 * 6.0);  // position 3.8
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 10.0);
  EXPECT_DOUBLE_EQ(quantile({1, 2}, 0.5), 1.5);
  EXPECT_DOUBLE_EQ(quantile({}, 0.5), 0.0);
  EXPECT_DOUBLE_EQ(mean(v), 4.0);
}

TEST(Metrics, PeakRssIsPlausible) {
  const int64_t rss = peak_rss_bytes();
  EXPECT_GT(rss, 1 << 20);
  EXPECT_LT(rss, int64_t(1) << 40);
}
