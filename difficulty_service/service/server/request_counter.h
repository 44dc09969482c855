// The metrics interceptor: counts every finished call of the main port by method and status code,
// whichever path ended it (a handler, the access check, gRPC itself), into ServiceMetrics.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_REQUEST_COUNTER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_REQUEST_COUNTER_H_

#include <grpcpp/support/server_interceptor.h>

#include "difficulty_service/service/metrics/service_metrics.h"

namespace sparsegate {

class RequestCounterFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RequestCounterFactory(ServiceMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  ServiceMetrics* metrics_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_REQUEST_COUNTER_H_
