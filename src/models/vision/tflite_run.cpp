// The float interpreter of TfliteInterpreter (tflite.h). Layouts are TFLite's: activations NHWC (batch 1),
// CONV_2D weights OHWI, DEPTHWISE_CONV_2D weights 1HWC, FULLY_CONNECTED weights (out, in).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/kernels/matmul.h"
#include "core/ops/ops_conv2d.h"
#include "models/vision/tflite.h"

namespace pj::vision {

namespace {

// BuiltinOperator values (schema.fbs).
enum Builtin {
  kAdd = 0, kAvgPool = 1, kConcat = 2, kConv = 3, kDepthwise = 4, kDequantize = 6, kFullyConnected = 9,
  kLogistic = 14, kMaxPool = 17, kMul = 18, kRelu = 19, kRelu6 = 21, kReshape = 22, kSoftmax = 25,
  kMean = 40, kSqueeze = 43, kQuantize = 114,
};

ops::Act fused_act(int v, const std::string& file) {
  switch (v) {  // ActivationFunctionType
    case 0: return ops::Act::none;
    case 1: return ops::Act::relu;
    case 3: return ops::Act::relu6;
    default: fail("tflite: {}: fused activation {} is not supported", file, v);
  }
}

std::vector<float> dequantize(const TfliteTensor& t, const std::string& file) {
  const int64_t n = t.elements();
  std::vector<float> out(static_cast<size_t>(n));
  // Per-channel: the index along quantized_dimension is (i / inner) % dim.
  int64_t inner = 1, dim = 1;
  if (t.scale.size() > 1) {
    for (size_t k = size_t(t.quantized_dimension) + 1; k < t.shape.size(); ++k) inner *= t.shape[k];
    dim = t.shape[size_t(t.quantized_dimension)];
  }
  auto q = [&](int64_t i, double v) {
    if (t.scale.empty()) return float(v);
    const size_t c = t.scale.size() > 1 ? size_t((i / inner) % dim) : 0;
    return float(double(t.scale[c]) * (v - double(t.zero_point[c])));
  };
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    switch (t.type) {
      case 0: { float f; std::memcpy(&f, t.data + 4 * i, 4); v = f; break; }
      case 1: { uint16_t h; std::memcpy(&h, t.data + 2 * i, 2); v = fp16_to_f32(h); break; }
      case 2: { int32_t x; std::memcpy(&x, t.data + 4 * i, 4); v = x; break; }
      case 3: v = t.data[i]; break;
      case 4: { int64_t x; std::memcpy(&x, t.data + 8 * i, 8); v = double(x); break; }
      case 9: v = int8_t(t.data[i]); break;
      default: fail("tflite: {}: tensor '{}' has unsupported type {}", file, t.name, t.type);
    }
    out[size_t(i)] = t.type == 0 || t.type == 1 ? float(v) : q(i, v);
  }
  return out;
}

// Rounds to the tensor's integer grid and back (what an integer kernel's output can represent).
void fake_quantize(const TfliteTensor& t, std::vector<float>& v) {
  if (t.scale.size() != 1 || (t.type != 3 && t.type != 9)) return;
  const float s = t.scale[0];
  const float zp = float(t.zero_point[0]);
  const float lo = t.type == 3 ? 0.0f : -128.0f, hi = t.type == 3 ? 255.0f : 127.0f;
  if (!(s > 0)) return;
  for (float& x : v) x = s * (std::clamp(std::nearbyint(x / s) + zp, lo, hi) - zp);
}

}  // namespace

TfliteInterpreter::TfliteInterpreter(const TfliteModel& model, bool fake_quant)
    : model_(model), fake_quant_(fake_quant) {
  const auto& ts = model.tensors();
  consts_.resize(ts.size());
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i].data) consts_[i] = dequantize(ts[i], model.path());
  for (const TfliteOp& op : model.ops()) {
    const char* name = TfliteModel::op_name(op.builtin);
    if (std::string_view(name) == "unsupported" || op.builtin == 32)
      fail("tflite: {}: operator {} ({}) is not supported", model.path(), op.builtin,
           op.custom.empty() ? name : op.custom);
  }
}

const TfliteTensor& TfliteInterpreter::input_tensor() const { return model_.tensors()[size_t(model_.inputs()[0])]; }

std::vector<float> TfliteInterpreter::run_quantized(KernelContext& ctx, const std::vector<uint8_t>& input) {
  const TfliteTensor& in = input_tensor();
  if (int64_t(input.size()) != in.elements())
    fail("tflite: {}: input has {} values, the model takes {}", model_.path(), input.size(), in.elements());
  std::vector<float> x(input.size());
  const float s = in.scale.empty() ? 1.0f : in.scale[0];
  const float zp = in.zero_point.empty() ? 0.0f : float(in.zero_point[0]);
  for (size_t i = 0; i < x.size(); ++i) x[i] = s * (float(input[i]) - zp);
  return run(ctx, x);
}

std::vector<float> TfliteInterpreter::run(KernelContext& ctx, const std::vector<float>& input) {
  const auto& ts = model_.tensors();
  const std::string& file = model_.path();
  std::vector<std::vector<float>> val(ts.size());
  const int in_idx = model_.inputs()[0];
  if (int64_t(input.size()) != ts[size_t(in_idx)].elements())
    fail("tflite: {}: input has {} values, the model takes {}", file, input.size(), ts[size_t(in_idx)].elements());
  val[size_t(in_idx)] = input;
  auto get = [&](int i) -> const std::vector<float>& {
    if (i < 0) fail("tflite: {}: a required input is missing", file);
    const auto& v = consts_[size_t(i)].empty() ? val[size_t(i)] : consts_[size_t(i)];
    if (int64_t(v.size()) != ts[size_t(i)].elements())
      fail("tflite: {}: tensor '{}' is used before it is computed", file, ts[size_t(i)].name);
    return v;
  };
  auto nhwc = [&](int i, int* h, int* w, int* c) {
    const auto& s = ts[size_t(i)].shape;
    if (s.size() != 4 || s[0] != 1) fail("tflite: {}: tensor '{}' is not (1, H, W, C)", file, ts[size_t(i)].name);
    *h = s[1], *w = s[2], *c = s[3];
  };
  for (const TfliteOp& op : model_.ops()) {
    if (op.outputs.empty() || op.inputs.empty()) fail("tflite: {}: operator without inputs or outputs", file);
    const int out_i = op.outputs[0];
    const TfliteTensor& ot = ts[size_t(out_i)];
    std::vector<float> out(size_t(ot.elements()));
    switch (op.builtin) {
      case kConv:
      case kDepthwise: {
        if (op.inputs.size() < 2) fail("tflite: {}: convolution without weights", file);
        int h, w, c, oh, ow, oc;
        nhwc(op.inputs[0], &h, &w, &c);
        nhwc(out_i, &oh, &ow, &oc);
        const TfliteTensor& wt = ts[size_t(op.inputs[1])];
        if (wt.shape.size() != 4) fail("tflite: {}: weights '{}' are not 4-D", file, wt.name);
        const bool dw = op.builtin == kDepthwise;
        // Conv2DOptions: padding 0, stride_w 1, stride_h 2, act 3, dilation_w 4, dilation_h 5
        // DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3, act 4, dil_w 5, dil_h 6
        ops::Conv2dGeom g;
        g.kh = wt.shape[1], g.kw = wt.shape[2];
        g.stride_w = model_.option_i32(op, 1, 1), g.stride_h = model_.option_i32(op, 2, 1);
        g.dilation_w = model_.option_i32(op, dw ? 5 : 4, 1), g.dilation_h = model_.option_i32(op, dw ? 6 : 5, 1);
        const ops::Act act = fused_act(model_.option_i8(op, dw ? 4 : 3, 0), file);
        if (model_.option_i8(op, 0, 0) == 0) {  // SAME
          int o;
          g.pad_top = ops::same_padding(h, g.kh, g.stride_h, g.dilation_h, &o);
          g.pad_left = ops::same_padding(w, g.kw, g.stride_w, g.dilation_w, &o);
        }
        const float* bias = op.inputs.size() > 2 && op.inputs[2] >= 0 ? get(op.inputs[2]).data() : nullptr;
        if (bias && ts[size_t(op.inputs[2])].elements() != oc) fail("tflite: {}: bias size mismatch", file);
        if (dw) {
          if (wt.shape[3] != oc || oc % c) fail("tflite: {}: depthwise weights '{}' do not fit", file, wt.name);
          ops::depthwise_conv2d(ctx.pool(), get(op.inputs[0]).data(), h, w, c, oc / c, get(op.inputs[1]).data(),
                                bias, g, oh, ow, act, out.data());
        } else {
          if (wt.shape[0] != oc || wt.shape[3] != c) fail("tflite: {}: conv weights '{}' do not fit", file, wt.name);
          ops::conv2d(ctx, get(op.inputs[0]).data(), h, w, c, GgmlType::F32, get(op.inputs[1]).data(), oc, bias, g,
                      oh, ow, act, out.data());
        }
        break;
      }
      case kFullyConnected: {
        const TfliteTensor& wt = ts[size_t(op.inputs[1])];
        if (wt.shape.size() != 2) fail("tflite: {}: FULLY_CONNECTED weights are not 2-D", file);
        const int o = wt.shape[0], k = wt.shape[1];
        const auto& x = get(op.inputs[0]);
        if (x.size() % size_t(k) || out.size() != x.size() / size_t(k) * size_t(o))
          fail("tflite: {}: FULLY_CONNECTED shapes do not fit", file);
        matmul(ctx, GgmlType::F32, get(op.inputs[1]).data(), o, k, x.data(), int64_t(x.size()) / k, out.data());
        const float* bias = op.inputs.size() > 2 && op.inputs[2] >= 0 ? get(op.inputs[2]).data() : nullptr;
        const ops::Act act = fused_act(model_.option_i8(op, 0, 0), file);
        for (size_t i = 0; i < out.size(); ++i) out[i] += bias ? bias[i % size_t(o)] : 0.0f;
        ops::apply_act(ctx, out.data(), int64_t(out.size()), act);
        break;
      }
      case kAdd:
      case kMul: {
        const auto& a = get(op.inputs[0]);
        const auto& b = get(op.inputs.at(1));
        // Same shape, or b broadcast over the leading dimensions (bias-like), or a scalar.
        if (out.size() != a.size() || (b.size() != a.size() && (b.empty() || a.size() % b.size())))
          fail("tflite: {}: {} broadcasting {} with {} values is not supported", file,
               TfliteModel::op_name(op.builtin), a.size(), b.size());
        for (size_t i = 0; i < out.size(); ++i)
          out[i] = op.builtin == kAdd ? a[i] + b[i % b.size()] : a[i] * b[i % b.size()];
        ops::apply_act(ctx, out.data(), int64_t(out.size()), fused_act(model_.option_i8(op, 0, 0), file));
        break;
      }
      case kAvgPool:
      case kMaxPool: {
        int h, w, c, oh, ow, oc;
        nhwc(op.inputs[0], &h, &w, &c);
        nhwc(out_i, &oh, &ow, &oc);
        // Pool2DOptions: padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4, act 5
        ops::Conv2dGeom g;
        g.stride_w = model_.option_i32(op, 1, 1), g.stride_h = model_.option_i32(op, 2, 1);
        g.kw = model_.option_i32(op, 3, 1), g.kh = model_.option_i32(op, 4, 1);
        if (model_.option_i8(op, 0, 0) == 0) {
          int o;
          g.pad_top = ops::same_padding(h, g.kh, g.stride_h, 1, &o);
          g.pad_left = ops::same_padding(w, g.kw, g.stride_w, 1, &o);
        }
        if (oc != c) fail("tflite: {}: pooling changes the channel count", file);
        if (op.builtin == kAvgPool)
          ops::avg_pool2d(ctx.pool(), get(op.inputs[0]).data(), h, w, c, g, oh, ow, out.data());
        else
          ops::max_pool2d(ctx.pool(), get(op.inputs[0]).data(), h, w, c, g, oh, ow, out.data());
        ops::apply_act(ctx, out.data(), int64_t(out.size()), fused_act(model_.option_i8(op, 5, 0), file));
        break;
      }
      case kMean: {
        int h, w, c;
        nhwc(op.inputs[0], &h, &w, &c);
        if (out.size() != size_t(c)) fail("tflite: {}: MEAN is supported over H and W only", file);
        const auto& x = get(op.inputs[0]);
        for (int k = 0; k < c; ++k) {
          double s = 0;
          for (int64_t p = 0; p < int64_t(h) * w; ++p) s += x[size_t(p * c + k)];
          out[size_t(k)] = float(s / (double(h) * w));
        }
        break;
      }
      case kReshape:
      case kSqueeze:
      case kQuantize:
      case kDequantize: {
        const auto& x = get(op.inputs[0]);
        if (x.size() != out.size()) fail("tflite: {}: {} changes the element count", file, TfliteModel::op_name(op.builtin));
        out = x;
        break;
      }
      case kSoftmax: {
        const auto& x = get(op.inputs[0]);
        const float beta = model_.option_f32(op, 0, 1.0f);
        const int64_t n = ot.shape.empty() ? 1 : ot.shape.back();
        if (n <= 0 || x.size() != out.size() || out.size() % size_t(n)) fail("tflite: {}: SOFTMAX shape", file);
        for (size_t r = 0; r < out.size(); r += size_t(n)) {
          const float mx = *std::max_element(x.begin() + long(r), x.begin() + long(r) + n);
          double sum = 0;
          for (int64_t i = 0; i < n; ++i) sum += out[r + size_t(i)] = std::exp(beta * (x[r + size_t(i)] - mx));
          for (int64_t i = 0; i < n; ++i) out[r + size_t(i)] = float(out[r + size_t(i)] / sum);
        }
        break;
      }
      case kLogistic:
      case kRelu:
      case kRelu6: {
        const auto& x = get(op.inputs[0]);
        if (x.size() != out.size()) fail("tflite: {}: activation shape", file);
        for (size_t i = 0; i < out.size(); ++i)
          out[i] = op.builtin == kLogistic ? 1.0f / (1.0f + std::exp(-x[i]))
                   : op.builtin == kRelu   ? std::max(x[i], 0.0f)
                                           : std::clamp(x[i], 0.0f, 6.0f);
        break;
      }
      case kConcat: {
        // ConcatenationOptions: axis 0, act 1
        const auto& s = ot.shape;
        int axis = model_.option_i32(op, 0, 0);
        if (axis < 0) axis += int(s.size());
        if (axis < 0 || axis >= int(s.size())) fail("tflite: {}: CONCATENATION axis {}", file, axis);
        int64_t outer = 1, inner_out = 1;
        for (int k = 0; k < axis; ++k) outer *= s[size_t(k)];
        for (size_t k = size_t(axis); k < s.size(); ++k) inner_out *= s[k];
        int64_t at = 0;
        for (int i : op.inputs) {
          const auto& x = get(i);
          const int64_t inner = int64_t(x.size()) / std::max<int64_t>(outer, 1);
          if (at + inner > inner_out) fail("tflite: {}: CONCATENATION inputs exceed the output", file);
          for (int64_t o = 0; o < outer; ++o)
            std::copy_n(x.begin() + o * inner, inner, out.begin() + o * inner_out + at);
          at += inner;
        }
        ops::apply_act(ctx, out.data(), int64_t(out.size()), fused_act(model_.option_i8(op, 1, 0), file));
        break;
      }
      default:
        fail("tflite: {}: operator {} is not supported", file, TfliteModel::op_name(op.builtin));
    }
    if (fake_quant_) fake_quantize(ot, out);
    val[size_t(out_i)] = std::move(out);
  }
  return get(model_.outputs()[0]);
}

}  // namespace pj::vision
