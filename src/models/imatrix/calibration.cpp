#include "models/imatrix/calibration.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/base/error.h"

namespace pj::imatrix {

// Defined in the generated calibration_data.cpp (calibration.cmake).
struct EmbeddedFile {
  std::string_view name;  // "general.txt", "heldout/general.txt"
  std::string_view data;
};
const std::vector<EmbeddedFile>& embedded_calibration_files();

std::vector<CalibrationSet> calibration_sets() {
  std::vector<CalibrationSet> sets;
  auto find = [&](const std::string& name) -> CalibrationSet& {
    for (auto& s : sets)
      if (s.name == name) return s;
    sets.push_back({name, {}, {}});
    return sets.back();
  };
  for (const EmbeddedFile& f : embedded_calibration_files()) {
    std::string_view n = f.name;
    const bool held = n.starts_with("heldout/");
    if (held) n.remove_prefix(8);
    if (!n.ends_with(".txt")) continue;
    n.remove_suffix(4);
    CalibrationSet& s = find(std::string(n));
    (held ? s.heldout : s.calibration) = f.data;
  }
  std::sort(sets.begin(), sets.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return sets;
}

std::vector<std::string> split_samples(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    const size_t b = cur.find_first_not_of(" \t\r\n");
    if (b != std::string::npos) {
      const size_t e = cur.find_last_not_of(" \t\r\n");
      out.push_back(cur.substr(b, e - b + 1));
    }
    cur.clear();
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line == "=== sample ===") flush();
    else {
      cur.append(line);
      cur.push_back('\n');
    }
    pos = nl + 1;
  }
  flush();
  return out;
}

std::string join_samples(const std::vector<std::string>& samples) {
  std::string s;
  for (const auto& x : samples) {
    if (!s.empty()) s += "\n\n";
    s += x;
  }
  return s;
}

CalibrationText resolve_calibration(const std::string& spec, bool heldout) {
  CalibrationText out;
  std::vector<std::string> samples;
  const std::vector<CalibrationSet> sets = calibration_sets();
  std::stringstream in(spec);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) continue;
    std::vector<std::string> got;
    if (std::filesystem::exists(item) || item.find('/') != std::string::npos) {
      std::ifstream f(item, std::ios::binary);
      if (!f) fail("calibration: cannot read '{}'", item);
      std::stringstream ss;
      ss << f.rdbuf();
      got = split_samples(ss.str());
    } else {
      auto it = std::find_if(sets.begin(), sets.end(), [&](const auto& s) { return s.name == item; });
      std::string_view data = it == sets.end() ? std::string_view() : (heldout ? it->heldout : it->calibration);
      if (data.empty()) {
        std::string names;
        for (const auto& s : sets)
          if (!(heldout ? s.heldout : s.calibration).empty()) names += (names.empty() ? "" : ", ") + s.name;
        fail("calibration: no {}set named '{}' (known: {})", heldout ? "held-out " : "", item,
             names.empty() ? "none" : names);
      }
      got = split_samples(data);
    }
    if (got.empty()) fail("calibration: '{}' has no text", item);
    samples.insert(samples.end(), got.begin(), got.end());
    out.name += (out.name.empty() ? "" : "+") + item;
  }
  if (samples.empty()) fail("calibration: no set given");
  out.n_samples = samples.size();
  out.text = join_samples(samples);
  return out;
}

}  // namespace pj::imatrix
