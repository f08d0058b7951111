// Shared helpers for the kernel tests: the ISAs this CPU can run and row generators.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/kernels/kernel_table.h"

namespace pj::test {

inline std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon})
    if (isa_available(i)) out.push_back(i);
  return out;
}

inline std::vector<float> normal_floats(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The weight types that have a dot product (every supported row of the scalar table with vec_dot).
inline std::vector<GgmlType> weight_types() {
  std::vector<GgmlType> out;
  for (const TypeTraits& t : kernel_table(Isa::Scalar).types)
    if (t.supported && t.vec_dot) out.push_back(t.type);
  return out;
}

}  // namespace pj::test
