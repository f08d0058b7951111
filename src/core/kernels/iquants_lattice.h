// Search tables of the lattice quantizers (IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S/IQ1_M, IQ3_XXS, IQ3_S):
// for every point of the integer cube the quantizers can land on, either its index in the type's grid
// or the list of grid points nearest to it. The construction is llama.cpp's iq2xs_init_impl /
// iq3xs_init_impl (ggml/src/ggml-quants.c) re-derived from our grids (iquants_tables.h): a point is
// a "key" of dim levels l in [0, 2^bits) packed bits apart; level l stands for the odd integer 2l + 1
// (the coordinates llama.cpp searches in). The neighbours of an off-grid key are the grid points at
// the `nwant` smallest distinct squared distances, ordered by (distance, index) — the order matters
// because the quantizers keep the first of equally good candidates.
// Built once per process per lattice on first use (function-local static: thread-safe, immutable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace pj {

enum class Lattice { Iq2xxs, Iq2xs, Iq2s, Iq1s, Iq3xxs, Iq3s };

struct LatticeTables {
  int dim = 0;   // elements per grid point: 8 (IQ1, IQ2) or 4 (IQ3)
  int bits = 0;  // bits per element in a key: 2 or 3
  int grid_size = 0;
  std::vector<uint8_t> levels;  // grid_size x dim: the level of each element of each grid point
  // key -> grid index (>= 0), or -(offset + 1): neighbours[offset] is the count n, then n indices.
  std::vector<int32_t> map;
  std::vector<uint16_t> neighbours;

  const uint8_t* point(int index) const { return levels.data() + size_t(index) * size_t(dim); }
  // The neighbour list of an off-grid key (map[key] < 0): count, then indices.
  const uint16_t* neighbours_of(uint32_t key) const { return neighbours.data() + (-map[key] - 1); }
};

const LatticeTables& lattice_tables(Lattice lattice);

// ggml's nearest_int: round to nearest, ties to even, for |v| <= 2^22 (adds 1.5 * 2^23 and reads the
// low mantissa bits).
inline int lattice_nearest_int(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

// The grid point among the neighbours of the off-grid `key` that minimises sum w (scale q - x)^2 over
// its dim elements (q = 2 l + 1; the first of equal ones wins); writes its levels to L, returns its
// index (llama.cpp's iq2_find_best_neighbour / iq3_find_best_neighbour).
int lattice_best_neighbour(const LatticeTables& t, uint32_t key, const float* xval, const float* weight, float scale,
                           int8_t* L);

// nrow rows of n_per_row values, super-block by super-block: Q(x, importance weights of those 256
// columns or nullptr, block). Returns the bytes written (the lattice quantizers' quantize_rows).
template <class Block, void (*Q)(const float*, const float*, Block&)>
size_t quantize_super_blocks(const float* src, void* dst, int64_t nrow, int64_t n_per_row, const float* imatrix) {
  constexpr int64_t kQK = 256;
  auto* y = static_cast<Block*>(dst);
  const int64_t nb = n_per_row / kQK;
  for (int64_t r = 0; r < nrow; ++r)
    for (int64_t b = 0; b < nb; ++b) Q(src + r * n_per_row + b * kQK, imatrix ? imatrix + b * kQK : nullptr, y[r * nb + b]);
  return size_t(nrow * nb) * sizeof(Block);
}

}  // namespace pj
