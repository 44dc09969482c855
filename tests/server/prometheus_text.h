// Prometheus text exposition read back for the tests: "name{labels} value" lines to a map keyed
// by "name{labels}" (comments skipped).
#ifndef SPARSEGATE_TESTS_SERVER_PROMETHEUS_TEXT_H_
#define SPARSEGATE_TESTS_SERVER_PROMETHEUS_TEXT_H_

#include <map>
#include <sstream>
#include <string>

namespace sparsegate::testing {

inline std::map<std::string, double> ParsePrometheusText(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

}  // namespace sparsegate::testing

#endif  // SPARSEGATE_TESTS_SERVER_PROMETHEUS_TEXT_H_
