// Hugging Face model folders: config.json (normalised across transformers 4 and 5 key styles),
// generation_config.json, tokenizer files and the safetensors weights. Everything is also kept as the
// parsed JSON (`raw`) so model code can read keys this layer does not normalise.
//
// Key styles normalised here (transformers 4 -> 5):
//   rope_theta + rope_scaling {type|rope_type, factor, ...}  ->  rope_parameters {rope_theta, rope_type, ...}
//   Gemma 3: rope_theta (global) + rope_local_base_freq      ->  rope_parameters {full_attention: {...},
//                                                                                  sliding_attention: {...}}
//   torch_dtype                                              ->  dtype
//   no layer_types (Gemma 2/3)                               ->  derived from the sliding window pattern
#pragma once

#include "core/hf/sentencepiece_model.h"
#include "core/safetensors/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pj::hf {

using json = nlohmann::json;

struct RopeParams {
  std::string type = "default";  // "default", "linear", "dynamic", "yarn", "longrope", "llama3"
  double theta = 10000.0;
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;  // 0 = not given
  json raw = json::object();  // every key as given (low_freq_factor, beta_fast, ...)
};

struct ModelConfig {
  json raw;
  std::vector<std::string> architectures;
  std::string model_type;
  std::string dtype;  // "bfloat16", "float16", "float32" or empty
  // Decoder hyper-parameters; 0 when the config has no such key (encoders, whisper, clip, ...).
  int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_hidden_layers = 0;
  int64_t num_attention_heads = 0, num_key_value_heads = 0, head_dim = 0, max_position_embeddings = 0;
  int64_t sliding_window = 0;  // 0 = none
  double norm_eps = 0;          // rms_norm_eps or layer_norm_eps
  bool tie_word_embeddings = false;
  std::vector<std::string> layer_types;  // per layer: "full_attention", "sliding_attention", ...
  // RoPE: one entry keyed "" for models with a single set of parameters, or one per layer type.
  std::map<std::string, RopeParams> rope;
  std::vector<int64_t> bos_token_ids, eos_token_ids;
  std::optional<int64_t> pad_token_id;
  // Nested configs of multi-part models (text_config, vision_config, ...), normalised the same way.
  std::map<std::string, ModelConfig> sub_configs;

  // The RoPE parameters for a layer type ("" or absent type -> the single set); nullptr if none.
  const RopeParams* rope_for(const std::string& layer_type = "") const;
};

// Normalises a parsed config.json. `name` prefixes error messages.
ModelConfig parse_config(const json& j, const std::string& name);

struct GenerationConfig {
  json raw;
  std::vector<int64_t> bos_token_ids, eos_token_ids;
  std::optional<int64_t> pad_token_id, decoder_start_token_id;
  std::optional<bool> do_sample;
  std::optional<double> temperature, top_p, repetition_penalty;
  std::optional<int64_t> top_k, max_new_tokens, max_length;
};

GenerationConfig parse_generation_config(const json& j, const std::string& name);

struct AddedToken {
  std::string content;
  bool special = false, lstrip = false, rstrip = false, normalized = false, single_word = false;
};

// The tokenizer files of a folder, parsed but not interpreted (the tokenizer component does that).
struct TokenizerFiles {
  json tokenizer_json;    // tokenizer.json, or null
  json tokenizer_config;  // tokenizer_config.json, or null
  std::optional<SpmModel> spm;  // tokenizer.model
  std::string chat_template;    // tokenizer_config "chat_template" (the "default" one if a list), or
                                // chat_template.jinja / chat_template.json as transformers 5 saves it
  std::string bos_token, eos_token, unk_token, pad_token;  // strings from tokenizer_config (may be empty)
  std::optional<bool> add_bos_token, add_eos_token;
  std::map<int64_t, AddedToken> added_tokens;  // tokenizer_config added_tokens_decoder + tokenizer.json added_tokens

  bool present() const { return !tokenizer_json.is_null() || spm.has_value() || !tokenizer_config.is_null(); }
  // "bpe" / "unigram" / "wordpiece" / "wordlevel" (tokenizer.json model.type, lower case), else
  // "sentencepiece-bpe" / "sentencepiece-unigram" (tokenizer.model), else "none".
  std::string kind() const;
  // Number of ids: the model vocabulary plus added tokens beyond it.
  int64_t vocab_size() const;
};

TokenizerFiles load_tokenizer_files(const std::string& folder);

struct Folder {
  std::string path;
  std::optional<ModelConfig> config;
  std::optional<GenerationConfig> generation;
  json preprocessor_config;  // preprocessor_config.json (image/audio models), or null
  TokenizerFiles tokenizer;
  std::optional<safetensors::Checkpoint> weights;  // model.safetensors or the sharded index
};

// Opens a model folder. Every file is optional, but the folder must hold at least a config, weights or
// tokenizer files; a file that exists but is malformed is a pj::Error naming it.
Folder open_folder(const std::string& path);

// Reads and parses a JSON file; pj::Error naming the file on failure.
json read_json_file(const std::string& path);

}  // namespace pj::hf
