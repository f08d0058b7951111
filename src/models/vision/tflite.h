// TensorFlow Lite models: a reader for the .tflite FlatBuffer (schema: tensorflow/lite/schema/schema.fbs,
// file identifier "TFL3") and a float interpreter for the builtin ops of image classifiers.
//
// Quantized (uint8/int8 asymmetric, real = scale * (q - zero_point), per-tensor or per-channel) weights
// are dequantized to float once at load; the graph then runs in float on our ops (conv2d through the
// kernels' matmul). With `fake_quant` the output of every op is rounded to its tensor's uint8/int8 grid
// (quantize + dequantize), which reproduces what TFLite's integer kernels compute up to their
// fixed-point rounding; without it the network runs in plain float (closer to the original float model).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/file.h"
#include "core/kernels/context.h"

namespace pj::vision {

enum class TfliteType : int8_t { float32 = 0, float16 = 1, int32 = 2, uint8 = 3, int64 = 4, int8 = 9 };

struct TfliteTensor {
  std::string name;
  std::vector<int> shape;
  int type = 0;                      // TensorType
  const uint8_t* data = nullptr;     // constant data (in the mapped file) or nullptr
  size_t bytes = 0;
  std::vector<float> scale;          // empty: not quantized
  std::vector<int64_t> zero_point;
  int quantized_dimension = 0;
  int64_t elements() const;
};

struct TfliteOp {
  int builtin = 0;                   // BuiltinOperator
  std::string custom;                // custom_code for CUSTOM ops
  std::vector<int> inputs, outputs;  // tensor indices, -1 = optional input left out
  uint32_t options = 0;              // position of the builtin options table in the file (0: none)
};

// The first subgraph of a model; tensors' data point into the memory map.
class TfliteModel {
 public:
  explicit TfliteModel(const std::string& path);
  TfliteModel(TfliteModel&&) = default;

  const std::string& path() const { return file_.path(); }
  const std::vector<TfliteTensor>& tensors() const { return tensors_; }
  const std::vector<TfliteOp>& ops() const { return ops_; }
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  std::string description;

  // Scalar fields of an op's builtin options table (FlatBuffer field index; default when absent).
  int32_t option_i32(const TfliteOp& op, int field, int32_t def) const;
  int8_t option_i8(const TfliteOp& op, int field, int8_t def) const;
  float option_f32(const TfliteOp& op, int field, float def) const;

  static const char* op_name(int builtin);

 private:
  MappedFile file_;
  std::vector<TfliteTensor> tensors_;
  std::vector<TfliteOp> ops_;
  std::vector<int> inputs_, outputs_;
};

// Float interpreter for the first subgraph: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL,
// AVERAGE_POOL_2D, MAX_POOL_2D, RESHAPE, SQUEEZE, SOFTMAX, CONCATENATION, LOGISTIC, RELU, RELU6,
// QUANTIZE, DEQUANTIZE, MEAN (spatial). pj::Error for anything else, naming the op.
class TfliteInterpreter {
 public:
  TfliteInterpreter(const TfliteModel& model, bool fake_quant = true);

  // The model's first input as floats in its own layout (NHWC); quantized inputs are dequantized.
  const TfliteTensor& input_tensor() const;
  // Runs on real-valued input (already dequantized) and returns the first output, real-valued.
  std::vector<float> run(KernelContext& ctx, const std::vector<float>& input);
  // Runs on a uint8 quantized input (e.g. an RGB image when the input is uint8 with its own scale).
  std::vector<float> run_quantized(KernelContext& ctx, const std::vector<uint8_t>& input);

 private:
  const TfliteModel& model_;
  bool fake_quant_;
  std::vector<std::vector<float>> consts_;  // dequantized constant tensors (empty for activations)
};

}  // namespace pj::vision
