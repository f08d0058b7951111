#include "models/vision/service.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/kernels/context.h"
#include "models/vision/clip.h"
#include "models/vision/clip_tokenizer.h"
#include "models/vision/labels.h"
#include "models/vision/tflite.h"
#include "models/vision/vit.h"

namespace pj::vision {

struct VisionService::Impl {
  std::optional<VitModel> vit;
  std::optional<ClipModel> clip;
  std::vector<std::string> labels;             // ViT class names
  std::optional<ClipTokenizer> tokenizer;      // CLIP text
  std::unique_ptr<TfliteModel> tflite;         // (the interpreter refers to it: never moved)
  std::unique_ptr<TfliteInterpreter> interp;
};

namespace {
bool is_tflite(const std::string& path) {
  if (is_directory(path)) return false;
  if (path.size() >= 7 && path.compare(path.size() - 7, 7, ".tflite") == 0) return true;
  const MappedFile f(path);
  return f.size() >= 8 && std::memcmp(f.data() + 4, "TFL3", 4) == 0;
}
}  // namespace

std::vector<std::string> split_labels(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(start, end - start);
    size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    if (a != std::string::npos) out.push_back(item.substr(a, b - a + 1));
    start = end + 1;
  }
  return out;
}

VisionService::VisionService(const std::string& path, const std::string& exe_path) : impl_(std::make_unique<Impl>()), path_(path) {
  if (!file_exists(path) && !is_directory(path)) fail("vision: {}: no such file or directory", path);
  std::string exe = exe_path;
  if (exe == "/proc/self/exe") {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    exe = n > 0 ? std::string(buf, size_t(n)) : "";
  }
  if (is_tflite(path)) {
    type_ = "tflite";
    impl_->tflite = std::make_unique<TfliteModel>(path);
    impl_->interp = std::make_unique<TfliteInterpreter>(*impl_->tflite, true);
    const TfliteTensor& in = impl_->interp->input_tensor();
    if (in.shape.size() != 4 || in.shape[0] != 1 || in.shape[3] != 3 || in.shape[1] <= 0 || in.shape[2] <= 0 ||
        in.shape[1] > 4096 || in.shape[2] > 4096)
      fail("vision: {}: the TFLite input is not one RGB image (NHWC 1xHxWx3)", path);
    const auto& outs = impl_->tflite->outputs();
    if (outs.empty()) fail("vision: {}: the TFLite model has no output", path);
    const int64_t n = impl_->tflite->tensors()[size_t(outs[0])].elements();
    if (n <= 1 || n > 1000000) fail("vision: {}: the TFLite output has {} values, not class scores", path, n);
    impl_->labels = resolve_labels({}, int(n), find_imagenet_labels(exe));
    return;
  }
  VisionWeights w = VisionWeights::open(path);
  type_ = vision_model_type(w.config());
  if (type_ == "vit") {
    impl_->vit.emplace(std::move(w));
    impl_->labels = resolve_labels(impl_->vit->config_labels(), impl_->vit->n_labels(), find_imagenet_labels(exe));
  } else {
    impl_->clip.emplace(std::move(w));
    // The folder's vocab.json + merges.txt, else OpenAI's merges file that setup.sh installs.
    if (is_directory(path) && ClipTokenizer::folder_has_files(path)) {
      impl_->tokenizer.emplace(ClipTokenizer::load(path));
    } else {
      std::string bpe = find_clip_bpe(exe);
      if (!bpe.empty()) impl_->tokenizer.emplace(ClipTokenizer::load(bpe));
    }
  }
}

VisionService::~VisionService() = default;

std::string find_clip_bpe(const std::string& exe) {
  if (const char* e = std::getenv("PAJAMAS_CLIP_BPE")) return e;
  const std::string rel = "models/clip-bpe/bpe_simple_vocab_16e6.txt.gz";
  std::string dir = exe.substr(0, exe.find_last_of('/') == std::string::npos ? 0 : exe.find_last_of('/'));
  for (const std::string& c : {rel, dir + "/../" + rel, dir + "/../../" + rel})
    if (file_exists(c)) return c;
  return "";
}

namespace {
std::vector<Scored> top_of(const std::vector<float>& logits, const std::vector<std::string>& names, int k) {
  float m = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double s = 0;
  for (size_t i = 0; i < logits.size(); ++i) s += p[i] = std::exp(double(logits[i]) - m);
  std::vector<int> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int>(k, int(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return p[a] > p[b]; });
  std::vector<Scored> out;
  for (int i = 0; i < k; ++i) out.push_back({names[idx[i]], idx[i], float(p[idx[i]] / s)});
  return out;
}
}  // namespace

std::vector<float> VisionService::text_embedding(KernelContext& ctx, const std::string& text) const {
  if (!impl_->clip) fail("vision: {}: text embeddings need a CLIP model", path_);
  if (!impl_->tokenizer)
    fail("vision: {}: no CLIP tokenizer: the folder has no vocab.json/merges.txt and models/clip-bpe/"
         "bpe_simple_vocab_16e6.txt.gz (setup.sh) was not found; set PAJAMAS_CLIP_BPE", path_);
  return impl_->clip->text_embeds(ctx, impl_->tokenizer->encode_for_model(text, impl_->clip->max_positions()));
}

std::vector<float> VisionService::image_embedding(KernelContext& ctx, const image::Image& img) const {
  if (!impl_->clip) fail("vision: {}: image embeddings need a CLIP model", path_);
  return impl_->clip->image_embeds(ctx, impl_->clip->preprocess()(img));
}

std::vector<Scored> VisionService::classify(KernelContext& ctx, const image::Image& img,
                                            const std::vector<std::string>& labels, const std::string& templ,
                                            int top_k) const {
  if (impl_->vit) {
    if (!labels.empty()) fail("vision: {}: --labels needs a CLIP model (this is a ViT classifier)", path_);
    return top_of(impl_->vit->logits(ctx, impl_->vit->preprocess()(img)), impl_->labels, top_k);
  }
  if (impl_->interp) {
    if (!labels.empty()) fail("vision: {}: --labels needs a CLIP model (this is a TFLite classifier)", path_);
    const TfliteTensor& in = impl_->interp->input_tensor();
    const image::Image x = image::resize(img, in.shape[2], in.shape[1], image::Filter::bilinear);
    std::vector<float> p;
    if (in.type == int(TfliteType::uint8)) {
      p = impl_->interp->run_quantized(ctx, x.rgb);
    } else {
      std::vector<float> f(x.rgb.size());
      for (size_t i = 0; i < f.size(); ++i) f[i] = (float(x.rgb[i]) - 127.5f) / 127.5f;
      p = impl_->interp->run(ctx, f);
    }
    if (p.size() != impl_->labels.size()) fail("vision: {}: the TFLite output has {} values", path_, p.size());
    // A classifier ending in SOFTMAX gives probabilities; anything else is treated as logits.
    double sum = 0;
    bool probs = true;
    for (float v : p) {
      sum += v;
      probs = probs && v >= 0 && std::isfinite(v);
    }
    if (!(probs && std::fabs(sum - 1) < 0.05)) return top_of(p, impl_->labels, top_k);
    // Probabilities as the model gives them (a uint8 softmax sums to 1 only within its 1/256 steps).
    std::vector<int> idx(p.size());
    std::iota(idx.begin(), idx.end(), 0);
    const int k = std::min<int>(top_k, int(idx.size()));
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return p[size_t(a)] > p[size_t(b)]; });
    std::vector<Scored> out;
    for (int i = 0; i < k; ++i) out.push_back({impl_->labels[size_t(idx[size_t(i)])], idx[size_t(i)], p[size_t(idx[size_t(i)])]});
    return out;
  }
  if (labels.empty()) fail("vision: {}: a CLIP model classifies against labels: give --labels a,b,c", path_);
  std::vector<float> ie = image_embedding(ctx, img), logits;
  for (const auto& l : labels) {
    std::string prompt = templ;
    size_t pos = prompt.find("{label}");
    if (pos != std::string::npos) prompt.replace(pos, 7, l);
    else prompt += l;
    std::vector<float> te = text_embedding(ctx, prompt);
    double dot = 0;
    for (size_t i = 0; i < te.size(); ++i) dot += double(te[i]) * ie[i];
    logits.push_back(float(dot * impl_->clip->logit_scale()));
  }
  return top_of(logits, labels, top_k);
}

}  // namespace pj::vision
