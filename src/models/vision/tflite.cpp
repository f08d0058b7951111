#include "models/vision/tflite.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/ops/ops_conv2d.h"

namespace pj::vision {

namespace {

// Bounds-checked FlatBuffer access. Tables: an i32 at the table start points back to the vtable
// (vtable = table - soffset), whose u16 entries give each field's offset inside the table (0 = absent).
// Offsets to tables, vectors and strings are u32 relative to where they are stored.
struct Fb {
  const uint8_t* d;
  size_t n;
  const std::string& file;

  [[noreturn]] void bad(const char* what, uint64_t at) const {
    fail("tflite: {}: corrupt FlatBuffer ({} at byte {}, file has {})", file, what, at, n);
  }
  template <typename T>
  T rd(uint64_t at) const {
    if (at > n || n - at < sizeof(T)) bad("read past the end", at);
    T v;
    std::memcpy(&v, d + at, sizeof(T));
    return v;
  }
  // Position of field `i`'s data in table `t`, or 0 when absent.
  uint32_t field(uint32_t t, int i) const {
    const int64_t vt = int64_t(t) - rd<int32_t>(t);
    if (vt < 0 || uint64_t(vt) >= n) bad("vtable out of range", t);
    const uint16_t vsize = rd<uint16_t>(uint64_t(vt));
    if (vsize < 4 || vsize % 2) bad("vtable size", uint64_t(vt));
    if (4 + 2 * i + 2 > vsize) return 0;
    const uint16_t off = rd<uint16_t>(uint64_t(vt) + 4 + 2 * i);
    return off ? t + off : 0;
  }
  uint32_t deref(uint32_t at) const {  // follow a u32 offset
    const uint64_t target = uint64_t(at) + rd<uint32_t>(at);
    if (target >= n) bad("offset out of range", at);
    return uint32_t(target);
  }
  uint32_t table(uint32_t t, int i) const {  // sub-table or 0
    const uint32_t f = field(t, i);
    return f ? deref(f) : 0;
  }
  // Vector: (position of the first element, length), elements of `elem` bytes.
  std::pair<uint32_t, uint32_t> vec(uint32_t t, int i, size_t elem) const {
    const uint32_t f = field(t, i);
    if (!f) return {0, 0};
    const uint32_t v = deref(f);
    const uint32_t len = rd<uint32_t>(v);
    if (uint64_t(len) * elem > n - v - 4) bad("vector longer than the file", v);
    return {v + 4, len};
  }
  std::string str(uint32_t t, int i) const {
    auto [p, len] = vec(t, i, 1);
    return p ? std::string(reinterpret_cast<const char*>(d + p), len) : std::string();
  }
  template <typename T>
  std::vector<T> scalars(uint32_t t, int i) const {
    auto [p, len] = vec(t, i, sizeof(T));
    std::vector<T> out(len);
    for (uint32_t k = 0; k < len; ++k) out[k] = rd<T>(p + uint64_t(k) * sizeof(T));
    return out;
  }
  template <typename T>
  T scalar(uint32_t t, int i, T def) const {
    const uint32_t f = field(t, i);
    return f ? rd<T>(f) : def;
  }
  std::vector<uint32_t> tables(uint32_t t, int i) const {
    auto [p, len] = vec(t, i, 4);
    std::vector<uint32_t> out(len);
    for (uint32_t k = 0; k < len; ++k) out[k] = deref(p + 4 * k);
    return out;
  }
};

size_t type_size(int type) {
  switch (type) {
    case 0: case 2: return 4;   // FLOAT32, INT32
    case 1: case 7: return 2;   // FLOAT16, INT16
    case 3: case 6: case 9: return 1;  // UINT8, BOOL, INT8
    case 4: return 8;           // INT64
    default: return 0;
  }
}

}  // namespace

int64_t TfliteTensor::elements() const {
  int64_t n = 1;
  for (int s : shape) n *= s;
  return n;
}

const char* TfliteModel::op_name(int b) {
  switch (b) {
    case 0: return "ADD";
    case 1: return "AVERAGE_POOL_2D";
    case 2: return "CONCATENATION";
    case 3: return "CONV_2D";
    case 4: return "DEPTHWISE_CONV_2D";
    case 6: return "DEQUANTIZE";
    case 9: return "FULLY_CONNECTED";
    case 14: return "LOGISTIC";
    case 17: return "MAX_POOL_2D";
    case 18: return "MUL";
    case 19: return "RELU";
    case 21: return "RELU6";
    case 22: return "RESHAPE";
    case 25: return "SOFTMAX";
    case 32: return "CUSTOM";
    case 40: return "MEAN";
    case 43: return "SQUEEZE";
    case 114: return "QUANTIZE";
    default: return "unsupported";
  }
}

TfliteModel::TfliteModel(const std::string& path) : file_(path) {
  const Fb fb{file_.data(), file_.size(), path};
  if (file_.size() < 8 || std::memcmp(file_.data() + 4, "TFL3", 4) != 0)
    fail("tflite: {}: not a TensorFlow Lite model (no TFL3 identifier)", path);
  const uint32_t model = fb.deref(0);
  // Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4
  description = fb.str(model, 3);
  struct Code { int builtin; std::string custom; };
  std::vector<Code> codes;
  for (uint32_t oc : fb.tables(model, 1)) {
    // OperatorCode: deprecated_builtin_code (byte) 0, custom_code 1, version 2, builtin_code (int) 3
    const int dep = fb.scalar<int8_t>(oc, 0, 0);
    const int full = fb.scalar<int32_t>(oc, 3, 0);
    codes.push_back({std::max(dep, full), fb.str(oc, 1)});
  }
  const std::vector<uint32_t> buffers = fb.tables(model, 4);
  const std::vector<uint32_t> subgraphs = fb.tables(model, 2);
  if (subgraphs.empty()) fail("tflite: {}: no subgraph", path);
  const uint32_t sg = subgraphs[0];
  // SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4
  for (uint32_t tt : fb.tables(sg, 0)) {
    // Tensor: shape 0, type 1, buffer 2, name 3, quantization 4
    TfliteTensor t;
    t.shape = fb.scalars<int32_t>(tt, 0);
    t.type = fb.scalar<int8_t>(tt, 1, 0);
    t.name = fb.str(tt, 3);
    // Every tensor (constant or activation) is at most 2^30 elements, so sizes and allocations stay sane.
    int64_t count = 1;
    for (int s : t.shape) {
      if (s < 0 || s > (1 << 24)) fail("tflite: {}: tensor '{}' has dimension {}", path, t.name, s);
      count *= s;
      if (count > (int64_t(1) << 30)) fail("tflite: {}: tensor '{}' has more than 2^30 elements", path, t.name);
    }
    if (t.shape.size() > 8) fail("tflite: {}: tensor '{}' has {} dimensions", path, t.name, t.shape.size());
    const uint32_t b = fb.scalar<uint32_t>(tt, 2, 0);
    if (b >= buffers.size() && b != 0) fail("tflite: {}: tensor '{}' names buffer {} of {}", path, t.name, b,
                                            buffers.size());
    if (b < buffers.size()) {
      // Buffer: data 0, offset 1, size 2 (offset/size: data stored after the FlatBuffer, >2 GB models)
      auto [p, len] = fb.vec(buffers[b], 0, 1);
      if (len) {
        t.data = file_.data() + p;
        t.bytes = len;
      } else {
        const uint64_t off = fb.scalar<uint64_t>(buffers[b], 1, 0), size = fb.scalar<uint64_t>(buffers[b], 2, 0);
        if (off > 1) {
          if (off > file_.size() || size > file_.size() - off)
            fail("tflite: {}: buffer {} of tensor '{}' extends past the end of the file", path, b, t.name);
          t.data = file_.data() + off;
          t.bytes = size;
        }
      }
    }
    if (t.data) {
      const size_t es = type_size(t.type);
      if (es == 0) fail("tflite: {}: tensor '{}' has unsupported type {}", path, t.name, t.type);
      if (uint64_t(t.elements()) * es != t.bytes)
        fail("tflite: {}: tensor '{}' holds {} bytes, its shape needs {}", path, t.name, t.bytes,
             uint64_t(t.elements()) * es);
    }
    if (const uint32_t q = fb.table(tt, 4)) {
      // QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details (2 slots) 4-5, quantized_dimension 6
      t.scale = fb.scalars<float>(q, 2);
      t.zero_point = fb.scalars<int64_t>(q, 3);
      t.quantized_dimension = fb.scalar<int32_t>(q, 6, 0);
      if (!t.scale.empty()) {
        if (t.zero_point.size() != t.scale.size())
          fail("tflite: {}: tensor '{}' has {} scales and {} zero points", path, t.name, t.scale.size(),
               t.zero_point.size());
        if (t.scale.size() > 1 && (t.quantized_dimension < 0 || size_t(t.quantized_dimension) >= t.shape.size() ||
                                   t.shape[size_t(t.quantized_dimension)] != int(t.scale.size())))
          fail("tflite: {}: tensor '{}' has {} scales along dimension {}", path, t.name, t.scale.size(),
               t.quantized_dimension);
      }
    }
    tensors_.push_back(std::move(t));
  }
  auto check_idx = [&](const std::vector<int32_t>& v, bool optional) {
    for (int i : v)
      if (i >= int(tensors_.size()) || i < (optional ? -1 : 0))
        fail("tflite: {}: tensor index {} out of range ({} tensors)", path, i, tensors_.size());
    return std::vector<int>(v.begin(), v.end());
  };
  inputs_ = check_idx(fb.scalars<int32_t>(sg, 1), false);
  outputs_ = check_idx(fb.scalars<int32_t>(sg, 2), false);
  for (uint32_t o : fb.tables(sg, 3)) {
    // Operator: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4
    TfliteOp op;
    const uint32_t ci = fb.scalar<uint32_t>(o, 0, 0);
    if (ci >= codes.size()) fail("tflite: {}: operator code {} of {}", path, ci, codes.size());
    op.builtin = codes[ci].builtin;
    op.custom = codes[ci].custom;
    op.inputs = check_idx(fb.scalars<int32_t>(o, 1), true);
    op.outputs = check_idx(fb.scalars<int32_t>(o, 2), false);
    op.options = fb.table(o, 4);
    ops_.push_back(std::move(op));
  }
  if (inputs_.empty() || outputs_.empty()) fail("tflite: {}: the subgraph has no inputs or outputs", path);
}

int32_t TfliteModel::option_i32(const TfliteOp& op, int field, int32_t def) const {
  if (!op.options) return def;
  return Fb{file_.data(), file_.size(), file_.path()}.scalar<int32_t>(op.options, field, def);
}
int8_t TfliteModel::option_i8(const TfliteOp& op, int field, int8_t def) const {
  if (!op.options) return def;
  return Fb{file_.data(), file_.size(), file_.path()}.scalar<int8_t>(op.options, field, def);
}
float TfliteModel::option_f32(const TfliteOp& op, int field, float def) const {
  if (!op.options) return def;
  return Fb{file_.data(), file_.size(), file_.path()}.scalar<float>(op.options, field, def);
}

}  // namespace pj::vision
