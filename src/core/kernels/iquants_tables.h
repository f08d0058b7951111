// Constant tables of the IQ types and MXFP4, generated into iquants_tables.cpp by
// iquants_tables_gen.py from gguf-py (which holds llama.cpp's ggml-common.h tables). Grid point i of
// an 8-element grid is the uint64 kIq*Grid[i], element j in byte j (little-endian); 4-element grids
// likewise in a uint32.
#pragma once

#include <cstdint>

namespace pj {

extern const uint64_t kIq2xxsGrid[256];  // elements in {8, 25, 43}
extern const uint64_t kIq2xsGrid[512];   // elements in {8, 25, 43}
extern const uint64_t kIq2sGrid[1024];   // elements in {8, 25, 43}
extern const uint32_t kIq3xxsGrid[256];  // elements in {4, 12, ..., 52, 62}
extern const uint32_t kIq3sGrid[512];    // elements in {1, 3, ..., 15}
extern const uint64_t kIq1sGrid[2048];   // elements in {-1, 0, 1} as int8 bytes
// 7 sign bits -> 8 sign bits with even parity (bit 7 makes the count of set bits even).
extern const uint8_t kKsignsIq2xs[128];
extern const int8_t kValuesIq4nl[16];  // ascending
extern const int8_t kValuesMxfp4[16];  // 2 x E2M1: codes 0-7 positive, 8-15 negative

}  // namespace pj
