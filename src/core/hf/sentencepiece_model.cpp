#include "core/hf/sentencepiece_model.h"

#include "core/base/error.h"
#include "core/base/file.h"

#include <cstring>
#include <string_view>

namespace pj::hf {

namespace {

// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/): each field is a varint key
// (field_number << 3 | wire_type) followed by its value.
enum WireType : uint32_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };

struct Field {
  uint32_t number = 0;
  uint32_t wire = 0;
  uint64_t value = 0;          // varint / fixed32 / fixed64 payload
  std::string_view bytes;      // length-delimited payload
};

// Reads the fields of one message from [p, end). `what` names the message for error messages.
class Reader {
 public:
  Reader(const uint8_t* p, const uint8_t* end, const std::string& name, const char* what)
      : begin_(p), p_(p), end_(end), name_(name), what_(what) {}

  bool next(Field& f) {
    if (p_ == end_) return false;
    size_t at = static_cast<size_t>(p_ - begin_);
    uint64_t key = read_varint();
    if (key >> 32 || (key >> 3) == 0)
      fail("sentencepiece: {}: {}: invalid field key {} at byte {}", name_, what_, key, at);
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<uint32_t>(key & 7);
    f.value = 0;
    f.bytes = {};
    switch (f.wire) {
      case varint: f.value = read_varint(); break;
      case fixed64: f.value = read_fixed(8); break;
      case fixed32: f.value = read_fixed(4); break;
      case length_delimited: {
        uint64_t n = read_varint();
        if (n > static_cast<uint64_t>(end_ - p_))
          fail("sentencepiece: {}: {}: field {} has length {} but only {} bytes are left", name_, what_,
               f.number, n, end_ - p_);
        f.bytes = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
        p_ += n;
        break;
      }
      default:
        fail("sentencepiece: {}: {}: field {} has unsupported wire type {} at byte {}", name_, what_,
             f.number, f.wire, at);
    }
    return true;
  }

  void expect(const Field& f, uint32_t wire, const char* field_name) const {
    if (f.wire != wire)
      fail("sentencepiece: {}: {}.{} (field {}) has wire type {}, expected {}", name_, what_, field_name,
           f.number, f.wire, wire);
  }

 private:
  uint64_t read_varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) fail("sentencepiece: {}: {}: truncated varint", name_, what_);
      uint8_t b = *p_++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("sentencepiece: {}: {}: varint longer than 10 bytes", name_, what_);
  }
  uint64_t read_fixed(int n) {
    if (end_ - p_ < n) fail("sentencepiece: {}: {}: truncated {}-byte fixed field", name_, what_, n);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p_[i]) << (8 * i);
    p_ += n;
    return v;
  }

  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  const std::string& name_;
  const char* what_;
};

const uint8_t* bytes_begin(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }
const uint8_t* bytes_end(std::string_view s) { return bytes_begin(s) + s.size(); }

// int32 fields are varints of the sign-extended 64-bit value, so -1 arrives as 2^64 - 1.
int as_int32(uint64_t v) { return static_cast<int>(static_cast<int32_t>(static_cast<uint32_t>(v))); }

SpmPiece parse_piece(std::string_view msg, const std::string& name, size_t index) {
  // message SentencePiece { optional string piece = 1; optional float score = 2; optional Type type = 3; }
  SpmPiece piece;
  Reader r(bytes_begin(msg), bytes_end(msg), name, "SentencePiece");
  Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1: r.expect(f, length_delimited, "piece"); piece.piece.assign(f.bytes); break;
      case 2: {
        r.expect(f, fixed32, "score");
        uint32_t u = static_cast<uint32_t>(f.value);
        std::memcpy(&piece.score, &u, 4);
        break;
      }
      case 3:
        r.expect(f, varint, "type");
        if (f.value < 1 || f.value > 6)
          fail("sentencepiece: {}: piece {} has unknown type {}", name, index, f.value);
        piece.type = static_cast<SpmPieceType>(f.value);
        break;
      default: break;  // unknown fields are skipped, as protobuf does
    }
  }
  return piece;
}

void parse_trainer_spec(std::string_view msg, const std::string& name, SpmModel& m) {
  Reader r(bytes_begin(msg), bytes_end(msg), name, "TrainerSpec");
  Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 3: r.expect(f, varint, "model_type"); m.model_type = as_int32(f.value); break;
      case 24: r.expect(f, varint, "treat_whitespace_as_suffix"); m.treat_whitespace_as_suffix = f.value != 0; break;
      case 25: r.expect(f, varint, "split_digits"); m.split_digits = f.value != 0; break;
      case 35: r.expect(f, varint, "byte_fallback"); m.byte_fallback = f.value != 0; break;
      case 40: r.expect(f, varint, "unk_id"); m.unk_id = as_int32(f.value); break;
      case 41: r.expect(f, varint, "bos_id"); m.bos_id = as_int32(f.value); break;
      case 42: r.expect(f, varint, "eos_id"); m.eos_id = as_int32(f.value); break;
      case 43: r.expect(f, varint, "pad_id"); m.pad_id = as_int32(f.value); break;
      default: break;
    }
  }
}

void parse_normalizer_spec(std::string_view msg, const std::string& name, SpmModel& m) {
  Reader r(bytes_begin(msg), bytes_end(msg), name, "NormalizerSpec");
  Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1: r.expect(f, length_delimited, "name"); m.normalizer_name.assign(f.bytes); break;
      case 2: r.expect(f, length_delimited, "precompiled_charsmap"); m.precompiled_charsmap.assign(f.bytes); break;
      case 3: r.expect(f, varint, "add_dummy_prefix"); m.add_dummy_prefix = f.value != 0; break;
      case 4: r.expect(f, varint, "remove_extra_whitespaces"); m.remove_extra_whitespaces = f.value != 0; break;
      case 5: r.expect(f, varint, "escape_whitespaces"); m.escape_whitespaces = f.value != 0; break;
      default: break;
    }
  }
}

}  // namespace

SpmModel parse_spm_model(const uint8_t* data, size_t size, const std::string& name) {
  // message ModelProto { repeated SentencePiece pieces = 1; optional TrainerSpec trainer_spec = 2;
  //                      optional NormalizerSpec normalizer_spec = 3; ... }
  SpmModel m;
  const uint8_t* end = data ? data + size : data;
  Reader r(data, end, name, "ModelProto");
  Field f;
  while (r.next(f)) {
    switch (f.number) {
      case 1:
        r.expect(f, length_delimited, "pieces");
        m.pieces.push_back(parse_piece(f.bytes, name, m.pieces.size()));
        break;
      case 2: r.expect(f, length_delimited, "trainer_spec"); parse_trainer_spec(f.bytes, name, m); break;
      case 3: r.expect(f, length_delimited, "normalizer_spec"); parse_normalizer_spec(f.bytes, name, m); break;
      default: break;  // self_test_data (4), denormalizer_spec (5)
    }
  }
  if (m.pieces.empty()) fail("sentencepiece: {}: no pieces (not a SentencePiece model?)", name);
  const long n = static_cast<long>(m.pieces.size());
  auto check_id = [&](int id, const char* what, bool optional) {
    if (optional && id == -1) return;
    if (id < 0 || id >= n) fail("sentencepiece: {}: {} {} is outside the {} pieces", name, what, id, n);
  };
  check_id(m.unk_id, "unk_id", false);
  check_id(m.bos_id, "bos_id", true);
  check_id(m.eos_id, "eos_id", true);
  check_id(m.pad_id, "pad_id", true);
  if (m.model_type < 1 || m.model_type > 4)
    fail("sentencepiece: {}: unknown model_type {}", name, m.model_type);
  return m;
}

SpmModel load_spm_model(const std::string& path) {
  MappedFile f(path);
  return parse_spm_model(f.data(), f.size(), path);
}

const char* spm_model_type_name(int model_type) {
  switch (model_type) {
    case 1: return "unigram";
    case 2: return "bpe";
    case 3: return "word";
    case 4: return "char";
    default: return "unknown";
  }
}

const char* spm_piece_type_name(SpmPieceType t) {
  switch (t) {
    case SpmPieceType::normal: return "normal";
    case SpmPieceType::unknown: return "unknown";
    case SpmPieceType::control: return "control";
    case SpmPieceType::user_defined: return "user_defined";
    case SpmPieceType::unused: return "unused";
    case SpmPieceType::byte: return "byte";
  }
  return "invalid";
}

}  // namespace pj::hf
