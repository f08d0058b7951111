// Lattice search tables (iquants_lattice.h).
#include "core/kernels/iquants_lattice.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "core/kernels/iquants_tables.h"

namespace pj {
namespace {

// Level of a grid element: the grids hold the decoded values, one per level (see iquants_tables.h).
int level_iq2(uint8_t v) { return v == 8 ? 0 : v == 25 ? 1 : 2; }      // {8, 25, 43}
int level_iq1(uint8_t v) { return int(int8_t(v)) + 1; }                // {-1, 0, 1}
int level_iq3xxs(uint8_t v) { return v == 62 ? 7 : (v - 4) / 8; }      // {4, 12, ..., 52, 62}
int level_iq3s(uint8_t v) { return (v - 1) / 2; }                      // {1, 3, ..., 15}

LatticeTables build(int dim, int bits, int grid_size, int nwant, const void* grid, int (*level)(uint8_t)) {
  LatticeTables t;
  t.dim = dim;
  t.bits = bits;
  t.grid_size = grid_size;
  t.levels.resize(size_t(grid_size) * size_t(dim));
  const auto* bytes = static_cast<const uint8_t*>(grid);  // little-endian uint64 / uint32 per point
  for (int i = 0; i < grid_size; ++i)
    for (int k = 0; k < dim; ++k) t.levels[size_t(i) * dim + k] = uint8_t(level(bytes[size_t(i) * dim + k]));

  const uint32_t n_keys = 1u << (bits * dim);
  t.map.assign(n_keys, -1);
  for (int i = 0; i < grid_size; ++i) {
    uint32_t key = 0;
    for (int k = 0; k < dim; ++k) key |= uint32_t(t.levels[size_t(i) * dim + k]) << (bits * k);
    t.map[key] = i;
  }
  // Only keys the quantizers can form need neighbours: IQ1/IQ2 clamp levels to [0, 2], IQ3 uses all 8.
  const int max_level = bits == 2 ? 2 : 7;
  std::vector<int> d2(static_cast<size_t>(grid_size));
  std::vector<std::pair<int, int>> near;  // (squared distance, grid index) of the neighbours
  for (uint32_t key = 0; key < n_keys; ++key) {
    if (t.map[key] >= 0) continue;
    int pos[8];
    bool reachable = true;
    for (int k = 0; k < dim; ++k) {
      const int l = int(key >> (bits * k)) & ((1 << bits) - 1);
      reachable = reachable && l <= max_level;
      pos[k] = 2 * l + 1;
    }
    if (!reachable) continue;
    // the nwant smallest distinct distances (ascending), then every point within the largest of them
    int smallest[3] = {1 << 30, 1 << 30, 1 << 30};
    for (int j = 0; j < grid_size; ++j) {
      int d = 0;
      for (int k = 0; k < dim; ++k) {
        const int e = 2 * t.levels[size_t(j) * dim + k] + 1 - pos[k];
        d += e * e;
      }
      d2[size_t(j)] = d;
      for (int m = 0; m < nwant; ++m) {
        if (d == smallest[m]) break;
        if (d < smallest[m]) {
          for (int r = nwant - 1; r > m; --r) smallest[r] = smallest[r - 1];
          smallest[m] = d;
          break;
        }
      }
    }
    int limit = smallest[0];
    for (int m = 1; m < nwant; ++m)
      if (smallest[m] != 1 << 30) limit = smallest[m];
    near.clear();
    for (int j = 0; j < grid_size; ++j)
      if (d2[size_t(j)] <= limit) near.emplace_back(d2[size_t(j)], j);
    std::sort(near.begin(), near.end());  // by distance, then index: the order of llama.cpp's qsort
    const size_t offset = t.neighbours.size();
    t.neighbours.push_back(uint16_t(near.size()));
    for (const auto& nj : near) t.neighbours.push_back(uint16_t(nj.second));
    t.map[key] = -int32_t(offset) - 1;
  }
  return t;
}

}  // namespace

int lattice_best_neighbour(const LatticeTables& t, uint32_t key, const float* xval, const float* weight, float scale,
                           int8_t* L) {
  const uint16_t* nb = t.neighbours_of(key);
  const int n = nb[0];
  assert(n > 0);
  float best_d2 = std::numeric_limits<float>::max();
  int best = nb[1];  // llama.cpp asserts one is found; only NaN/inf input can miss, then take the nearest
  for (int j = 1; j <= n; ++j) {
    const uint8_t* pg = t.point(nb[j]);
    float d2 = 0;
    for (int i = 0; i < t.dim; ++i) {
      const float q = float(2 * pg[i] + 1);
      const float diff = scale * q - xval[i];
      d2 += weight[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = nb[j];
    }
  }
  const uint8_t* pg = t.point(best);
  for (int i = 0; i < t.dim; ++i) L[i] = int8_t(pg[i]);
  return best;
}

const LatticeTables& lattice_tables(Lattice lattice) {
  // nwant (how many distinct distances make the neighbour list) per type, as llama.cpp's init.
  switch (lattice) {
    case Lattice::Iq2xxs: {
      static const LatticeTables t = build(8, 2, 256, 2, kIq2xxsGrid, level_iq2);
      return t;
    }
    case Lattice::Iq2xs: {
      static const LatticeTables t = build(8, 2, 512, 2, kIq2xsGrid, level_iq2);
      return t;
    }
    case Lattice::Iq2s: {
      static const LatticeTables t = build(8, 2, 1024, 1, kIq2sGrid, level_iq2);
      return t;
    }
    case Lattice::Iq1s: {
      static const LatticeTables t = build(8, 2, 2048, 3, kIq1sGrid, level_iq1);
      return t;
    }
    case Lattice::Iq3xxs: {
      static const LatticeTables t = build(4, 3, 256, 2, kIq3xxsGrid, level_iq3xxs);
      return t;
    }
    case Lattice::Iq3s: {
      static const LatticeTables t = build(4, 3, 512, 3, kIq3sGrid, level_iq3s);
      return t;
    }
  }
  assert(false && "unknown lattice");
  return lattice_tables(Lattice::Iq2xxs);
}

}  // namespace pj
