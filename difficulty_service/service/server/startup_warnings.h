// What the server says at start-up about conditions that work but hurt: a slow BLAS (the reference
// implementation selected: forward passes about 35 times slower), and a port beyond this machine
// without TLS or tokens. Warnings only; nothing here refuses to start.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_STARTUP_WARNINGS_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_STARTUP_WARNINGS_H_

#include <string>

namespace sparsegate {

// Measures matrix-product speed and warns when it is the reference BLAS's; logs it otherwise.
void CheckBlasSpeed();

// Warns when `address` reaches beyond this machine without TLS, or without TLS and tokens.
void WarnAboutExposure(const std::string& address, bool tls, bool requires_token);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_STARTUP_WARNINGS_H_
