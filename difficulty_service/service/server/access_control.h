// Who may reach the difficulty service, and what they may call.
//
// Transport: plaintext by default; with a certificate and key, TLS; with a client CA as well,
// mutual TLS, where a client without a certificate signed by that CA is refused during the
// handshake. Access: with a token file, every DifficultyService call must carry
// "authorization: Bearer <token>" metadata naming a token the file lists, with the permission the
// call needs. Health checks (grpc.health.v1) and reflection stay open, so probes and grpcurl work
// without a token; they reveal only whether the model is ready and the schema.
//
// Token file: one token per line, then the permissions it has, separated by spaces:
//     3c1f...e9  score          # Score, ScoreStream, Info (the default when none is listed)
//     a7d2...41  score reload   # and Reload, which switches the model
// Blank lines and text after '#' are ignored. Tokens are at least 16 characters. The file is read
// once at start-up; presented tokens are compared through their SHA-256 digests in constant time
// against every entry, so neither the timing nor an early exit tells how much of a token matched.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_ACCESS_CONTROL_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_ACCESS_CONTROL_H_

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sparsegate {

struct ServerSecurityOptions {
  std::string tls_cert_file;       // PEM server certificate chain; with tls_key_file turns TLS on
  std::string tls_key_file;        // PEM private key of that certificate
  std::string tls_client_ca_file;  // PEM CA bundle; when set, clients must present a certificate it signed
  std::string auth_tokens_file;    // when set, DifficultyService calls need a bearer token from it
};

enum class Permission { kScore, kReload };

// The credentials to listen with: insecure, TLS or mTLS as the options say. Errors name the file
// or the missing companion option.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerSecurityOptions& options);

class AccessControl {
 public:
  // Open to everyone when `tokens_file` is empty; otherwise the tokens it lists (errors name the
  // file and line).
  static absl::StatusOr<AccessControl> Load(const std::string& tokens_file);

  bool requires_token() const { return !entries_.empty(); }
  bool AnyTokenMay(Permission permission) const;

  // OK when the call may proceed; UNAUTHENTICATED without a recognised bearer token,
  // PERMISSION_DENIED for a token that lacks `permission`.
  grpc::Status Check(const grpc::ServerContextBase& context, Permission permission) const;

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    bool score = false;
    bool reload = false;
  };
  std::vector<Entry> entries_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_ACCESS_CONTROL_H_
