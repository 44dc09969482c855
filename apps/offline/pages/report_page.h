// The page of a filter run's report: one self-contained HTML file (inline CSS and SVG, no
// JavaScript, no external assets) drawn from the JSON that BuildReport (report.h) gives, and from
// nothing else. Every string from the report (title, model, settings, decision names) is
// HTML-escaped; numbers the JSON has as null are shown as "n/a".
#ifndef SPARSEGATE_APPS_OFFLINE_PAGES_REPORT_PAGE_H_
#define SPARSEGATE_APPS_OFFLINE_PAGES_REPORT_PAGE_H_

#include <string>

#include "nlohmann/json.hpp"

namespace sparsegate::offline {

std::string RenderReportHtml(const nlohmann::json& report);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_PAGES_REPORT_PAGE_H_
