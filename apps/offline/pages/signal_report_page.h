// The page of a `sparsegate evaluate` run: a self-contained HTML file drawn from the evaluation's
// JSON alone (signal_evaluation.h, plus the job's "context" and "input_rows"), so the page and the
// JSON cannot disagree. The headline sentence comes first, then every model with its intervals
// (a forest plot and a table), then each stratum family with its strata.
#ifndef SPARSEGATE_APPS_OFFLINE_PAGES_SIGNAL_REPORT_PAGE_H_
#define SPARSEGATE_APPS_OFFLINE_PAGES_SIGNAL_REPORT_PAGE_H_

#include <string>

#include "nlohmann/json.hpp"

namespace sparsegate::offline {

std::string RenderSignalHtml(const nlohmann::json& evaluation);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_PAGES_SIGNAL_REPORT_PAGE_H_
