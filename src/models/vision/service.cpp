#include "models/vision/service.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/base/error.h"
#include "core/base/file.h"
#include "core/kernels/context.h"
#include "models/vision/clip.h"
#include "models/vision/clip_tokenizer.h"
#include "models/vision/labels.h"
#include "models/vision/vit.h"

namespace pj::vision {

struct VisionService::Impl {
  std::optional<VitModel> vit;
  std::optional<ClipModel> clip;
  std::vector<std::string> labels;             // ViT class names
  std::optional<ClipTokenizer> tokenizer;      // CLIP text
};

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
  VisionWeights w = VisionWeights::open(path);
  type_ = vision_model_type(w.config());
  std::string exe = exe_path;
  if (exe == "/proc/self/exe") {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    exe = n > 0 ? std::string(buf, size_t(n)) : "";
  }
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
