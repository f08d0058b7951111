// YOLOv8 detection (Ultralytics' yolov8{n,s,m,l,x}.yaml) on our kernels: the backbone/neck/head graph is
// fixed by the architecture, every size (channels, C2f repeats, classes, DFL bins) is read from the
// weights, so one loader serves all five scales.
//
// Weights come from Ultralytics' state_dict saved as safetensors (Conv = conv + BatchNorm, fused here:
// w' = w * g / sqrt(var + eps), b' = beta - mean * g / sqrt(var + eps), eps 1e-3) or from a GGUF written
// by `pajamas convert` (general.architecture "yolov8": tensors "<module>.weight" already fused, shape
// (Cout, KH*KW*Cin) in OHWI order, any weight type with kernels; "<module>.bias" f32).
// Activations are NHWC float. Post-processing follows Ultralytics' predictor: distribution-focal box
// decoding (softmax over reg_max bins, expectation), class-wise NMS (torchvision semantics), boxes mapped
// back through the letterbox and clipped to the image.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/base/ggml_types.h"
#include "core/image/image.h"
#include "core/kernels/context.h"

namespace pj::gguf { class Writer; }

namespace pj::vision {

// The 80 COCO class names in YOLO order (transcribed from ../shared/data/labels/coco.names, darknet's list).
const std::vector<std::string>& coco_names();

struct Detection {
  float x1, y1, x2, y2;  // pixels of the image the boxes refer to
  float conf;
  int cls;
};

struct YoloOptions {
  float conf = 0.25f;
  float iou = 0.45f;
  int max_det = 300;
  int max_nms = 30000;  // candidates kept (by confidence) before NMS, as Ultralytics
};

class YoloModel {
 public:
  // A .safetensors state_dict of an Ultralytics YOLOv8 model or a .gguf from `pajamas convert`.
  static YoloModel load(const std::string& path);
  ~YoloModel();
  YoloModel(YoloModel&&) noexcept;
  YoloModel& operator=(YoloModel&&) noexcept;

  int num_classes() const;
  int reg_max() const;
  const std::vector<std::string>& names() const { return names_; }
  const std::string& path() const { return path_; }
  // Scale name when recognisable from the widths ("n", "s", "m", "l", "x"), else "".
  std::string scale() const;

  // Raw head output for a letterboxed input (size x size x 3 RGB8, size a multiple of 32):
  // (A, 4 + nc) row-major, per anchor: cx, cy, w, h in input pixels after DFL decoding, then nc class
  // sigmoids. Anchors: stride 8 grid, then 16, then 32, each row-major.
  std::vector<float> forward(KernelContext& ctx, const image::Image& letterboxed) const;

  // Letterbox (640, grey 114), forward, NMS, boxes in the original image's pixels; best first.
  std::vector<Detection> detect(KernelContext& ctx, const image::Image& img, const YoloOptions& opt,
                                int size = 640) const;

  // Writes the fused weights to a GGUF (general.architecture "yolov8"). Each convolution's rows (KH*KW*Cin
  // values) get the type vision_weight_type(type, cols) picks (models/vision/convert_vision.h: `type` when
  // the row length is a multiple of its block size, else llama.cpp's 32-wide fallback, else F16 / F32).
  // Biases stay F32. Returns the number of convolutions that did not get `type`.
  int add_to_gguf(gguf::Writer& w, GgmlType type, const std::string& name) const;

 private:
  YoloModel() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> names_;
  std::string path_;
};

// Ultralytics' non_max_suppression for one image: raw (A, 4 + nc) as forward() returns -> detections in
// input (letterbox) pixels, best first. Class-wise: boxes of different classes never suppress each other.
std::vector<Detection> yolo_nms(const float* raw, int64_t anchors, int nc, const YoloOptions& opt);

// Maps detections from letterbox pixels to the original image and clips them (Ultralytics scale_boxes).
void yolo_unletterbox(std::vector<Detection>& dets, const image::Letterbox& lb, int width, int height);

}  // namespace pj::vision
