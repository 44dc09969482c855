#include "apps/offline/pages/html_page.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sparsegate::offline::html {

using json = nlohmann::json;

const json& Get(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

double Num(const json& v) { return v.is_number() ? v.get<double>() : 0; }
std::string Name(const json& v) { return v.is_string() ? v.get<std::string>() : ""; }
std::string Str(const json& v) { return Escape(v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump()); }
std::string Int(const json& v) { return v.is_number() ? absl::StrCat(v.get<int64_t>()) : "n/a"; }
std::string Fixed(const json& v, int digits) {
  return v.is_number() ? absl::StrFormat("%.*f", digits, v.get<double>()) : "n/a";
}
std::string Percent(const json& v) { return v.is_number() ? absl::StrFormat("%.1f%%", 100 * v.get<double>()) : "n/a"; }


namespace {

std::string SettingValue(const json& v) {
  if (v.is_string()) return Escape(v.get<std::string>());
  if (v.is_null()) return "&mdash;";
  if (v.is_array()) {
    if (v.empty()) return "(none)";
    std::string out;
    for (const json& item : v) absl::StrAppend(&out, out.empty() ? "" : "<br>", SettingValue(item));
    return out;
  }
  if (v.is_object()) {
    std::string out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      absl::StrAppend(&out, out.empty() ? "" : "<br>", Escape(it.key()), ": ", SettingValue(it.value()));
    }
    return out.empty() ? "(none)" : out;
  }
  return Escape(v.dump());
}

}  // namespace

std::string SettingsTable(const json& settings) {
  std::string h = "<table class=\"settings\">\n<tr><th>setting</th><th>value</th></tr>\n";
  if (settings.is_object()) {
    for (auto it = settings.begin(); it != settings.end(); ++it) {
      absl::StrAppend(&h, "<tr><td>", Escape(it.key()), "</td><td>", SettingValue(it.value()), "</td></tr>\n");
    }
  } else if (!settings.is_null()) {
    absl::StrAppend(&h, "<tr><td>settings</td><td>", SettingValue(settings), "</td></tr>\n");
  }
  return h + "</table>\n";
}

std::string Line(double x1, double y1, double x2, double y2, const std::string& style) {
  return absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %s/>\n", x1, y1, x2, y2, style);
}

std::string Text(double x, double y, const std::string& escaped, const std::string& attributes) {
  return absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\" %s>%s</text>\n", x, y, attributes, escaped);
}

std::vector<double> CountTicks(double max) {
  if (max <= 0) return {0, 1};
  double step = std::pow(10.0, std::floor(std::log10(max / 5)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (max / (step * m) <= 5) {
      step *= m;
      break;
    }
  }
  step = std::max(step, 1.0);
  std::vector<double> ticks;
  for (double t = 0; t < max + step; t += step) ticks.push_back(t);
  return ticks;
}

std::string Axes(const Plot& p, const std::vector<double>& x_ticks, const std::vector<double>& y_ticks,
                 const std::string& x_label, const std::string& y_label) {
  std::string s;
  const std::string axis = "stroke=\"#333\"", grid = "stroke=\"#e0e0e0\"";
  for (double t : y_ticks) {
    s += Line(p.left, p.Y(t), p.left + p.width, p.Y(t), grid);
    s += Text(p.left - 5, p.Y(t) + 4, absl::StrFormat("%g", t), "text-anchor=\"end\"");
  }
  for (double t : x_ticks) {
    s += Line(p.X(t), p.top + p.height, p.X(t), p.top + p.height + 4, axis);
    s += Text(p.X(t), p.top + p.height + 16, absl::StrFormat("%g", t), "text-anchor=\"middle\"");
  }
  s += Line(p.left, p.top + p.height, p.left + p.width, p.top + p.height, axis);
  s += Line(p.left, p.top, p.left, p.top + p.height, axis);
  s += Text(p.left + p.width / 2, p.top + p.height + 32, x_label, "text-anchor=\"middle\"");
  s += Text(
      p.left - 36, p.top + p.height / 2, y_label,
      absl::StrFormat("text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\"", p.left - 36, p.top + p.height / 2));
  return s;
}

std::string Bar(const Plot& p, double x0, double x1, double y, const std::string& color, const std::string& tip) {
  return absl::StrFormat(
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s</title></rect>\n", p.X(x0),
      p.Y(y), p.X(x1) - p.X(x0), p.Y(p.y_min) - p.Y(y), color, tip);
}

std::string Svg(double width, double height, const std::string& body, const std::string& label) {
  return absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
      "font-family=\"sans-serif\" role=\"img\" aria-label=\"%s\">\n%s</svg>\n",
      width, height, width, height, label, body);
}


const char* const kStyle = R"(
body { font-family: system-ui, sans-serif; max-width: 1240px; margin: 2em auto; padding: 0 1em; color: #212121; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #e0e0e0; }
table { border-collapse: collapse; margin: 1em 0; display: block; max-width: 100%; overflow-x: auto; }
td, th { padding: 0.25em 0.6em; border-bottom: 1px solid #eee; }
table.settings td { text-align: left; vertical-align: top; font-family: ui-monospace, monospace; font-size: 0.9em;
                    overflow-wrap: anywhere; }
table.settings td:first-child { white-space: nowrap; }
td:not(:first-child), th:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f5f5f5; } .meta, .note { color: #616161; } svg { font-size: 11px; display: block; margin: 1em 0; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; }
)";

}  // namespace sparsegate::offline::html
