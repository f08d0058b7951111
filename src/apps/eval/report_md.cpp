#include "apps/eval/report.h"

#include <fmt/format.h>

#include <algorithm>

namespace pj::eval {

std::string fmt_percent(double f) { return f < 0 ? "-" : fmt::format("{:.1f}%", 100.0 * f); }
std::string fmt_megabytes(int64_t b) { return b < 0 ? "-" : fmt::format("{:.1f} MB", double(b) / 1e6); }

namespace {

std::string num(double v, const char* spec = "{:.3f}") { return v < 0 ? "-" : fmt::format(fmt::runtime(spec), v); }

// Markdown table cells must not contain '|' or newlines.
std::string cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string rate(int64_t c, int64_t n) {
  return c < 0 || n <= 0 ? "-" : fmt::format("{} ({}/{})", fmt_percent(double(c) / double(n)), c, n);
}

}  // namespace

std::string markdown_report(const std::vector<Summary>& runs) {
  std::string md = "# Evaluation report\n\n";
  md += "Strict scoring: the reply, cut of `<think>` blocks and trimmed, must equal the expected answer exactly. "
        "Lenient scoring counts a reply that merely contains it. Intervals are 95% Wilson score intervals.\n\n";
  md += "| Model | Quant | Size | Questions | Strict accuracy | 95% CI | Lenient accuracy | Latency mean / median / "
        "p95 (s) | TTFT median (s) | Prompt tok/s | Generation tok/s | Peak RSS |\n";
  md += "|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|\n";
  for (const auto& s : runs) {
    const int64_t strict = s.strict_correct >= 0 ? s.strict_correct : -1;
    std::string q = fmt::format("{}", s.total);
    if (!s.complete) q += fmt::format(" of {} (incomplete)", s.planned);
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {} | {} | {} | {} |\n", cell(s.model_name),
                      cell(s.quant_type.empty() ? "-" : s.quant_type), fmt_megabytes(s.model_size_bytes), q,
                      rate(strict, s.total),
                      strict >= 0 ? fmt::format("{:.1f}–{:.1f}%", 100 * s.ci.lo, 100 * s.ci.hi) : "-",
                      rate(s.lenient_correct, s.total), num(s.latency.mean), num(s.latency.median), num(s.latency.p95),
                      num(s.ttft.median), num(s.prompt_tps, "{:.1f}"), num(s.generation_tps, "{:.1f}"),
                      fmt_megabytes(s.peak_rss_bytes));
  }
  // Per category: every category any run has, in first-seen order.
  std::vector<std::string> cats;
  for (const auto& s : runs)
    for (const auto& c : s.categories)
      if (std::find(cats.begin(), cats.end(), c.name) == cats.end()) cats.push_back(c.name);
  if (!cats.empty()) {
    md += "\n## Strict accuracy by category\n\n| Model |";
    for (const auto& c : cats) md += " " + cell(c) + " |";
    md += "\n|---|";
    for (size_t i = 0; i < cats.size(); ++i) md += "---:|";
    md += "\n";
    for (const auto& s : runs) {
      md += "| " + cell(s.model_name) + " |";
      for (const auto& name : cats) {
        auto it = std::find_if(s.categories.begin(), s.categories.end(), [&](const CategoryStat& c) { return c.name == name; });
        const int64_t strict = it == s.categories.end() ? -1 : (it->strict_correct >= 0 ? it->strict_correct : (s.mode == "strict" ? it->correct : -1));
        md += " " + (it == s.categories.end() ? std::string("-") : rate(strict, it->total)) + " |";
      }
      md += "\n";
    }
    md += "\n## Lenient accuracy by category\n\n| Model |";
    for (const auto& c : cats) md += " " + cell(c) + " |";
    md += "\n|---|";
    for (size_t i = 0; i < cats.size(); ++i) md += "---:|";
    md += "\n";
    for (const auto& s : runs) {
      md += "| " + cell(s.model_name) + " |";
      for (const auto& name : cats) {
        auto it = std::find_if(s.categories.begin(), s.categories.end(), [&](const CategoryStat& c) { return c.name == name; });
        md += " " + (it == s.categories.end() ? std::string("-") : rate(it->lenient_correct, it->total)) + " |";
      }
      md += "\n";
    }
  }
  md += "\n## Runs\n\n";
  for (const auto& s : runs)
    md += fmt::format("- {}: `{}` ({} mode, thinking {}, {})\n", cell(s.model_name), s.path, s.mode,
                      s.thinking.empty() ? "-" : s.thinking, s.timestamp.empty() ? "no timestamp" : s.timestamp);
  return md;
}

}  // namespace pj::eval
