// The Prometheus scrape endpoint: GET /metrics over plain HTTP/1.1 on its own port and thread,
// answered with whatever `render` returns at that moment (ServiceMetrics::Render).
//
// Boost.Beast does the HTTP; each connection gets a 5 s budget to send its request and read the
// answer, so a stalled scraper cannot hold the thread. Other paths are 404, other methods 405.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_METRICS_METRICS_HTTP_SERVER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_METRICS_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace sparsegate {

class MetricsHttpServer {
 public:
  // address: "host:port" ("[v6]:port" for IPv6; port 0 picks a free one). UNAVAILABLE when it
  // cannot be bound, INVALID_ARGUMENT when it does not parse.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                 std::function<std::string()> render);
  ~MetricsHttpServer();  // stops accepting and joins the thread

  int port() const;

 private:
  struct State;
  explicit MetricsHttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_METRICS_METRICS_HTTP_SERVER_H_
