// The calibration registry: the texts in data/calibration/<domain>.txt (for importance matrices) and
// data/calibration/heldout/<domain>.txt (for evaluation) are compiled into the binary
// (calibration.cmake), so the sets work without the repository. In a file, samples are separated by
// a line that is exactly "=== sample ===". A set's text is its samples joined by blank lines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pj::imatrix {

struct CalibrationSet {
  std::string name;               // "medical"
  std::string_view calibration;   // raw file contents (empty if the file is missing)
  std::string_view heldout;
};

// The embedded sets, sorted by name.
std::vector<CalibrationSet> calibration_sets();

// Samples of a file's contents: split at "=== sample ===" lines, blank lines around trimmed, empty
// samples dropped.
std::vector<std::string> split_samples(std::string_view text);
std::string join_samples(const std::vector<std::string>& samples);

struct CalibrationText {
  std::string name;   // "medical", "general+medical", or the path
  std::string text;   // samples joined by blank lines
  size_t n_samples = 0;
};

// `spec`: a comma-separated list of embedded set names or file paths (a path is anything that exists
// on disk or contains '/'). heldout: the held-out text of each named set instead. pj::Error listing
// the known names for an unknown one.
CalibrationText resolve_calibration(const std::string& spec, bool heldout);

}  // namespace pj::imatrix
