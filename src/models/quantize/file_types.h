// Quantization file types ("mixes") and llama.cpp's per-tensor type rules.
// A file type names a default tensor type plus rules that give some tensors more bits (output and
// token embeddings, attn_v and ffn_down by layer position, GQA and expert counts). The ids are
// llama.cpp's `enum llama_ftype` values (include/llama.h), written to general.file_type; the rules are
// learned from llama_tensor_get_type in llama.cpp's src/llama-quant.cpp (version shipped with
// llama-cpp-python 0.3.36). IQ/TQ mixes are in the table already: they work once the kernel table has
// quantizers for their types.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/ggml_types.h"

namespace pj::quantize {

enum class FileType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9, Q2_K = 10, Q3_K_S = 11,
  Q3_K_M = 12, Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15, Q5_K_S = 16, Q5_K_M = 17, Q6_K = 18,
  IQ2_XXS = 19, IQ2_XS = 20, Q2_K_S = 21, IQ3_XS = 22, IQ3_XXS = 23, IQ1_S = 24, IQ4_NL = 25,
  IQ3_S = 26, IQ3_M = 27, IQ2_S = 28, IQ2_M = 29, IQ4_XS = 30, IQ1_M = 31, BF16 = 32, TQ1_0 = 36,
  TQ2_0 = 37,
};

struct FileTypeInfo {
  FileType id;
  std::string_view name;     // as llama-quantize spells it
  GgmlType default_type;     // the type of every quantizable tensor before the rules
  std::string_view summary;  // one line for --help / the error on an unknown name
};

const std::vector<FileTypeInfo>& file_types();
// nullptr for an unknown name (case-insensitive).
const FileTypeInfo* find_file_type(std::string_view name);
const FileTypeInfo& file_type_info(FileType id);

// What the rules need to know about the model (read from its GGUF keys).
struct ModelInfo {
  std::string arch;    // general.architecture
  int n_layer = 0;     // <arch>.block_count
  int n_head = 0;      // <arch>.attention.head_count (layer 0 when per layer)
  int n_head_kv = 0;   // <arch>.attention.head_count_kv (defaults to n_head)
  int n_expert = 0;    // <arch>.expert_count
  int n_gqa() const { return n_head_kv > 0 ? n_head / n_head_kv : 0; }
};

struct Options {
  FileType ftype = FileType::Q8_0;
  std::optional<GgmlType> output_tensor_type;     // --output-tensor-type
  std::optional<GgmlType> token_embedding_type;   // --token-embedding-type
  std::vector<std::pair<std::string, GgmlType>> tensor_types;  // --tensor-type PATTERN=TYPE (regex search)
  bool pure = false;                // --pure: every quantizable tensor gets the default type
  bool quantize_output = true;      // false: --leave-output-tensor
  bool has_imatrix = false;
};

// Chooses each tensor's type. Stateful like llama.cpp's quantize_state: attn_v / ffn_* counters
// advance as tensors are visited, so choose() must be called once per tensor in llama.cpp's order
// (sorted by layer number, then name: see tensor_order()).
class TypeChooser {
 public:
  // `names`: every tensor name of the model (for the attn_v count and tied-embedding detection).
  TypeChooser(ModelInfo model, Options opts, const std::vector<std::string>& names);

  // The type of tensor `name` of shape ne (ne[0] = row length) currently of type `cur`.
  GgmlType choose(const std::string& name, GgmlType cur, const std::vector<uint64_t>& ne);
  // Whether llama.cpp refuses to quantize this tensor to `type` without an importance matrix.
  bool requires_imatrix(const std::string& name, GgmlType type) const;
  // Tensors whose row length forced a fallback type so far.
  int n_fallback() const { return n_fallback_; }
  // Warnings produced by choose() (fallbacks, manual overrides), for the caller to print.
  std::vector<std::string> take_warnings() { return std::exchange(warnings_, {}); }

 private:
  enum class Category { TokenEmbd, AttnQ, AttnV, AttnK, AttnQkv, AttnKvB, AttnOutput, FfnUp, FfnGate, FfnDown, Output, Other };
  static Category category(const std::string& name);
  bool allows_quantization(const std::string& name, const std::vector<uint64_t>& ne) const;
  GgmlType mix_rules(GgmlType t, const std::string& name, const std::vector<uint64_t>& ne, Category cat);
  GgmlType fallback(const std::string& name, GgmlType t, uint64_t ncols);
  std::pair<int, int> layer_info(int i, int n, const std::string& name) const;

  ModelInfo model_;
  Options opts_;
  std::vector<std::pair<std::regex, GgmlType>> patterns_;
  bool tied_embeddings_ = true;
  int n_attention_wv_ = 0, i_attention_wv_ = 0;
  int i_ffn_down_ = 0, i_ffn_gate_ = 0, i_ffn_up_ = 0;
  int n_fallback_ = 0;
  std::vector<std::string> warnings_;
};

// llama.cpp's processing (and output) order of tensor names: by the layer number of "blk.N."
// (-1 for none), then by name.
std::vector<std::string> tensor_order(std::vector<std::string> names);

}  // namespace pj::quantize
