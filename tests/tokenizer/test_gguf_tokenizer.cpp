// A GGUF that carries a fixture tokenizer (written with add_tokenizer_kv, read back with
// gguf_tokenizer_spec) must tokenize every golden vector exactly as the Hugging Face files do.
#include "models/tokenizer/gguf_tokenizer.h"
#include "models/tokenizer/hf_tokenizer.h"

#include "core/base/error.h"
#include "core/base/file.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace {

using nlohmann::json;

std::string fixture_dir(const std::string& name) { return std::string(PJ_SHARED_DIR) + "/fixtures/tokenizers/" + name; }

std::string temp_path(const std::string& tag) {
  return (::testing::TempDir().empty() ? std::string("/tmp/") : ::testing::TempDir()) + "pj_tok_" + tag + "_" +
         std::to_string(::getpid()) + ".gguf";
}

class GgufRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufRoundTrip, TokenizesLikeTheHfFiles) {
  const std::string name = GetParam();
  const pj::tok::Tokenizer hf = pj::tok::load_hf_tokenizer(fixture_dir(name));
  const std::string path = temp_path(name);
  pj::gguf::Writer w;
  w.add_kv("general.architecture", "llama");
  pj::tok::add_tokenizer_kv(w, hf.spec());
  w.write(path);
  const auto f = pj::gguf::File::open(path);
  std::remove(path.c_str());
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), hf.spec().kind == pj::tok::TokenizerKind::byte_bpe ? "gpt2" : "llama");
  const pj::tok::Tokenizer gg = pj::tok::load_gguf_tokenizer(f);

  EXPECT_EQ(gg.n_vocab(), hf.n_vocab());
  EXPECT_EQ(gg.spec().bos_id, hf.spec().bos_id);
  EXPECT_EQ(gg.spec().eos_id, hf.spec().eos_id);
  EXPECT_EQ(gg.spec().eot_id, hf.spec().eot_id);
  EXPECT_EQ(gg.spec().unk_id, hf.spec().unk_id);
  EXPECT_EQ(gg.spec().pad_id, hf.spec().pad_id);
  EXPECT_EQ(gg.spec().add_bos, hf.spec().add_bos);
  EXPECT_EQ(gg.spec().add_eos, hf.spec().add_eos);

  const json v = json::parse(pj::read_text_file(fixture_dir(name) + "/vectors.json"));
  for (const json& c : v["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<int>>();
    EXPECT_EQ(gg.encode(text, true), want) << "text: " << text;
    EXPECT_EQ(gg.encode(text, false), hf.encode(text, false)) << "text: " << text;
    EXPECT_EQ(gg.decode(want), c["decoded"].get<std::string>()) << "text: " << text;
  }
  const std::string rendered = v["chat"]["rendered"].get<std::string>();
  const auto golden = v["chat"]["ids"].get<std::vector<int>>();
  const std::vector<int> ids = gg.encode(rendered, true);
  if (hf.spec().kind == pj::tok::TokenizerKind::byte_bpe) {
    EXPECT_EQ(ids, golden);
  } else {
    // These SentencePiece fixtures' HF files do not declare <bos>/<s>, </s> as added tokens, so HF spells
    // them out in the rendered chat; a GGUF marks them control tokens, parsed with specials as llama.cpp
    // does (tests/python/test_tokenize_gguf_specials.py compares with llama.cpp). So: every control
    // token written in the text is its one id, and the ids decode back to the text.
    // (decode leaves control tokens out, as llama.cpp's detokenizer does without special rendering.)
    size_t controls = 0;
    std::string plain = rendered;
    for (size_t i = 0; i < gg.spec().types.size(); ++i) {
      if (gg.spec().types[i] != pj::tok::TokenType::control) continue;
      const std::string piece(gg.spec().tokens[i]);
      size_t written = 0;
      for (size_t at = rendered.find(piece); at != std::string::npos; at = rendered.find(piece, at + piece.size())) ++written;
      EXPECT_EQ(size_t(std::count(ids.begin(), ids.end(), int(i))), written) << piece;
      controls += written;
      for (size_t at = plain.find(piece); at != std::string::npos; at = plain.find(piece, at)) plain.erase(at, piece.size());
    }
    EXPECT_GE(controls, 1u);  // the fixture's chat does hold one (BOS)
    EXPECT_LT(ids.size(), golden.size());
    EXPECT_EQ(gg.decode(ids), plain);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufRoundTrip, ::testing::Values("qwen", "llama3", "gemma", "mistral"));

TEST(GgufTokenizer, RejectsBadMetadata) {
  auto load = [](pj::gguf::Writer& w) {
    const std::string path = temp_path("bad");
    w.write(path);
    const auto f = pj::gguf::File::open(path);
    std::remove(path.c_str());
    return pj::tok::gguf_tokenizer_spec(f);
  };
  auto expect_error = [&](pj::gguf::Writer& w, const std::string& fragment) {
    try {
      load(w);
      ADD_FAILURE() << "no error, expected one containing: " << fragment;
    } catch (const pj::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(".gguf"), std::string::npos) << "names the file: " << e.what();
    }
  };
  {
    pj::gguf::Writer w;
    w.add_kv("tokenizer.ggml.model", "bert");
    w.add_kv("tokenizer.ggml.tokens", pj::gguf::Array(std::vector<std::string>{"a"}));
    expect_error(w, "'bert' is not supported");
  }
  {
    pj::gguf::Writer w;
    w.add_kv("tokenizer.ggml.model", "gpt2");
    w.add_kv("tokenizer.ggml.tokens", pj::gguf::Array(std::vector<std::string>{"a", "b"}));
    w.add_kv("tokenizer.ggml.token_type", pj::gguf::Array(std::vector<int32_t>{1}));
    expect_error(w, "1 token types for 2 tokens");
  }
  {
    pj::gguf::Writer w;
    w.add_kv("tokenizer.ggml.model", "gpt2");
    w.add_kv("tokenizer.ggml.tokens", pj::gguf::Array(std::vector<std::string>{"a", "b"}));
    w.add_kv("tokenizer.ggml.merges", pj::gguf::Array(std::vector<std::string>{"a b"}));
    w.add_kv("tokenizer.ggml.pre", "no-such-pre");
    expect_error(w, "tokenizer.ggml.pre 'no-such-pre'");
  }
  {
    // A merge whose result is not a token: the Tokenizer refuses the spec.
    pj::gguf::Writer w;
    w.add_kv("tokenizer.ggml.model", "gpt2");
    w.add_kv("tokenizer.ggml.tokens", pj::gguf::Array(std::vector<std::string>{"a", "b"}));
    w.add_kv("tokenizer.ggml.merges", pj::gguf::Array(std::vector<std::string>{"a b"}));
    w.add_kv("tokenizer.ggml.pre", "gpt-2");
    const std::string path = temp_path("merge");
    w.write(path);
    const auto f = pj::gguf::File::open(path);
    std::remove(path.c_str());
    EXPECT_THROW(pj::tok::load_gguf_tokenizer(f), pj::Error);
  }
}

}  // namespace
