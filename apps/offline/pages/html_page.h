// Pieces of the offline commands' self-contained HTML pages (the filter report, the evaluation
// report): escaping, number formatting for JSON values that may be null, and hand-written SVG
// primitives. The SVG is written by hand: Debian packages no charting library for C++, and a few
// simple charts do not need one. A chart is a Plot (data coordinates onto a rectangle) plus these
// primitives; <title> elements give hover tooltips without JavaScript.
#ifndef SPARSEGATE_APPS_OFFLINE_PAGES_HTML_PAGE_H_
#define SPARSEGATE_APPS_OFFLINE_PAGES_HTML_PAGE_H_

#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"

namespace sparsegate::offline::html {

// j[key], or null when j is not an object or has no such key.
const nlohmann::json& Get(const nlohmann::json& j, const char* key);
std::string Escape(std::string_view s);

// JSON values as text, "n/a" (or 0, or "") when missing.
double Num(const nlohmann::json& v);
std::string Name(const nlohmann::json& v);  // a string's value, unescaped
std::string Str(const nlohmann::json& v);   // escaped; non-strings as JSON
std::string Int(const nlohmann::json& v);
std::string Fixed(const nlohmann::json& v, int digits = 3);
std::string Percent(const nlohmann::json& v);

struct Plot {  // y grows upwards
  double left, top, width, height;
  double x_min, x_max, y_min, y_max;
  double X(double x) const { return left + (x - x_min) / (x_max - x_min) * width; }
  double Y(double y) const { return top + height - (y - y_min) / (y_max - y_min) * height; }
};

std::string Line(double x1, double y1, double x2, double y2, const std::string& style);
std::string Text(double x, double y, const std::string& escaped, const std::string& attributes = "");
// Round count ticks (steps of 1, 2 or 5 times a power of ten), about five of them.
std::vector<double> CountTicks(double max);
std::string Axes(const Plot& p, const std::vector<double>& x_ticks, const std::vector<double>& y_ticks,
                 const std::string& x_label, const std::string& y_label);
// A bar from the x axis up to y, spanning [x0, x1] in data coordinates.
std::string Bar(const Plot& p, double x0, double x1, double y, const std::string& color, const std::string& tip);
std::string Svg(double width, double height, const std::string& body, const std::string& label);

// A run's settings (a JSON object) as a two-column table a person reads: one row per key, lists as
// their items one per line, nested objects as "key: value" lines, strings without quotes. Every
// value wraps inside the page's width.
std::string SettingsTable(const nlohmann::json& settings);

// The pages' shared stylesheet. Tables never run past the page: a wide one scrolls inside its own
// box, and long values wrap.
extern const char* const kStyle;

}  // namespace sparsegate::offline::html

#endif  // SPARSEGATE_APPS_OFFLINE_PAGES_HTML_PAGE_H_
