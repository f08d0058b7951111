#include "models/vision/labels.h"

#include <cstdlib>
#include <regex>
#include <sstream>

#include "core/base/error.h"
#include "core/base/file.h"

namespace pj::vision {

bool is_generic_label(const std::string& s) {
  static const std::regex re("^(label|LABEL|class|CLASS)_[0-9]+$");
  return s.empty() || std::regex_match(s, re);
}

std::vector<std::string> read_labels(const std::string& path) {
  if (!file_exists(path)) fail("vision: {}: label file not found", path);
  std::istringstream in(read_text_file(path));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

std::string find_imagenet_labels(const std::string& exe_path) {
  if (const char* e = std::getenv("PAJAMAS_IMAGENET_LABELS")) return e;
  const std::string rel = "shared/data/labels/imagenet_labels_1001.txt";
  std::vector<std::string> cands = {"../" + rel};
  std::string dir = exe_path.substr(0, exe_path.find_last_of('/') == std::string::npos ? 0 : exe_path.find_last_of('/'));
  if (!dir.empty()) cands.push_back(dir + "/../../" + rel), cands.push_back(dir + "/../../../" + rel);
#ifdef PJ_SHARED_DIR_DEFAULT
  cands.push_back(std::string(PJ_SHARED_DIR_DEFAULT) + "/data/labels/imagenet_labels_1001.txt");
#endif
  for (const auto& c : cands)
    if (file_exists(c)) return c;
  return "";
}

std::vector<std::string> resolve_labels(const std::vector<std::string>& cfg, int n, const std::string& imagenet) {
  std::vector<std::string> out(n);
  bool real = int(cfg.size()) == n;
  for (int i = 0; real && i < n; ++i) real = !is_generic_label(cfg[i]);
  if (real) return cfg;
  if ((n == 1000 || n == 1001) && !imagenet.empty()) {
    auto all = read_labels(imagenet);
    // The 1001-line file starts with "background" (TensorFlow's class 0); 1000-class models start at tench.
    int skip = (int(all.size()) == 1001 && n == 1000) ? 1 : 0;
    if (int(all.size()) - skip >= n) {
      for (int i = 0; i < n; ++i) out[i] = all[i + skip];
      return out;
    }
  }
  for (int i = 0; i < n; ++i) out[i] = i < int(cfg.size()) && !cfg[i].empty() ? cfg[i] : "class_" + std::to_string(i);
  return out;
}

}  // namespace pj::vision
