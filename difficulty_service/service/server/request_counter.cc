#include "difficulty_service/service/server/request_counter.h"

#include <string>

namespace sparsegate {
namespace {

class RequestCounter final : public grpc::experimental::Interceptor {
 public:
  RequestCounter(const char* method, ServiceMetrics* metrics) : metrics_(metrics) {
    std::string name = method ? method : "";
    method_ = name.empty() || name[0] != '/' ? name : name.substr(1);  // "sparsegate.v1.DifficultyService/Score"
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS))
      metrics_->CountRequest(method_, static_cast<absl::StatusCode>(methods->GetSendStatus().error_code()));
    methods->Proceed();
  }

 private:
  std::string method_;
  ServiceMetrics* metrics_;
};

}  // namespace

grpc::experimental::Interceptor* RequestCounterFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RequestCounter(info->method(), metrics_);
}

}  // namespace sparsegate
