// tokenizer.model parsing, judged against values printed by Python's sentencepiece 0.2.1
// (sentencepiece_model_pb2.ModelProto().ParseFromString on the same files); the full piece lists are
// compared in tests/python/test_safetensors_interop.py.
#include "core/base/error.h"
#include "core/base/file.h"
#include "core/hf/sentencepiece_model.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using pj::hf::SpmModel;
using pj::hf::SpmPieceType;

namespace {

const std::string kFixtures = std::string(PJ_SHARED_DIR) + "/fixtures";

void expect_piece(const SpmModel& m, size_t i, const std::string& piece, float score, SpmPieceType type) {
  ASSERT_LT(i, m.pieces.size());
  EXPECT_EQ(m.pieces[i].piece, piece) << "piece " << i;
  EXPECT_EQ(m.pieces[i].score, score) << "piece " << i;  // exact: the float is stored verbatim
  EXPECT_EQ(m.pieces[i].type, type) << "piece " << i;
}

}  // namespace

TEST(SentencePieceModel, Gemma) {
  SpmModel m = pj::hf::load_spm_model(kFixtures + "/tokenizers/gemma/tokenizer.model");
  EXPECT_EQ(m.pieces.size(), 1024u);
  EXPECT_EQ(m.model_type, 2);
  EXPECT_TRUE(m.byte_fallback);
  EXPECT_TRUE(m.split_digits);
  EXPECT_FALSE(m.treat_whitespace_as_suffix);
  EXPECT_EQ(m.unk_id, 3);
  EXPECT_EQ(m.bos_id, 2);
  EXPECT_EQ(m.eos_id, 1);
  EXPECT_EQ(m.pad_id, 0);
  EXPECT_EQ(m.normalizer_name, "identity");
  EXPECT_FALSE(m.add_dummy_prefix);
  EXPECT_FALSE(m.remove_extra_whitespaces);
  EXPECT_TRUE(m.escape_whitespaces);
  EXPECT_TRUE(m.precompiled_charsmap.empty());
  expect_piece(m, 0, "<pad>", 0, SpmPieceType::control);
  expect_piece(m, 1, "<eos>", 0, SpmPieceType::control);
  expect_piece(m, 3, "<unk>", 0, SpmPieceType::unknown);
  expect_piece(m, 4, "<start_of_turn>", 0, SpmPieceType::user_defined);
  expect_piece(m, 100, "<0x5E>", 0, SpmPieceType::byte);
  expect_piece(m, 300, "\xE2\x96\x81l", -38, SpmPieceType::normal);  // "▁l"
  expect_piece(m, 500, "ated", -238, SpmPieceType::normal);
  expect_piece(m, 1023, "Q", -761, SpmPieceType::normal);
}

TEST(SentencePieceModel, Mistral) {
  SpmModel m = pj::hf::load_spm_model(kFixtures + "/tokenizers/mistral/tokenizer.model");
  EXPECT_EQ(m.pieces.size(), 1024u);
  EXPECT_EQ(m.model_type, 2);
  EXPECT_TRUE(m.byte_fallback);
  EXPECT_EQ(m.unk_id, 0);
  EXPECT_EQ(m.bos_id, 1);
  EXPECT_EQ(m.eos_id, 2);
  EXPECT_EQ(m.pad_id, -1);  // stored as a 10-byte varint
  EXPECT_TRUE(m.add_dummy_prefix);
  EXPECT_FALSE(m.remove_extra_whitespaces);
  expect_piece(m, 0, "<unk>", 0, SpmPieceType::unknown);
  expect_piece(m, 2, "</s>", 0, SpmPieceType::control);
  expect_piece(m, 3, "<0x00>", 0, SpmPieceType::byte);
  expect_piece(m, 100, "<0x61>", 0, SpmPieceType::byte);
  expect_piece(m, 300, "ro", -41, SpmPieceType::normal);
  expect_piece(m, 500, "orm", -241, SpmPieceType::normal);
  expect_piece(m, 1023, "Q", -764, SpmPieceType::normal);
}

TEST(SentencePieceModel, LlmFoldersCarryTheSameModel) {
  SpmModel a = pj::hf::load_spm_model(kFixtures + "/gemma3/tokenizer.model");
  SpmModel b = pj::hf::load_spm_model(kFixtures + "/tokenizers/gemma/tokenizer.model");
  ASSERT_EQ(a.pieces.size(), b.pieces.size());
  for (size_t i = 0; i < a.pieces.size(); ++i) EXPECT_EQ(a.pieces[i].piece, b.pieces[i].piece);
}

// Every proper prefix of a real file is either a valid (shorter) model or a pj::Error; never a crash.
// A prefix that ends exactly on a piece boundary is a valid model with fewer pieces, unless it drops
// the piece that a special id points at.
TEST(SentencePieceModel, TruncationAtEveryByte) {
  pj::MappedFile f(kFixtures + "/tokenizers/mistral/tokenizer.model");
  std::vector<uint8_t> bytes(f.data(), f.data() + f.size());
  size_t errors = 0, parsed = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));  // exact size for ASan
    try {
      SpmModel m = pj::hf::parse_spm_model(cut.data(), cut.size(), "cut.model");
      EXPECT_LE(m.pieces.size(), 1024u);
      ++parsed;
    } catch (const pj::Error& e) {
      EXPECT_NE(std::string(e.what()).find("cut.model"), std::string::npos) << e.what();
      ++errors;
    }
  }
  EXPECT_GT(errors, bytes.size() / 2);
}

TEST(SentencePieceModel, MalformedMessages) {
  auto err = [](std::vector<uint8_t> b) -> std::string {
    try {
      pj::hf::parse_spm_model(b.data(), b.size(), "bad.model");
    } catch (const pj::Error& e) {
      return e.what();
    }
    return "no error";
  };
  // piece message with length past the end
  EXPECT_NE(err({0x0a, 0x05, 0x0a, 0x01}).find("length 5"), std::string::npos);
  // truncated varint key
  EXPECT_NE(err({0x80}).find("truncated varint"), std::string::npos);
  // pieces (field 1) sent as a varint instead of a message
  EXPECT_NE(err({0x08, 0x01}).find("wire type 0"), std::string::npos);
  // wire type 3 (start group) is not supported
  EXPECT_NE(err({0x0b}).find("unsupported wire type 3"), std::string::npos);
  // a piece with an unknown type 9: piece{ piece:"a" type:9 }
  EXPECT_NE(err({0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x09}).find("unknown type 9"), std::string::npos);
  // a valid single piece but unk_id 0 -> fine; bos_id 1 default points past the single piece
  EXPECT_NE(err({0x0a, 0x03, 0x0a, 0x01, 'a'}).find("bos_id 1"), std::string::npos);
  // empty input
  EXPECT_NE(err({}).find("no pieces"), std::string::npos);
  // an 11-byte varint
  EXPECT_NE(err({0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}).find("longer than 10"),
            std::string::npos);
}

TEST(SentencePieceModel, MinimalValidModel) {
  // pieces {"<unk>" type UNKNOWN}, {"a" score -1.5}; trainer_spec {bos_id -1, eos_id -1}
  std::vector<uint8_t> b = {0x0a, 0x09, 0x0a, 0x05, '<', 'u', 'n', 'k', '>', 0x18, 0x02,
                            0x0a, 0x08, 0x0a, 0x01, 'a', 0x15, 0x00, 0x00, 0xc0, 0xbf};
  std::vector<uint8_t> inner;
  // bos_id (41) and eos_id (42) = -1: keys 41<<3 = 0xc8 0x02 and 0xd0 0x02, value a 10-byte varint
  for (uint8_t k0 : {uint8_t(0xc8), uint8_t(0xd0)}) {
    inner.push_back(k0);
    inner.push_back(0x02);
    for (int i = 0; i < 9; ++i) inner.push_back(0xff);
    inner.push_back(0x01);
  }
  b.push_back(0x12);
  b.push_back(static_cast<uint8_t>(inner.size()));
  b.insert(b.end(), inner.begin(), inner.end());
  SpmModel m = pj::hf::parse_spm_model(b.data(), b.size(), "mini.model");
  ASSERT_EQ(m.pieces.size(), 2u);
  EXPECT_EQ(m.pieces[0].type, SpmPieceType::unknown);
  EXPECT_EQ(m.pieces[1].piece, "a");
  EXPECT_EQ(m.pieces[1].score, -1.5f);
  EXPECT_EQ(m.bos_id, -1);
  EXPECT_EQ(m.eos_id, -1);
  EXPECT_EQ(m.unk_id, 0);
}
