// Comparison reports across evaluations (typically one model at several quantizations): Markdown for
// reading in a repository, and one self-contained HTML file (inline CSS and SVG charts, no scripts, no
// external resources) with accuracy, size and speed charts.
#pragma once

#include "apps/eval/results.h"

#include <string>
#include <vector>

namespace pj::eval {

std::string markdown_report(const std::vector<Summary>& runs);
std::string html_report(const std::vector<Summary>& runs);

// Shared formatting: "12.3%", "98.4 MB", "-" for unknown (negative) values.
std::string fmt_percent(double fraction);
std::string fmt_megabytes(int64_t bytes);

}  // namespace pj::eval
