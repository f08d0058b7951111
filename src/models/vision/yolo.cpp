#include "models/vision/yolo.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>

#include "core/base/error.h"
#include "core/base/half.h"
#include "core/gguf/gguf.h"
#include "core/kernels/context.h"
#include "core/ops/ops_conv2d.h"
#include "core/safetensors/safetensors.h"
#include "models/vision/convert_vision.h"

namespace pj::vision {

const std::vector<std::string>& coco_names() {
  static const std::vector<std::string> names = {
      "person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "boat", "traffic light",
      "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
      "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
      "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
      "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
      "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "sofa",
      "pottedplant", "bed", "diningtable", "toilet", "tvmonitor", "laptop", "mouse", "remote", "keyboard",
      "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
      "teddy bear", "hair drier", "toothbrush"};
  return names;
}

namespace {

constexpr float kBnEps = 1e-3f;  // Ultralytics' BatchNorm2d eps

// One convolution with its (fused) bias: weight rows (cout, k*k*cin) in OHWI order.
struct ConvW {
  GgmlType type = GgmlType::F32;
  const void* w = nullptr;
  std::vector<float> owned;  // fused weights when loaded from a state_dict
  int cout = 0;
  int64_t cols = 0;
  std::vector<float> bias;
};

// NHWC activation.
struct T3 {
  int h = 0, w = 0, c = 0;
  std::vector<float> d;
  T3() = default;
  T3(int h_, int w_, int c_) : h(h_), w(w_), c(c_), d(size_t(h_) * size_t(w_) * size_t(c_)) {}
};

std::vector<float> tensor_f32(const safetensors::TensorInfo& t) {
  std::vector<float> v(size_t(t.n_elements()));
  safetensors::to_f32(t, 0, t.n_elements(), v.data());
  return v;
}

}  // namespace

struct YoloModel::Impl {
  std::map<std::string, ConvW> convs;
  std::optional<gguf::File> gguf;
  bool sppf_cv1_silu = true;
  int nc = 0, reg_max = 16;
  std::map<int, int> c2f_n;  // layer -> bottleneck count

  const ConvW& conv(const std::string& name) const {
    auto it = convs.find(name);
    if (it == convs.end()) fail("yolo: the model has no convolution '{}'", name);
    return it->second;
  }

  // Conv (+ bias) (+ SiLU) with kernel size from the weights (k*k*cin == cols), stride s, padding k/2.
  T3 run(KernelContext& ctx, const std::string& name, const T3& x, int stride, bool silu) const {
    const ConvW& cw = conv(name);
    if (x.c <= 0 || cw.cols % x.c) fail("yolo: '{}' takes rows of {}, its input has {} channels", name, cw.cols, x.c);
    const int64_t kk = cw.cols / x.c;
    const int k = int(std::lround(std::sqrt(double(kk))));
    if (int64_t(k) * k != kk || k % 2 == 0) fail("yolo: '{}' has a {}-tap kernel", name, kk);
    ops::Conv2dGeom g;
    g.kh = g.kw = k;
    g.stride_h = g.stride_w = stride;
    g.pad_top = g.pad_left = k / 2;
    const int oh = ops::conv_out_size(x.h, k, stride, k / 2, k / 2), ow = ops::conv_out_size(x.w, k, stride, k / 2, k / 2);
    T3 y(oh, ow, cw.cout);
    ops::conv2d(ctx, x.d.data(), x.h, x.w, x.c, cw.type, cw.w, cw.cout, cw.bias.data(), g, oh, ow,
                silu ? ops::Act::silu : ops::Act::none, y.d.data());
    return y;
  }

  static T3 concat(const std::vector<const T3*>& xs) {
    std::vector<const float*> ptrs;
    std::vector<int> cs;
    int c = 0;
    for (const T3* x : xs) {
      if (x->h != xs[0]->h || x->w != xs[0]->w) fail("yolo: concatenating maps of different sizes");
      ptrs.push_back(x->d.data());
      cs.push_back(x->c);
      c += x->c;
    }
    T3 y(xs[0]->h, xs[0]->w, c);
    ops::concat_channels(ptrs.data(), cs.data(), int(xs.size()), int64_t(y.h) * y.w, y.d.data());
    return y;
  }

  T3 c2f(KernelContext& ctx, int layer, const T3& x, bool shortcut) const {
    const std::string p = "model." + std::to_string(layer);
    T3 y = run(ctx, p + ".cv1", x, 1, true);
    const int c = y.c / 2;
    std::vector<T3> parts(2);
    for (int half = 0; half < 2; ++half) {  // chunk(2, dim=1)
      parts[size_t(half)] = T3(y.h, y.w, c);
      for (int64_t i = 0; i < int64_t(y.h) * y.w; ++i)
        std::memcpy(parts[size_t(half)].d.data() + i * c, y.d.data() + i * y.c + half * c, sizeof(float) * size_t(c));
    }
    auto it = c2f_n.find(layer);
    const int n = it == c2f_n.end() ? 0 : it->second;
    for (int j = 0; j < n; ++j) {
      const std::string m = p + ".m." + std::to_string(j);
      T3 b = run(ctx, m + ".cv2", run(ctx, m + ".cv1", parts.back(), 1, true), 1, true);
      if (shortcut) {
        const T3& in = parts.back();
        if (in.c != b.c) fail("yolo: '{}': shortcut over {} -> {} channels", m, in.c, b.c);
        for (size_t i = 0; i < b.d.size(); ++i) b.d[i] += in.d[i];
      }
      parts.push_back(std::move(b));
    }
    std::vector<const T3*> ptrs;
    for (const T3& t : parts) ptrs.push_back(&t);
    return run(ctx, p + ".cv2", concat(ptrs), 1, true);
  }

  T3 sppf(KernelContext& ctx, int layer, const T3& x) const {
    const std::string p = "model." + std::to_string(layer);
    std::vector<T3> ys;
    ys.push_back(run(ctx, p + ".cv1", x, 1, sppf_cv1_silu));
    ops::Conv2dGeom g;
    g.kh = g.kw = 5;
    g.pad_top = g.pad_left = 2;
    for (int i = 0; i < 3; ++i) {
      const T3& in = ys.back();
      T3 o(in.h, in.w, in.c);
      ops::max_pool2d(ctx.pool(), in.d.data(), in.h, in.w, in.c, g, in.h, in.w, o.d.data());
      ys.push_back(std::move(o));
    }
    return run(ctx, p + ".cv2", concat({&ys[0], &ys[1], &ys[2], &ys[3]}), 1, true);
  }

  static T3 upsample(const T3& x) {
    T3 y(x.h * 2, x.w * 2, x.c);
    ops::upsample_nearest(x.d.data(), x.h, x.w, x.c, 2, y.d.data());
    return y;
  }

  void add_state_dict_conv(const safetensors::File& f, const std::string& prefix, bool with_bn) {
    const auto& wt = f.get(prefix + (with_bn ? ".conv.weight" : ".weight"));
    if (wt.shape.size() != 4) fail("yolo: {}: '{}' is not a 4-D convolution weight", f.path(), wt.name);
    const int64_t co = wt.shape[0], ci = wt.shape[1], kh = wt.shape[2], kw = wt.shape[3];
    if (kh != kw || co <= 0 || ci <= 0 || co > 65536 || ci > 65536 || kh > 15)
      fail("yolo: {}: '{}' has an unsupported shape", f.path(), wt.name);
    std::vector<float> w = tensor_f32(wt), scale(size_t(co), 1.0f), bias(size_t(co), 0.0f);
    if (with_bn) {
      auto get = [&](const char* n) {
        const auto& t = f.get(prefix + ".bn." + n);
        if (int64_t(t.n_elements()) != co) fail("yolo: {}: '{}' has {} values for {} channels", f.path(), t.name, t.n_elements(), co);
        return tensor_f32(t);
      };
      const auto g = get("weight"), b = get("bias"), m = get("running_mean"), v = get("running_var");
      for (int64_t o = 0; o < co; ++o) {
        const double s = double(g[size_t(o)]) / std::sqrt(double(v[size_t(o)]) + kBnEps);
        scale[size_t(o)] = float(s);
        bias[size_t(o)] = float(double(b[size_t(o)]) - double(m[size_t(o)]) * s);
      }
    } else if (const auto* bt = f.find(prefix + ".bias")) {
      if (int64_t(bt->n_elements()) != co) fail("yolo: {}: '{}' size", f.path(), bt->name);
      bias = tensor_f32(*bt);
    }
    ConvW cw;
    cw.cout = int(co);
    cw.cols = kh * kw * ci;
    cw.owned.resize(size_t(co * cw.cols));
    for (int64_t o = 0; o < co; ++o)  // OIHW -> OHWI, times the BN scale
      for (int64_t i = 0; i < ci; ++i)
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t x = 0; x < kw; ++x)
            cw.owned[size_t(((o * kh + y) * kw + x) * ci + i)] =
                w[size_t(((o * ci + i) * kh + y) * kw + x)] * scale[size_t(o)];
    cw.w = cw.owned.data();
    cw.bias = std::move(bias);
    convs[prefix] = std::move(cw);
  }

  void finish(const std::string& path) {
    // C2f repeats from the names; classes and DFL bins from the head.
    for (const auto& [name, cw] : convs) {
      const auto pos = name.find(".m.");
      if (pos == std::string::npos || name.rfind("model.", 0) != 0) continue;
      const int layer = std::atoi(name.c_str() + 6);
      const int j = std::atoi(name.c_str() + pos + 3);
      c2f_n[layer] = std::max(c2f_n[layer], j + 1);
    }
    auto it = convs.find("model.22.cv3.0.2"), jt = convs.find("model.22.cv2.0.2");
    if (it == convs.end() || jt == convs.end()) fail("yolo: {}: not a YOLOv8 detection model (no model.22 head)", path);
    nc = it->second.cout;
    if (jt->second.cout % 4) fail("yolo: {}: box head has {} outputs", path, jt->second.cout);
    reg_max = jt->second.cout / 4;
    // Every convolution of the fixed graph must be present (cheap check of a truncated export).
    for (int layer : {0, 1, 3, 5, 7, 16, 19}) conv("model." + std::to_string(layer));
    for (int layer : {2, 4, 6, 8, 12, 15, 18, 21})
      for (const char* m : {".cv1", ".cv2"}) conv("model." + std::to_string(layer) + m);
    for (int i = 0; i < 3; ++i)
      for (const char* h : {"cv2", "cv3"})
        for (int j = 0; j < 3; ++j) conv("model.22." + std::string(h) + "." + std::to_string(i) + "." + std::to_string(j));
  }
};

YoloModel::~YoloModel() = default;
YoloModel::YoloModel(YoloModel&&) noexcept = default;
YoloModel& YoloModel::operator=(YoloModel&&) noexcept = default;

int YoloModel::num_classes() const { return impl_->nc; }
int YoloModel::reg_max() const { return impl_->reg_max; }

std::string YoloModel::scale() const {
  // First conv width: 64 x width multiple (n 0.25, s 0.5, m 0.75, l 1, x 1.25).
  switch (impl_->conv("model.0").cout) {
    case 16: return "n";
    case 32: return "s";
    case 48: return "m";
    case 64: return "l";
    case 80: return "x";
    default: return "";
  }
}

YoloModel YoloModel::load(const std::string& path) {
  YoloModel m;
  m.path_ = path;
  m.impl_ = std::make_unique<Impl>();
  Impl& im = *m.impl_;
  const MappedFile probe(path);
  const bool is_gguf = probe.size() >= 4 && std::memcmp(probe.data(), "GGUF", 4) == 0;
  if (is_gguf) {
    im.gguf = gguf::File::open(path);
    const gguf::File& f = *im.gguf;
    const std::string arch = f.get_string_or("general.architecture", "");
    if (arch != "yolov8") fail("yolo: {}: general.architecture is '{}', not 'yolov8'", path, arch);
    im.sppf_cv1_silu = f.get_bool_or("yolov8.sppf_cv1_silu", true);
    for (const gguf::Tensor& t : f.tensors()) {
      const std::string& n = t.name;
      if (n.size() < 8 || n.compare(n.size() - 7, 7, ".weight") != 0) continue;
      const std::string prefix = n.substr(0, n.size() - 7);
      if (t.shape.size() != 2) fail("yolo: {}: '{}' is not 2-D", path, n);
      ConvW cw;
      cw.type = t.type;
      cw.w = t.data;
      cw.cols = int64_t(t.ne(0));
      cw.cout = int(t.ne(1));
      const gguf::Tensor& b = f.tensor(prefix + ".bias");
      if (b.type != GgmlType::F32 || b.n_elements != uint64_t(cw.cout))
        fail("yolo: {}: '{}' must be {} f32 values", path, b.name, cw.cout);
      cw.bias.resize(size_t(cw.cout));
      std::memcpy(cw.bias.data(), b.data, sizeof(float) * size_t(cw.cout));
      im.convs[prefix] = std::move(cw);
    }
    if (f.has("yolov8.class_names")) m.names_ = f.get_array("yolov8.class_names").get<std::string>();
  } else {
    const safetensors::File f = safetensors::File::open(path);
    for (const auto& t : f.tensors()) {
      const std::string& n = t.name;
      auto ends = [&](const char* s) {
        const size_t l = std::strlen(s);
        return n.size() > l && n.compare(n.size() - l, l, s) == 0;
      };
      if (ends(".conv.weight") && f.find(n.substr(0, n.size() - 12) + ".bn.weight")) {
        im.add_state_dict_conv(f, n.substr(0, n.size() - 12), true);
      } else if (ends(".weight") && t.shape.size() == 4 && n.find(".dfl.") == std::string::npos &&
                 !ends(".conv.weight")) {
        im.add_state_dict_conv(f, n.substr(0, n.size() - 7), false);
      }
    }
    // YOLOv8 applies SiLU after SPPF's first conv; some later Ultralytics blocks build SPPF without it
    // (act=False). A state_dict does not say which, so an exporter may record "sppf_cv1_act": "identity".
    auto it = f.metadata().find("sppf_cv1_act");
    im.sppf_cv1_silu = it == f.metadata().end() || it->second != "identity";
  }
  im.finish(path);
  if (m.names_.empty()) {
    if (im.nc == 80) m.names_ = coco_names();
    else
      for (int i = 0; i < im.nc; ++i) m.names_.push_back("class_" + std::to_string(i));
  }
  if (int(m.names_.size()) != im.nc) fail("yolo: {}: {} class names for {} classes", path, m.names_.size(), im.nc);
  return m;
}

std::vector<float> YoloModel::forward(KernelContext& ctx, const image::Image& img) const {
  const Impl& im = *impl_;
  if (img.width % 32 || img.height % 32 || img.width <= 0 || img.height <= 0)
    fail("yolo: input {}x{} is not a multiple of 32", img.width, img.height);
  T3 x(img.height, img.width, 3);
  for (size_t i = 0; i < x.d.size(); ++i) x.d[i] = float(img.rgb[i]) / 255.0f;
  auto L = [](int i) { return "model." + std::to_string(i); };
  T3 x0 = im.run(ctx, L(0), x, 2, true);
  T3 x1 = im.run(ctx, L(1), x0, 2, true);
  T3 x2 = im.c2f(ctx, 2, x1, true);
  T3 x3 = im.run(ctx, L(3), x2, 2, true);
  T3 x4 = im.c2f(ctx, 4, x3, true);  // P3 skip
  T3 x5 = im.run(ctx, L(5), x4, 2, true);
  T3 x6 = im.c2f(ctx, 6, x5, true);  // P4 skip
  T3 x7 = im.run(ctx, L(7), x6, 2, true);
  T3 x8 = im.c2f(ctx, 8, x7, true);
  T3 x9 = im.sppf(ctx, 9, x8);  // P5 skip
  const T3 u9 = Impl::upsample(x9);
  T3 x12 = im.c2f(ctx, 12, Impl::concat({&u9, &x6}), false);
  const T3 u12 = Impl::upsample(x12);
  T3 x15 = im.c2f(ctx, 15, Impl::concat({&u12, &x4}), false);  // out P3 (stride 8)
  T3 x16 = im.run(ctx, L(16), x15, 2, true);
  T3 x18 = im.c2f(ctx, 18, Impl::concat({&x16, &x12}), false);  // out P4 (stride 16)
  T3 x19 = im.run(ctx, L(19), x18, 2, true);
  T3 x21 = im.c2f(ctx, 21, Impl::concat({&x19, &x9}), false);  // out P5 (stride 32)

  const int nc = im.nc, rm = im.reg_max, no = 4 + nc;
  const T3* feats[3] = {&x15, &x18, &x21};
  int64_t anchors = 0;
  for (const T3* f : feats) anchors += int64_t(f->h) * f->w;
  std::vector<float> out(size_t(anchors) * size_t(no));
  int64_t a0 = 0;
  for (int l = 0; l < 3; ++l) {
    const std::string p = "model.22.cv2." + std::to_string(l), q = "model.22.cv3." + std::to_string(l);
    T3 box = im.run(ctx, p + ".2", im.run(ctx, p + ".1", im.run(ctx, p + ".0", *feats[l], 1, true), 1, true), 1, false);
    T3 cls = im.run(ctx, q + ".2", im.run(ctx, q + ".1", im.run(ctx, q + ".0", *feats[l], 1, true), 1, true), 1, false);
    const float stride = float(img.height) / float(feats[l]->h);
    const int w = feats[l]->w;
    for (int64_t i = 0; i < int64_t(box.h) * box.w; ++i) {
      float* o = out.data() + size_t(a0 + i) * size_t(no);
      // DFL: channel s*rm + b is bin b of side s (left, top, right, bottom); distance = sum b softmax_b.
      float dist[4];
      for (int s = 0; s < 4; ++s) {
        const float* bins = box.d.data() + i * box.c + s * rm;
        const float mx = *std::max_element(bins, bins + rm);
        double sum = 0, ex = 0;
        for (int b = 0; b < rm; ++b) {
          const double e = std::exp(double(bins[b] - mx));
          sum += e;
          ex += e * b;
        }
        dist[s] = float(ex / sum);
      }
      const float ax = float(i % w) + 0.5f, ay = float(i / w) + 0.5f;
      const float x1 = ax - dist[0], y1 = ay - dist[1], x2 = ax + dist[2], y2 = ay + dist[3];
      o[0] = (x1 + x2) / 2 * stride;
      o[1] = (y1 + y2) / 2 * stride;
      o[2] = (x2 - x1) * stride;
      o[3] = (y2 - y1) * stride;
      const float* c = cls.d.data() + i * cls.c;
      for (int k = 0; k < nc; ++k) o[4 + k] = 1.0f / (1.0f + std::exp(-c[k]));
    }
    a0 += int64_t(box.h) * box.w;
  }
  return out;
}

std::vector<Detection> yolo_nms(const float* raw, int64_t anchors, int nc, const YoloOptions& opt) {
  const int no = 4 + nc;
  std::vector<Detection> cand;
  for (int64_t a = 0; a < anchors; ++a) {
    const float* r = raw + a * no;
    int best = 0;
    for (int k = 1; k < nc; ++k)
      if (r[4 + k] > r[4 + best]) best = k;
    const float conf = r[4 + best];
    if (!(conf > opt.conf)) continue;
    cand.push_back({r[0] - r[2] / 2, r[1] - r[3] / 2, r[0] + r[2] / 2, r[1] + r[3] / 2, conf, best});
  }
  std::stable_sort(cand.begin(), cand.end(), [](const Detection& a, const Detection& b) { return a.conf > b.conf; });
  if (int(cand.size()) > opt.max_nms) cand.resize(size_t(opt.max_nms));
  // Greedy NMS per class (torchvision.ops.nms on class-offset boxes): a box is dropped when its IoU with a
  // kept box of the same class exceeds the threshold.
  std::vector<Detection> keep;
  std::vector<char> removed(cand.size(), 0);
  for (size_t i = 0; i < cand.size() && int(keep.size()) < opt.max_det; ++i) {
    if (removed[i]) continue;
    const Detection& a = cand[i];
    keep.push_back(a);
    const float area_a = (a.x2 - a.x1) * (a.y2 - a.y1);
    for (size_t j = i + 1; j < cand.size(); ++j) {
      const Detection& b = cand[j];
      if (removed[j] || b.cls != a.cls) continue;
      const float iw = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
      const float ih = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
      const float inter = iw * ih;
      const float area_b = (b.x2 - b.x1) * (b.y2 - b.y1);
      if (inter / (area_a + area_b - inter) > opt.iou) removed[j] = 1;
    }
  }
  return keep;
}

void yolo_unletterbox(std::vector<Detection>& dets, const image::Letterbox& lb, int width, int height) {
  for (Detection& d : dets) {
    d.x1 = std::clamp(lb.to_src_x(d.x1), 0.0f, float(width));
    d.x2 = std::clamp(lb.to_src_x(d.x2), 0.0f, float(width));
    d.y1 = std::clamp(lb.to_src_y(d.y1), 0.0f, float(height));
    d.y2 = std::clamp(lb.to_src_y(d.y2), 0.0f, float(height));
  }
}

std::vector<Detection> YoloModel::detect(KernelContext& ctx, const image::Image& img, const YoloOptions& opt,
                                         int size) const {
  if (img.empty()) fail("yolo: empty image");
  const image::Letterbox lb = image::letterbox(img, size, 114);
  const std::vector<float> raw = forward(ctx, lb.image);
  const int64_t anchors = int64_t(raw.size()) / (4 + num_classes());
  std::vector<Detection> dets = yolo_nms(raw.data(), anchors, num_classes(), opt);
  yolo_unletterbox(dets, lb, img.width, img.height);
  return dets;
}

int YoloModel::add_to_gguf(gguf::Writer& w, GgmlType type, const std::string& name) const {
  const Impl& im = *impl_;
  int fallbacks = 0;
  w.add_kv("general.architecture", std::string("yolov8"));
  w.add_kv("general.name", name);
  w.add_kv("yolov8.sppf_cv1_silu", im.sppf_cv1_silu);
  w.add_kv("yolov8.class_names", gguf::Array(names_));
  for (const auto& [prefix, conv] : im.convs) {
    const ConvW* cw = &conv;
    const GgmlType t = vision_weight_type(type, cw->cols);
    if (t != type) ++fallbacks;
    // Rows are converted while the file is written (the model must outlive w.write()).
    w.add_tensor(prefix + ".weight", t, {uint64_t(cw->cols), uint64_t(cw->cout)}, [cw, t](gguf::TensorSink& sink) {
      KernelContext ctx(KernelContext::Options{1, std::nullopt});
      std::vector<float> row(size_t(cw->cols));
      std::vector<uint8_t> out(ggml_row_size(t, uint64_t(cw->cols)));
      const size_t src_row = ggml_row_size(cw->type, uint64_t(cw->cols));
      for (int o = 0; o < cw->cout; ++o) {
        ctx.dequantize_row(cw->type, static_cast<const uint8_t*>(cw->w) + size_t(o) * src_row, row.data(), cw->cols);
        ctx.quantize_row(t, row.data(), out.data(), cw->cols);
        sink.write(out.data(), out.size());
      }
    });
    w.add_tensor(prefix + ".bias", GgmlType::F32, {uint64_t(cw->cout)},
                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(cw->bias.data()), cw->bias.size() * sizeof(float)));
  }
  return fallbacks;
}

}  // namespace pj::vision
