// Hugging Face folders: every fixture folder opens, config values are normalised the same way from
// transformers 5 keys (the fixtures) and transformers 4 keys (the same values rewritten the old way),
// and tokenizer files are exposed as the tokenizer engineer needs them.
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/hf/hf_folder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using pj::hf::json;

namespace {

const std::string kFixtures = std::string(PJ_SHARED_DIR) + "/fixtures";

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("pj_test_hf_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

}  // namespace

TEST(HfFolder, OpensEveryFixture) {
  for (const char* m : {"clip", "gemma2", "gemma3", "llama", "mistral", "qwen2", "qwen3", "vit", "whisper",
                        "tokenizers/gemma", "tokenizers/llama3", "tokenizers/mistral", "tokenizers/qwen"}) {
    SCOPED_TRACE(m);
    auto f = pj::hf::open_folder(kFixtures + "/" + m);
    bool tok_only = std::string(m).rfind("tokenizers/", 0) == 0;
    EXPECT_EQ(f.config.has_value(), !tok_only);
    EXPECT_EQ(f.weights.has_value(), !tok_only);
    if (tok_only) {
      EXPECT_EQ(f.tokenizer.vocab_size(), std::string(m).find("gemma") != std::string::npos ||
                                                  std::string(m).find("mistral") != std::string::npos
                                              ? 1024
                                              : 1029);
      EXPECT_FALSE(f.tokenizer.chat_template.empty());
    }
  }
}

TEST(HfFolder, LlamaConfig) {
  auto f = pj::hf::open_folder(kFixtures + "/llama");
  const auto& c = *f.config;
  EXPECT_EQ(c.architectures, std::vector<std::string>{"LlamaForCausalLM"});
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.dtype, "bfloat16");
  EXPECT_EQ(c.vocab_size, 1029);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.norm_eps, 1e-5);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_ids, std::vector<int64_t>{1024});
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{1028});
  EXPECT_FALSE(c.pad_token_id.has_value());
  const auto* r = c.rope_for();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->theta, 500000.0);
  EXPECT_EQ(r->type, "llama3");
  EXPECT_EQ(r->factor, 8.0);
  EXPECT_EQ(r->original_max_position_embeddings, 64);
  EXPECT_EQ(r->raw.at("low_freq_factor"), 1.0);
  EXPECT_EQ(r->raw.at("high_freq_factor"), 4.0);
  ASSERT_TRUE(f.generation.has_value());
  EXPECT_EQ(f.generation->eos_token_ids, std::vector<int64_t>{1028});
  // tokenizer.json (byte-level BPE) with 5 added special tokens
  EXPECT_EQ(f.tokenizer.kind(), "bpe");
  EXPECT_EQ(f.tokenizer.vocab_size(), 1029);
  EXPECT_EQ(f.tokenizer.bos_token, "<|begin_of_text|>");
  EXPECT_EQ(f.tokenizer.eos_token, "<|eot_id|>");
  ASSERT_EQ(f.tokenizer.added_tokens.size(), 5u);
  EXPECT_EQ(f.tokenizer.added_tokens.at(1028).content, "<|eot_id|>");
  EXPECT_TRUE(f.tokenizer.added_tokens.at(1028).special);
  EXPECT_NE(f.tokenizer.chat_template.find("<|start_header_id|>"), std::string::npos);
  // weights: 21 tensors, BF16
  ASSERT_TRUE(f.weights.has_value());
  EXPECT_EQ(f.weights->tensors().size(), 21u);
  EXPECT_EQ(f.weights->get("lm_head.weight").shape, (std::vector<int64_t>{1029, 256}));
}

TEST(HfFolder, Qwen3HeadDimTimesHeadsIsNotHidden) {
  auto c = *pj::hf::open_folder(kFixtures + "/qwen3").config;
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_for()->theta, 1e6);
  EXPECT_EQ(c.layer_types, (std::vector<std::string>{"full_attention", "full_attention"}));
  auto q2 = *pj::hf::open_folder(kFixtures + "/qwen2").config;
  EXPECT_EQ(q2.head_dim, 64);  // derived: 256 / 4
  EXPECT_EQ(q2.sliding_window, 0);
}

TEST(HfFolder, Gemma3PerLayerTypeRope) {
  auto f = pj::hf::open_folder(kFixtures + "/gemma3");
  const auto& c = *f.config;
  EXPECT_EQ(c.model_type, "gemma3_text");
  EXPECT_EQ(c.layer_types, (std::vector<std::string>{"sliding_attention", "full_attention"}));
  EXPECT_EQ(c.sliding_window, 16);
  EXPECT_EQ(c.rope.size(), 2u);
  EXPECT_EQ(c.rope_for("sliding_attention")->theta, 1e4);
  EXPECT_EQ(c.rope_for("full_attention")->theta, 1e6);
  EXPECT_EQ(c.rope_for(""), nullptr);
  EXPECT_EQ(f.tokenizer.kind(), "sentencepiece-bpe");
  EXPECT_EQ(f.tokenizer.bos_token, "<bos>");
  EXPECT_EQ(f.tokenizer.add_bos_token, true);
  EXPECT_EQ(f.tokenizer.vocab_size(), 1024);
}

TEST(HfFolder, Transformers4KeysNormaliseLikeTransformers5) {
  fs::path d = temp_dir("v4");
  // Gemma 3 as transformers 4 saved it: rope_theta (global), rope_local_base_freq, torch_dtype, no
  // layer_types, sliding_window_pattern 2.
  write(d / "config.json", R"({"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
    "torch_dtype": "bfloat16", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
    "num_key_value_heads": 2, "head_dim": 64, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
    "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "sliding_window": 16, "sliding_window_pattern": 2})");
  auto c = *pj::hf::open_folder(d.string()).config;
  EXPECT_EQ(c.dtype, "bfloat16");
  EXPECT_EQ(c.layer_types,
            (std::vector<std::string>{"sliding_attention", "full_attention", "sliding_attention", "full_attention"}));
  EXPECT_EQ(c.rope_for("full_attention")->theta, 1e6);
  EXPECT_EQ(c.rope_for("full_attention")->type, "linear");
  EXPECT_EQ(c.rope_for("full_attention")->factor, 8.0);
  EXPECT_EQ(c.rope_for("sliding_attention")->theta, 1e4);
  EXPECT_EQ(c.rope_for("sliding_attention")->type, "default");

  // Llama 3.1 style: rope_scaling with the old "type" key next to "rope_type"-less values.
  write(d / "config.json", R"({"model_type": "llama", "torch_dtype": "float16", "hidden_size": 256,
    "num_attention_heads": 4, "rope_theta": 500000.0, "rope_scaling": {"type": "llama3", "factor": 8.0,
    "original_max_position_embeddings": 64, "low_freq_factor": 1.0, "high_freq_factor": 4.0},
    "eos_token_id": [1, 2]})");
  auto l = *pj::hf::open_folder(d.string()).config;
  auto v5 = *pj::hf::open_folder(kFixtures + "/llama").config;
  EXPECT_EQ(l.dtype, "float16");
  EXPECT_EQ(l.rope_for()->theta, v5.rope_for()->theta);
  EXPECT_EQ(l.rope_for()->type, v5.rope_for()->type);
  EXPECT_EQ(l.rope_for()->factor, v5.rope_for()->factor);
  EXPECT_EQ(l.rope_for()->original_max_position_embeddings, v5.rope_for()->original_max_position_embeddings);
  EXPECT_EQ(l.num_key_value_heads, 4);  // defaults to the head count
  EXPECT_EQ(l.eos_token_ids, (std::vector<int64_t>{1, 2}));
  fs::remove_all(d);
}

TEST(HfFolder, NestedConfigs) {
  auto clip = *pj::hf::open_folder(kFixtures + "/clip").config;
  ASSERT_EQ(clip.sub_configs.count("text_config"), 1u);
  EXPECT_EQ(clip.sub_configs.at("text_config").vocab_size, 49408);
  EXPECT_EQ(clip.sub_configs.at("vision_config").hidden_size, 64);
  EXPECT_EQ(clip.sub_configs.at("vision_config").norm_eps, 1e-5);
  auto whisper = pj::hf::open_folder(kFixtures + "/whisper");
  EXPECT_EQ(whisper.generation->decoder_start_token_id, 50258);
  EXPECT_EQ(whisper.config->raw.at("d_model"), 64);
  EXPECT_FALSE(whisper.preprocessor_config.is_null());
}

TEST(HfFolder, TokenizerOnlyFolders) {
  auto m = pj::hf::open_folder(kFixtures + "/tokenizers/mistral");
  EXPECT_FALSE(m.config.has_value());
  ASSERT_TRUE(m.tokenizer.spm.has_value());
  EXPECT_EQ(m.tokenizer.kind(), "sentencepiece-bpe");
  EXPECT_EQ(m.tokenizer.bos_token, "<s>");
  EXPECT_EQ(m.tokenizer.eos_token, "</s>");
  auto q = pj::hf::open_folder(kFixtures + "/tokenizers/qwen");
  EXPECT_EQ(q.tokenizer.kind(), "bpe");
  EXPECT_EQ(q.tokenizer.bos_token, "");
  EXPECT_EQ(q.tokenizer.eos_token, "<|im_end|>");
  EXPECT_EQ(q.tokenizer.added_tokens.at(1025).content, "<|im_start|>");
}

TEST(HfFolder, MalformedFilesNameTheFile) {
  fs::path d = temp_dir("bad");
  auto error = [&]() -> std::string {
    try {
      pj::hf::open_folder(d.string());
    } catch (const pj::Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error().find("no config.json"), std::string::npos);
  write(d / "config.json", "{\"hidden_size\": 3");
  EXPECT_NE(error().find("config.json: not valid JSON"), std::string::npos);
  write(d / "config.json", R"({"hidden_size": "big"})");
  EXPECT_NE(error().find("\"hidden_size\" should be an integer"), std::string::npos);
  write(d / "config.json", R"({"num_hidden_layers": 2, "layer_types": ["full_attention"]})");
  EXPECT_NE(error().find("1 layer_types for 2 layers"), std::string::npos);
  write(d / "config.json", R"({"rope_parameters": {"full_attention": 5}})");
  EXPECT_NE(error().find("RoPE parameters should be an object"), std::string::npos);
  write(d / "config.json", "{}");
  write(d / "tokenizer_config.json", R"({"added_tokens_decoder": {"x1": {"content": "a"}}})");
  EXPECT_NE(error().find("'x1' is not a token id"), std::string::npos);
  write(d / "tokenizer_config.json", "{}");
  write(d / "tokenizer.model", "\x0a\x7f");
  EXPECT_NE(error().find("tokenizer.model"), std::string::npos);
  fs::remove(d / "tokenizer.model");
  write(d / "model.safetensors", "12345678");
  EXPECT_NE(error().find("model.safetensors"), std::string::npos);
  fs::remove_all(d);
}
