// The ggml tensor type ids that GGUF files use, with their block geometry. Ids and sizes are
// transcribed from ggml's `enum ggml_type` and `ggml_type_traits` (ggml/include/ggml.h and
// ggml/src/ggml.c in llama.cpp) and checked against gguf-py 0.19.0's GGMLQuantizationType and
// GGML_QUANT_SIZES (gguf/constants.py; tests/python/test_gguf_interop.py checks every row); ids of
// removed types are kept as known-but-unsupported so that their files get a precise error.
// One deliberate difference: Q8_1 is 36 bytes per block here, as in ggml (block_q8_1 = two fp16 + 32
// int8; static_assert in ggml-common.h), while gguf-py 0.19.0 still lists 40 (the old two-float
// layout). Q8_1 is an activation type that converters never store, so files do not depend on it.
// This table is data only: kernels attach their functions in core/kernels by the same id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pj {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, /* 4, 5: Q4_2, Q4_3 removed */ Q5_0 = 6, Q5_1 = 7, Q8_0 = 8,
  Q8_1 = 9, Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, IQ2_XXS = 16,
  IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23, I8 = 24,
  I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  /* 31-33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8 removed (repacking is done at load time now) */
  TQ1_0 = 34, TQ2_0 = 35,
  /* 36-38: IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8 removed */
  MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;  // as llama.cpp prints it
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
  bool quantized;
};

inline constexpr GgmlTypeInfo kGgmlTypes[] = {
    {GgmlType::F32, "F32", 1, 4, false},          {GgmlType::F16, "F16", 1, 2, false},
    {GgmlType::Q4_0, "Q4_0", 32, 18, true},       {GgmlType::Q4_1, "Q4_1", 32, 20, true},
    {GgmlType::Q5_0, "Q5_0", 32, 22, true},       {GgmlType::Q5_1, "Q5_1", 32, 24, true},
    {GgmlType::Q8_0, "Q8_0", 32, 34, true},       {GgmlType::Q8_1, "Q8_1", 32, 36, true},
    {GgmlType::Q2_K, "Q2_K", 256, 84, true},      {GgmlType::Q3_K, "Q3_K", 256, 110, true},
    {GgmlType::Q4_K, "Q4_K", 256, 144, true},     {GgmlType::Q5_K, "Q5_K", 256, 176, true},
    {GgmlType::Q6_K, "Q6_K", 256, 210, true},     {GgmlType::Q8_K, "Q8_K", 256, 292, true},
    {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66, true}, {GgmlType::IQ2_XS, "IQ2_XS", 256, 74, true},
    {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98, true}, {GgmlType::IQ1_S, "IQ1_S", 256, 50, true},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18, true},   {GgmlType::IQ3_S, "IQ3_S", 256, 110, true},
    {GgmlType::IQ2_S, "IQ2_S", 256, 82, true},    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136, true},
    {GgmlType::I8, "I8", 1, 1, false},            {GgmlType::I16, "I16", 1, 2, false},
    {GgmlType::I32, "I32", 1, 4, false},          {GgmlType::I64, "I64", 1, 8, false},
    {GgmlType::F64, "F64", 1, 8, false},          {GgmlType::IQ1_M, "IQ1_M", 256, 56, true},
    {GgmlType::BF16, "BF16", 1, 2, false},        {GgmlType::TQ1_0, "TQ1_0", 256, 54, true},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66, true},    {GgmlType::MXFP4, "MXFP4", 32, 17, true},
    {GgmlType::NVFP4, "NVFP4", 64, 36, true},     {GgmlType::Q1_0, "Q1_0", 128, 18, true},
};

// nullptr for ids that are not (or no longer) ggml types.
inline const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const auto& t : kGgmlTypes)
    if (static_cast<uint32_t>(t.type) == id) return &t;
  return nullptr;
}
inline const GgmlTypeInfo& ggml_type_info(GgmlType t) { return *ggml_type_info(static_cast<uint32_t>(t)); }

// Name of a removed type id, for error messages ("Q4_0_4_4 (id 31) was removed from ggml ...").
inline std::string_view ggml_removed_type_name(uint32_t id) {
  switch (id) {
    case 4: return "Q4_2";
    case 5: return "Q4_3";
    case 31: return "Q4_0_4_4";
    case 32: return "Q4_0_4_8";
    case 33: return "Q4_0_8_8";
    case 36: return "IQ4_NL_4_4";
    case 37: return "IQ4_NL_4_8";
    case 38: return "IQ4_NL_8_8";
    default: return {};
  }
}

inline std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  for (const auto& t : kGgmlTypes)
    if (t.name == name) return t.type;
  return std::nullopt;
}

// Bytes of one row of `n` elements; requires n % block_size == 0 (callers check and report).
inline size_t ggml_row_size(GgmlType t, uint64_t n) {
  const auto& i = ggml_type_info(t);
  return static_cast<size_t>(n / i.block_size) * i.type_size;
}

}  // namespace pj
