#include "apps/eval/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

namespace pj::eval {

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

struct Series {
  std::string name, colour;
  std::vector<double> values;        // < 0: unknown, no bar
  std::vector<Interval> whiskers;    // optional, same scale as values
};

// A horizontal grouped bar chart: one group per label, one bar per series, value printed at the end
// of each bar. `scale_max` <= 0 picks the largest value.
std::string bar_chart(const std::string& title, const std::vector<std::string>& labels, const std::vector<Series>& series,
                      double scale_max, const std::function<std::string(double)>& show) {
  // Label column wide enough for the longest label at 12 px sans-serif (about 7 px a character).
  size_t longest = 0;
  for (const auto& l : labels) longest = std::max(longest, l.size());
  const int label_w = int(std::clamp<size_t>(longest * 7 + 16, 120, 480)), plot_w = 420, value_w = 90;
  const int bar_h = 16, gap = 10;
  const int group_h = int(series.size()) * bar_h + gap;
  const int top = 34, legend_h = 22;
  const int height = top + int(labels.size()) * group_h + legend_h + 8;
  const int width = label_w + plot_w + value_w;
  if (scale_max <= 0)
    for (const auto& s : series)
      for (double v : s.values) scale_max = std::max(scale_max, v);
  if (scale_max <= 0) scale_max = 1;
  std::string g = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" "
      "aria-label=\"{}\">\n<text x=\"0\" y=\"18\" class=\"title\">{}</text>\n",
      width, height, width, height, esc(title), esc(title));
  for (int k = 0; k <= 4; ++k) {  // grid at 0, 25, 50, 75, 100% of the scale
    const double x = label_w + plot_w * k / 4.0;
    g += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" class=\"grid\"/>\n", x, top - 4, x,
                     top + int(labels.size()) * group_h - gap + 4);
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    const int y0 = top + int(i) * group_h;
    g += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"end\">{}</text>\n", label_w - 8,
                     y0 + int(series.size()) * bar_h / 2 + 4, esc(labels[i]));
    for (size_t s = 0; s < series.size(); ++s) {
      const double v = i < series[s].values.size() ? series[s].values[i] : -1;
      const int y = y0 + int(s) * bar_h;
      if (v < 0) {
        g += fmt::format("<text x=\"{}\" y=\"{}\" class=\"value\">n/a</text>\n", label_w + 4, y + bar_h - 4);
        continue;
      }
      const double w = plot_w * std::min(1.0, v / scale_max);
      g += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect>\n",
                       label_w, y + 1, w, bar_h - 2, series[s].colour, esc(series[s].name), esc(show(v)));
      double text_x = label_w + w + 4;
      if (i < series[s].whiskers.size()) {
        const Interval ci = series[s].whiskers[i];
        const double x1 = label_w + plot_w * std::min(1.0, ci.lo / scale_max);
        const double x2 = label_w + plot_w * std::min(1.0, ci.hi / scale_max);
        const double ym = y + bar_h / 2.0;
        g += fmt::format("<path d=\"M{:.1f} {:.1f}H{:.1f}M{:.1f} {:.1f}V{:.1f}M{:.1f} {:.1f}V{:.1f}\" class=\"ci\"/>\n", x1,
                         ym, x2, x1, ym - 4, ym + 4, x2, ym - 4, ym + 4);
        text_x = std::max(text_x, x2 + 4);
      }
      g += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"value\">{}</text>\n", text_x, y + bar_h - 4, esc(show(v)));
    }
  }
  int lx = label_w;
  const int ly = height - legend_h + 6;
  for (const auto& s : series) {
    g += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
                     "class=\"label\">{}</text>\n",
                     lx, ly, s.colour, lx + 16, ly + 11, esc(s.name));
    lx += 24 + int(s.name.size()) * 7;
  }
  return g + "</svg>\n";
}

// Accuracy (y) against file size (x), one labelled point per run.
std::string scatter(const std::vector<Summary>& runs) {
  const int w = 660, h = 320, l = 60, r = 50, t = 30, b = 44;
  double xmax = 0;
  for (const auto& s : runs) xmax = std::max(xmax, double(s.model_size_bytes) / 1e6);
  if (xmax <= 0) return "";
  xmax *= 1.1;
  std::string g = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" "
      "aria-label=\"Strict accuracy against size\">\n<text x=\"0\" y=\"18\" class=\"title\">Strict accuracy against "
      "file size</text>\n",
      w, h);
  const double pw = w - l - r, ph = h - t - b;
  for (int k = 0; k <= 4; ++k) {
    const double y = t + ph * (1 - k / 4.0);
    g += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" class=\"grid\"/><text x=\"{}\" y=\"{:.1f}\" "
                     "class=\"label\" text-anchor=\"end\">{}%</text>\n",
                     l, y, w - r, y, l - 6, y + 4, k * 25);
    const double x = l + pw * k / 4.0;
    g += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{:.0f} MB</text>\n", x, h - b + 18,
                     xmax * k / 4.0);
  }
  for (const auto& s : runs) {
    if (s.model_size_bytes < 0 || s.strict_correct < 0 || s.total <= 0) continue;
    const double acc = double(s.strict_correct) / double(s.total);
    const double x = l + pw * (double(s.model_size_bytes) / 1e6) / xmax, y = t + ph * (1 - acc);
    g += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"#2b6cb0\"><title>{}: {} at {}</title></circle>"
                     "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"label\">{}</text>\n",
                     x, y, esc(s.model_name), fmt_percent(acc), fmt_megabytes(s.model_size_bytes), x + 8, y - 6,
                     esc(s.quant_type.empty() ? s.model_name : s.quant_type));
  }
  return g + "</svg>\n";
}

}  // namespace

std::string html_report(const std::vector<Summary>& runs) {
  std::vector<std::string> labels;
  Series strict{"strict", "#2b6cb0", {}, {}}, lenient{"lenient", "#a0aec0", {}, {}};
  Series size{"file size (MB)", "#805ad5", {}, {}};
  Series gen{"generation tok/s", "#2f855a", {}, {}}, prompt{"prompt tok/s", "#9ae6b4", {}, {}};
  Series lat{"mean latency (s)", "#c05621", {}, {}}, ttft{"median time to first token (s)", "#fbd38d", {}, {}};
  for (const auto& s : runs) {
    labels.push_back(s.quant_type.empty() ? s.model_name : s.model_name + " (" + s.quant_type + ")");
    const bool has_strict = s.strict_correct >= 0 && s.total > 0;
    strict.values.push_back(has_strict ? double(s.strict_correct) / double(s.total) : -1);
    strict.whiskers.push_back(has_strict ? wilson_interval(s.strict_correct, s.total) : Interval{0, 0});
    lenient.values.push_back(s.lenient_correct >= 0 && s.total > 0 ? double(s.lenient_correct) / double(s.total) : -1);
    size.values.push_back(s.model_size_bytes < 0 ? -1 : double(s.model_size_bytes) / 1e6);
    gen.values.push_back(s.generation_tps);
    prompt.values.push_back(s.prompt_tps);
    lat.values.push_back(s.latency.mean);
    ttft.values.push_back(s.ttft.median);
  }
  auto pct = [](double v) { return fmt_percent(v); };
  auto f1 = [](double v) { return fmt::format("{:.1f}", v); };
  auto f3 = [](double v) { return fmt::format("{:.3f}", v); };
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>LlamaPajamas evaluation "
      "report</title>\n<style>\nbody{font-family:system-ui,sans-serif;margin:2em;color:#1a202c;max-width:1100px}\n"
      "table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #cbd5e0;padding:4px "
      "8px;text-align:right}th:first-child,td:first-child{text-align:left}\n"
      "svg{display:block;margin:1.5em 0}svg .title{font-weight:600;font-size:15px}svg .label,svg "
      ".value{font-size:12px}\nsvg .grid{stroke:#e2e8f0}svg .ci{stroke:#1a202c;stroke-width:1.5;fill:none}\n"
      "</style>\n</head>\n<body>\n<h1>Evaluation report</h1>\n<p>Strict scoring: the reply, cut of &lt;think&gt; "
      "blocks and trimmed, must equal the expected answer exactly; lenient scoring counts a reply that merely "
      "contains it. Whiskers are 95% Wilson score intervals.</p>\n";
  h += bar_chart("Accuracy", labels, {strict, lenient}, 1.0, pct);
  h += scatter(runs);
  h += bar_chart("File size", labels, {size}, 0, [](double v) { return fmt::format("{:.1f} MB", v); });
  h += bar_chart("Speed", labels, {gen, prompt}, 0, f1);
  h += bar_chart("Latency", labels, {lat, ttft}, 0, f3);
  h += "<h2>Summary</h2>\n<table>\n<tr><th>Model</th><th>Quant</th><th>Size</th><th>Questions</th><th>Strict</th>"
       "<th>95% CI</th><th>Lenient</th><th>Latency mean / median / p95 (s)</th><th>TTFT median (s)</th>"
       "<th>Prompt tok/s</th><th>Generation tok/s</th><th>Peak RSS</th></tr>\n";
  for (const auto& s : runs) {
    const bool has_strict = s.strict_correct >= 0 && s.total > 0;
    h += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {} / {}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        esc(s.model_name), esc(s.quant_type.empty() ? "-" : s.quant_type), fmt_megabytes(s.model_size_bytes), s.total,
        s.complete ? "" : fmt::format(" of {} (incomplete)", s.planned),
        has_strict ? fmt_percent(double(s.strict_correct) / double(s.total)) : "-",
        has_strict ? fmt::format("{:.1f}–{:.1f}%", 100 * s.ci.lo, 100 * s.ci.hi) : "-",
        s.lenient_correct >= 0 && s.total > 0 ? fmt_percent(double(s.lenient_correct) / double(s.total)) : "-",
        s.latency.mean < 0 ? "-" : f3(s.latency.mean), s.latency.median < 0 ? "-" : f3(s.latency.median),
        s.latency.p95 < 0 ? "-" : f3(s.latency.p95), s.ttft.median < 0 ? "-" : f3(s.ttft.median),
        s.prompt_tps < 0 ? "-" : f1(s.prompt_tps), s.generation_tps < 0 ? "-" : f1(s.generation_tps),
        fmt_megabytes(s.peak_rss_bytes));
  }
  h += "</table>\n";
  // Per-category strict accuracy.
  std::vector<std::string> cats;
  for (const auto& s : runs)
    for (const auto& c : s.categories)
      if (std::find(cats.begin(), cats.end(), c.name) == cats.end()) cats.push_back(c.name);
  if (!cats.empty()) {
    h += "<h2>Strict accuracy by category</h2>\n<table>\n<tr><th>Model</th>";
    for (const auto& c : cats) h += "<th>" + esc(c) + "</th>";
    h += "</tr>\n";
    for (const auto& s : runs) {
      h += "<tr><td>" + esc(s.model_name) + "</td>";
      for (const auto& name : cats) {
        auto it = std::find_if(s.categories.begin(), s.categories.end(), [&](const CategoryStat& c) { return c.name == name; });
        int64_t sc = -1;
        if (it != s.categories.end()) sc = it->strict_correct >= 0 ? it->strict_correct : (s.mode == "strict" ? it->correct : -1);
        h += "<td>" + (sc < 0 ? std::string("-") : fmt::format("{} ({}/{})", fmt_percent(double(sc) / double(it->total)), sc, it->total)) + "</td>";
      }
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  h += "<h2>Runs</h2>\n<ul>\n";
  for (const auto& s : runs)
    h += fmt::format("<li>{}: <code>{}</code> ({} mode, thinking {}, {})</li>\n", esc(s.model_name), esc(s.path), esc(s.mode),
                     esc(s.thinking.empty() ? "-" : s.thinking), esc(s.timestamp));
  h += "</ul>\n</body>\n</html>\n";
  return h;
}

}  // namespace pj::eval
