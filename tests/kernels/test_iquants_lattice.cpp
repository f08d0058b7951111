// The lattice quantizers (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M): the search tables,
// round-trip error bands on Gaussian data, importance weights, and the refusal without them. Their
// bytes are judged by llama.cpp itself in tests/python/test_iquants_vs_gguf.py (ggml_quantize_chunk)
// and tests/python/test_quantize_vs_llamacpp.py (llama_model_quantize); real weights there too.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "core/base/error.h"
#include "core/kernels/context.h"
#include "core/kernels/iquants_lattice.h"
#include "kernel_test_util.h"

namespace pj {
namespace {

using T = GgmlType;

// Every grid point maps to its own index; every reachable off-grid key has a non-empty neighbour
// list of grid points, ordered by distance then index, spanning at most nwant distances, and
// including every grid point at the smallest distance.
TEST(IquantsLattice, TablesAreConsistent) {
  const std::map<Lattice, int> nwant = {{Lattice::Iq2xxs, 2}, {Lattice::Iq2xs, 2}, {Lattice::Iq2s, 1},
                                        {Lattice::Iq1s, 3},   {Lattice::Iq3xxs, 2}, {Lattice::Iq3s, 3}};
  const std::map<Lattice, int> grid_size = {{Lattice::Iq2xxs, 256}, {Lattice::Iq2xs, 512}, {Lattice::Iq2s, 1024},
                                            {Lattice::Iq1s, 2048},  {Lattice::Iq3xxs, 256}, {Lattice::Iq3s, 512}};
  for (const auto& [lat, want] : nwant) {
    const LatticeTables& t = lattice_tables(lat);
    SCOPED_TRACE(int(lat));
    ASSERT_EQ(t.grid_size, grid_size.at(lat));
    EXPECT_EQ(&t, &lattice_tables(lat));  // built once
    auto key_of = [&](const uint8_t* l) {
      uint32_t k = 0;
      for (int i = 0; i < t.dim; ++i) k |= uint32_t(l[i]) << (t.bits * i);
      return k;
    };
    auto dist2 = [&](uint32_t key, int g) {
      int d = 0;
      for (int i = 0; i < t.dim; ++i) {
        const int a = int(key >> (t.bits * i)) & ((1 << t.bits) - 1), b = t.point(g)[i];
        d += 4 * (a - b) * (a - b);
      }
      return d;
    };
    std::set<uint32_t> keys;
    for (int g = 0; g < t.grid_size; ++g) {
      const uint32_t k = key_of(t.point(g));
      EXPECT_EQ(t.map[k], g);
      keys.insert(k);
    }
    EXPECT_EQ(keys.size(), size_t(t.grid_size));  // distinct points
    const int max_level = t.bits == 2 ? 2 : 7;
    int checked = 0;
    for (uint32_t key = 0; key < t.map.size(); ++key) {
      bool reachable = true;
      for (int i = 0; i < t.dim; ++i) reachable = reachable && (int(key >> (t.bits * i)) & ((1 << t.bits) - 1)) <= max_level;
      if (!reachable || t.map[key] >= 0) continue;
      const uint16_t* nb = t.neighbours_of(key);
      ASSERT_GT(nb[0], 0);
      std::set<int> distances;
      for (int j = 1; j <= nb[0]; ++j) {
        distances.insert(dist2(key, nb[j]));
        if (j > 1) {
          const int a = dist2(key, nb[j - 1]), b = dist2(key, nb[j]);
          ASSERT_TRUE(a < b || (a == b && nb[j - 1] < nb[j]));
        }
      }
      EXPECT_LE(int(distances.size()), want);
      int nearest = 1 << 30, at_nearest = 0;
      for (int g = 0; g < t.grid_size; ++g) nearest = std::min(nearest, dist2(key, g));
      for (int g = 0; g < t.grid_size; ++g) at_nearest += dist2(key, g) == nearest;
      EXPECT_EQ(dist2(key, nb[1]), nearest);
      EXPECT_GE(nb[0], at_nearest);
      if (++checked > 300) break;  // the full scan of the grid per key is slow under ASan
    }
    EXPECT_GT(checked, 0);
  }
}

double rel_rmse(const std::vector<float>& a, const std::vector<float>& b, const float* w = nullptr, int64_t cols = 0) {
  double err = 0, sig = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double wi = w ? w[i % size_t(cols)] : 1.0;
    err += wi * double(a[i] - b[i]) * (a[i] - b[i]);
    sig += wi * double(a[i]) * a[i];
  }
  return std::sqrt(err / sig);
}

// Relative RMSE (rmse / rms) of quantize -> dequantize on N(0, 1) data, 64 rows of 1024, with unit
// importance weights (every type accepts them; the ones that need them refuse nullptr). Measured
// (same quantizer bytes as llama.cpp): IQ3_S 0.137, IQ3_XXS 0.182, IQ2_S 0.248, IQ2_XS 0.300,
// IQ2_XXS 0.344, IQ1_M 0.452, IQ1_S 0.487 - in the order of their bits per weight (3.44 .. 1.56) and
// near the rate-distortion bound of a Gaussian (2^-R: 0.09 at 3.44 bpw, 0.34 at 1.56) plus the cost
// of the scales. Bands are 0.85x .. 1.2x of these; a wrong grid index, sign or scale code lands far
// outside (rel. RMSE >= 1), a weaker search (e.g. no neighbour fallback) above the band.
const std::map<T, std::pair<double, double>> kBands = {
    {T::IQ3_S, {0.115, 0.165}}, {T::IQ3_XXS, {0.155, 0.22}}, {T::IQ2_S, {0.21, 0.30}},  {T::IQ2_XS, {0.255, 0.36}},
    {T::IQ2_XXS, {0.29, 0.41}}, {T::IQ1_M, {0.385, 0.54}},  {T::IQ1_S, {0.415, 0.585}},
};

TEST(IquantsLattice, RoundTripErrorWithinBand) {
  const KernelContext ctx(KernelContext::Options{.threads = 1, .isa = Isa::Scalar});
  const int64_t cols = 1024, rows = 64, n = cols * rows;
  const auto x = test::normal_floats(size_t(n), 31);
  const std::vector<float> ones(static_cast<size_t>(cols), 1.0f);
  for (const auto& [t, band] : kBands) {
    SCOPED_TRACE(ggml_type_info(t).name);
    const TypeTraits& tr = ctx.traits(t);
    ASSERT_TRUE(tr.quantize_rows);
    std::vector<uint8_t> q(ggml_row_size(t, uint64_t(n)));
    std::vector<float> back(static_cast<size_t>(n));
    EXPECT_EQ(tr.quantize_rows(x.data(), q.data(), rows, cols, ones.data()), q.size());
    ctx.dequantize_row(t, q.data(), back.data(), n);
    const double rel = rel_rmse(x, back);
    EXPECT_GE(rel, band.first);
    EXPECT_LE(rel, band.second);
  }
}

// Importance weights steer the error: columns 0..7 of every 32 weighted 100x lower the weighted
// error below that of uniform weights.
TEST(IquantsLattice, ImportanceWeightsLowerTheWeightedError) {
  const int64_t cols = 1024, rows = 16;
  const auto x = test::normal_floats(size_t(cols * rows), 41);
  std::vector<float> w(static_cast<size_t>(cols)), ones(static_cast<size_t>(cols), 1.0f);
  for (int64_t c = 0; c < cols; ++c) w[size_t(c)] = c % 32 < 8 ? 100.0f : 1.0f;
  const KernelTable& tab = kernel_table(Isa::Scalar);
  for (const auto& [t, band] : kBands) {
    SCOPED_TRACE(ggml_type_info(t).name);
    const TypeTraits& tr = tab.types[size_t(t)];
    std::vector<uint8_t> a(ggml_row_size(t, uint64_t(cols * rows))), b(a.size());
    tr.quantize_rows(x.data(), a.data(), rows, cols, ones.data());
    tr.quantize_rows(x.data(), b.data(), rows, cols, w.data());
    std::vector<float> da(x.size()), db(x.size());
    tr.to_float(a.data(), da.data(), cols * rows);
    tr.to_float(b.data(), db.data(), cols * rows);
    const double ea = rel_rmse(x, da, w.data(), cols), eb = rel_rmse(x, db, w.data(), cols);
    EXPECT_LT(eb, 0.95 * ea) << "uniform " << ea << " weighted " << eb;
  }
}

// All-zero data quantizes to zero; tiny and mixed-zero groups do not crash and decode finite.
TEST(IquantsLattice, ZeroAndTinyGroups) {
  const KernelTable& tab = kernel_table(Isa::Scalar);
  const int64_t n = 512;
  std::vector<float> x(static_cast<size_t>(n), 0.0f), ones(static_cast<size_t>(n), 1.0f);
  for (int64_t i = 300; i < n; ++i) x[size_t(i)] = i % 3 == 0 ? 1e-30f : float(i % 7) - 3.0f;
  for (const auto& [t, band] : kBands) {
    SCOPED_TRACE(ggml_type_info(t).name);
    const TypeTraits& tr = tab.types[size_t(t)];
    std::vector<uint8_t> q(ggml_row_size(t, uint64_t(n)));
    tr.quantize_rows(x.data(), q.data(), 1, n, ones.data());
    std::vector<float> back(static_cast<size_t>(n));
    tr.to_float(q.data(), back.data(), n);
    for (int64_t i = 0; i < 256; ++i) ASSERT_EQ(back[size_t(i)], 0.0f) << i;
    for (int64_t i = 256; i < n; ++i) ASSERT_TRUE(std::isfinite(back[size_t(i)])) << i;
  }
}

// llama.cpp asserts on a missing imatrix for these three; we throw an error that says what to do.
TEST(IquantsLattice, TypesThatNeedAnImatrixSaySo) {
  const KernelTable& tab = kernel_table(Isa::Scalar);
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> q(256);
  for (T t : {T::IQ2_XXS, T::IQ2_XS, T::IQ1_S}) {
    SCOPED_TRACE(ggml_type_info(t).name);
    try {
      tab.types[size_t(t)].quantize_rows(x.data(), q.data(), 1, 256, nullptr);
      ADD_FAILURE() << "quantized without importance weights";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(ggml_type_info(t).name), std::string::npos) << m;
      EXPECT_NE(m.find("llama-imatrix"), std::string::npos) << m;
    }
  }
  // the others fall back to weights from the values, as llama.cpp does
  for (T t : {T::IQ2_S, T::IQ3_XXS, T::IQ3_S, T::IQ1_M}) {
    std::vector<uint8_t> q2(ggml_row_size(t, 256));
    EXPECT_NO_THROW(tab.types[size_t(t)].quantize_rows(x.data(), q2.data(), 1, 256, nullptr)) << ggml_type_info(t).name;
  }
}

}  // namespace
}  // namespace pj
