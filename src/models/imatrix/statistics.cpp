#include "models/imatrix/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <regex>
#include <sstream>

namespace pj::imatrix {

namespace {

void split_name(const std::string& input, std::string& layer, std::string& kind) {
  std::vector<std::string> parts;
  std::istringstream in(input);
  for (std::string item; std::getline(in, item, '.');) parts.push_back(item);
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    if (parts[i] == "blk") {
      layer = parts[i + 1];
      break;
    }
  for (size_t i = 1; i < parts.size(); ++i)
    if (parts[i] == "weight") {
      kind = parts[i - 1];
      break;
    }
  if (kind.empty()) kind = input;
  if (layer.empty()) layer = "-";
}

}  // namespace

float TensorStats::entropy_norm() const {
  return elements > 1 ? 100.0f * (entropy / std::log2(float(elements))) : 0.0f;
}

std::vector<TensorStats> tensor_statistics(const quantize::RawImatrix& m) {
  std::vector<TensorStats> out;
  std::map<std::string, const std::vector<float>*> sums;
  for (const auto& [name, e] : m.entries) {
    if (e.counts.empty() || e.sums.size() % e.counts.size() != 0) continue;
    const size_t n_mat = e.counts.size(), row = e.sums.size() / n_mat;
    std::vector<float> act;
    for (size_t i = 0; i < n_mat; ++i) {
      if (e.counts[i] == 0) continue;
      for (size_t j = 0; j < row; ++j) act.push_back(e.sums[i * row + j] / float(e.counts[i]));
    }
    if (act.empty()) continue;
    TensorStats t;
    t.tensor = name;
    split_name(name, t.layer, t.kind);
    t.total = std::accumulate(act.begin(), act.end(), 0.0f);
    t.max = *std::max_element(act.begin(), act.end());
    t.min = *std::min_element(act.begin(), act.end());
    t.mean = t.total / float(act.size());
    const float sq = std::inner_product(act.begin(), act.end(), act.begin(), 0.0f);
    t.stddev = std::sqrt(std::max(0.0f, sq / float(act.size()) - t.mean * t.mean));
    const auto inactive = std::count_if(act.begin(), act.end(), [](float v) { return std::fabs(v) <= 1e-5f; });
    t.active = 1 - float(inactive) / float(act.size());
    if (t.total > 0)
      for (float a : act)
        if (const float p = a / t.total; p > 0) t.entropy -= p * std::log2(p);
    int z = 0;
    if (t.stddev > 0)
      for (float a : act)
        if ((a - t.mean) / t.stddev > 1) ++z;
    t.elements = int(act.size());
    t.zd = float(z) / float(t.elements);
    out.push_back(std::move(t));
    sums[name] = &e.sums;
  }
  static const std::regex blk(R"(blk\.(\d+)\.)");
  for (TensorStats& t : out) {
    std::smatch mt;
    if (!std::regex_search(t.tensor, mt, blk)) continue;
    std::string prev = t.tensor;
    prev.replace(size_t(mt.position(1)), size_t(mt.length(1)), std::to_string(std::stoi(mt[1]) - 1));
    const auto it = sums.find(prev);
    if (it == sums.end() || it->second->size() != sums[t.tensor]->size()) continue;
    const std::vector<float>& a = *sums[t.tensor];
    const std::vector<float>& b = *it->second;
    const float dp = std::inner_product(a.begin(), a.end(), b.begin(), 0.0f);
    const float na = std::sqrt(std::inner_product(a.begin(), a.end(), a.begin(), 0.0f));
    const float nb = std::sqrt(std::inner_product(b.begin(), b.end(), b.begin(), 0.0f));
    t.cossim = dp / (na * nb);
  }
  std::sort(out.begin(), out.end(), [](const TensorStats& a, const TensorStats& b) {
    return a.kind < b.kind || (a.kind == b.kind && a.total > b.total);
  });
  return out;
}

std::vector<LayerStats> layer_statistics(const std::vector<TensorStats>& ts) {
  struct Acc { double bias = 0, zd = 0, cossim = 0; int64_t n = 0; };
  std::map<int, Acc> by_layer;
  for (const TensorStats& t : ts) {
    if (t.layer == "-") continue;
    Acc& a = by_layer[std::stoi(t.layer)];
    a.bias += double(t.elements) * t.total;
    a.zd += double(t.elements) * t.zd;
    a.cossim += double(t.elements) * t.cossim;
    a.n += t.elements;
  }
  std::vector<LayerStats> out;
  for (const auto& [layer, a] : by_layer)
    if (a.n > 0) out.push_back({layer, float(a.bias / double(a.n)), float(a.zd / double(a.n)), float(a.cossim / double(a.n))});
  return out;
}

}  // namespace pj::imatrix
