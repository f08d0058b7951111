// Bad tokenizer files give a pj::Error naming the file and the problem; random input (including
// malformed UTF-8) encodes and decodes back to itself (byte-level BPE and byte-fallback SentencePiece
// are lossless up to the U+FFFD that replaces malformed bytes).
#include "core/base/error.h"
#include "models/tokenizer/hf_tokenizer.h"
#include "models/tokenizer/unicode.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string fixture_dir(const std::string& name) { return std::string(PJ_SHARED_DIR) + "/fixtures/tokenizers/" + name; }

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("pj_tok_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path_ / name) << text; }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void expect_error(const std::string& dir, const std::string& fragment) {
  try {
    pj::tok::load_hf_tokenizer(dir);
    ADD_FAILURE() << "no error; expected one with: " << fragment;
  } catch (const pj::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir), std::string::npos) << "should name the file: " << msg;
  }
}

const char* kMinimal = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
  "pre_tokenizer": %s, "added_tokens": %s})";

std::string minimal(const std::string& pre, const std::string& added = "[]") {
  char buf[1024];
  std::snprintf(buf, sizeof buf, kMinimal, pre.c_str(), added.c_str());
  return buf;
}

TEST(LoadErrors, NameTheFileAndTheProblem) {
  { TempDir d; expect_error(d.str(), "neither tokenizer.json nor tokenizer.model"); }
  { TempDir d; d.write("tokenizer.json", "{\"model\": "); expect_error(d.str(), "invalid JSON"); }
  { TempDir d; d.write("tokenizer.json", "[1, 2]"); expect_error(d.str(), "expected a JSON object"); }
  {
    TempDir d;
    d.write("tokenizer.json", minimal(R"({"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"})"));
    expect_error(d.str(), "unsupported pre-tokenizer regex");
  }
  {
    TempDir d;
    d.write("tokenizer.json", minimal("null", R"([{"id": -1, "content": "<x>"}])"));
    expect_error(d.str(), "token id -1 out of range");
  }
  {
    TempDir d;
    d.write("tokenizer.json", minimal("null", R"([{"id": 7, "content": "<x>"}])"));
    expect_error(d.str(), "no token has id 3");
  }
  {
    TempDir d;
    d.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})");
    expect_error(d.str(), "merge 0 'a b' uses a token that is not in the vocabulary");
  }
  {
    TempDir d;
    d.write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
    expect_error(d.str(), "model type 'Unigram' is not supported");
  }
  {
    TempDir d;
    d.write("tokenizer.json", minimal("null"));
    d.write("tokenizer_config.json", R"({"bos_token": "<nope>"})");
    expect_error(d.str(), "bos_token '<nope>' is not in the vocabulary");
  }
  {
    TempDir d;
    d.write("tokenizer.model", std::string("\x0a\xff\xff\xff", 4));  // truncated protobuf
    EXPECT_THROW(pj::tok::load_hf_tokenizer(d.str()), pj::Error);
  }
}

TEST(LoadHf, PrefersTokenizerModelOverASentencePieceStyleTokenizerJson) {
  TempDir d;
  d.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": true},
    "decoder": {"type": "Sequence", "decoders": []}})");
  std::filesystem::copy_file(fixture_dir("mistral") + "/tokenizer.model", d.str() + "/tokenizer.model");
  const auto tok = pj::tok::load_hf_tokenizer(d.str());
  EXPECT_EQ(tok.spec().kind, pj::tok::TokenizerKind::spm_bpe);
  EXPECT_EQ(tok.n_vocab(), 1024);
}

TEST(Decode, RejectsIdsOutsideTheVocabulary) {
  const auto tok = pj::tok::load_hf_tokenizer(fixture_dir("qwen"));
  EXPECT_THROW(tok.decode({5, tok.n_vocab()}), pj::Error);
  EXPECT_THROW(tok.decode({-1}), pj::Error);
}

class RoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(RoundTrip, RandomBytesAndText) {
  const auto tok = pj::tok::load_hf_tokenizer(fixture_dir(GetParam()));
  std::mt19937 rng(1234);
  const std::vector<std::string> pieces = {"a", "Z", " ", "  ", "\n", "\r\n", "\t", "'s", "1", "42", "é", "你",
                                           "🦙", "\xC2\xA0", "<|im_start|>", "<start_of_turn>", ".", "\xFF",
                                           "\xE4\xBD", "\x80", "<0x41>", "[INST]"};
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 30);
    for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
    // U+2581 is left out: SentencePiece writes spaces as U+2581, so one in the input decodes as a
    // space (sentencepiece does the same). Leading spaces: SentencePiece's decoder drops the dummy-prefix space, which a text starting with
    // a space shares with one that does not; keep the check exact by starting with a letter.
    text = "x" + text;
    for (bool special : {false, true}) {
      const auto ids = tok.encode(text, special);
      EXPECT_EQ(tok.decode(ids), pj::tok::utf8_sanitize(text)) << GetParam() << " special=" << special;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RoundTrip, ::testing::Values("qwen", "llama3", "gemma", "mistral"));

}  // namespace
