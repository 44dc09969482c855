#include "difficulty_service/service/server/access_control.h"

#include <grpcpp/security/server_credentials.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "difficulty_service/core/common/files.h"

namespace sparsegate {
namespace {

constexpr size_t kMinTokenLength = 16;

std::array<unsigned char, 32> Sha256(absl::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

// Every certificate in `pem` parses, and there is at least one: gRPC would find out only at the
// first handshake, and then report "cannot listen" without naming the file.
absl::StatusOr<std::vector<std::unique_ptr<X509, decltype(&X509_free)>>> ParseCertificates(const std::string& pem,
                                                                                          const std::string& path) {
  size_t blocks = 0;
  for (size_t at = pem.find("-----BEGIN CERTIFICATE-----"); at != std::string::npos;
       at = pem.find("-----BEGIN CERTIFICATE-----", at + 1))
    ++blocks;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::vector<std::unique_ptr<X509, decltype(&X509_free)>> certificates;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    certificates.emplace_back(certificate, &X509_free);
  ERR_clear_error();  // the loop ends on "no start line", which is not an error
  if (certificates.empty() || certificates.size() != blocks)
    return absl::InvalidArgumentError(absl::StrCat(QuotedPath(path), ": certificate ", certificates.size() + 1,
                                                   " does not parse (a truncated or corrupt PEM block)"));
  return certificates;
}

absl::Status CheckKeyPair(const std::string& cert_pem, const std::string& key_pem, const ServerSecurityOptions& o) {
  auto certificates = ParseCertificates(cert_pem, o.tls_cert_file);
  if (!certificates.ok()) return certificates.status();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())),
                                                &BIO_free);
  // An empty passphrase callback: an encrypted key fails here instead of prompting on the terminal.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  if (key == nullptr)
    return absl::InvalidArgumentError(absl::StrCat(QuotedPath(o.tls_key_file),
                                                   ": the private key does not parse (truncated, corrupt, or encrypted)"));
  if (X509_check_private_key(certificates->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(QuotedPath(o.tls_key_file), " is not the private key of the certificate in ",
                                                   QuotedPath(o.tls_cert_file)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerSecurityOptions& o) {
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return absl::InvalidArgumentError("TLS needs both a certificate (--tls-cert) and its private key (--tls-key)");
  if (o.tls_cert_file.empty()) {
    if (!o.tls_client_ca_file.empty())
      return absl::InvalidArgumentError(
          "--tls-client-ca needs --tls-cert and --tls-key: client certificates are checked only over TLS");
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<std::string> cert = ReadPemFile(o.tls_cert_file, "CERTIFICATE");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile(o.tls_key_file, "PRIVATE KEY");
  if (!key.ok()) return key.status();
  if (absl::Status pair = CheckKeyPair(*cert, *key, o); !pair.ok()) return pair;
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!o.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile(o.tls_client_ca_file, "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    auto parsed = ParseCertificates(*ca, o.tls_client_ca_file);
    if (!parsed.ok()) return parsed.status();
    // A leaf certificate here (the server's own, say) parses, but no client certificate would ever
    // verify against it: every handshake would fail later, naming nothing.
    for (size_t i = 0; i < parsed->size(); ++i) {
      if (X509_check_ca((*parsed)[i].get()) == 0)
        return absl::InvalidArgumentError(absl::StrCat(QuotedPath(o.tls_client_ca_file), ": certificate ", i + 1,
                                                       " is not a CA certificate, so no client certificate can verify against it"));
    }
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

absl::StatusOr<AccessControl> AccessControl::Load(const std::string& tokens_file) {
  AccessControl access;
  if (tokens_file.empty()) return access;
  absl::StatusOr<std::string> text = ReadFile(tokens_file);
  if (!text.ok()) return text.status();
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    std::vector<absl::string_view> words = absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty()) continue;
    auto error = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat(QuotedPath(tokens_file), ":", line_number, ": ", what));
    };
    for (char c : words[0]) {
      // What a gRPC metadata value can carry; a token of other bytes could never be presented.
      if (c < 0x21 || c > 0x7e)
        return error("the token holds a byte outside printable ASCII, which no 'authorization' metadata can carry");
    }
    if (words[0].size() < kMinTokenLength)
      return error(absl::StrCat("the token is ", words[0].size(), " characters; use at least ", kMinTokenLength,
                                " (for example: openssl rand -hex 32)"));
    Entry entry{Sha256(words[0])};
    for (size_t i = 1; i < words.size(); ++i) {
      if (words[i] == "score") {
        entry.score = true;
      } else if (words[i] == "reload") {
        entry.reload = true;
      } else {
        return error(absl::StrCat("word ", i + 1, " is not a permission (known: score, reload)"));
      }
    }
    if (words.size() == 1) entry.score = true;
    for (const Entry& other : access.entries_)
      if (other.digest == entry.digest) return error("this token is listed twice");
    access.entries_.push_back(entry);
  }
  if (access.entries_.empty())
    return absl::InvalidArgumentError(absl::StrCat(QuotedPath(tokens_file), ": lists no token; every call would be refused"));
  return access;
}

bool AccessControl::AnyTokenMay(Permission permission) const {
  for (const Entry& e : entries_)
    if (permission == Permission::kScore ? e.score : e.reload) return true;
  return false;
}

grpc::Status AccessControl::Check(const grpc::ServerContextBase& context, Permission permission) const {
  if (entries_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  if (header == metadata.end())
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this server needs a bearer token: send 'authorization: Bearer <token>' metadata");
  absl::string_view value(header->second.data(), header->second.size());
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() || !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme))
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the authorization metadata is not 'Bearer <token>'");
  const std::array<unsigned char, 32> presented = Sha256(absl::StripAsciiWhitespace(value.substr(kScheme.size())));
  const Entry* match = nullptr;
  for (const Entry& e : entries_) {  // every entry, no early exit
    if (CRYPTO_memcmp(e.digest.data(), presented.data(), presented.size()) == 0) match = &e;
  }
  if (match == nullptr)
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the bearer token is not one this server accepts");
  if (permission == Permission::kReload ? !match->reload : !match->score)
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        permission == Permission::kReload
                            ? "this token may not reload the model (its line in the token file lacks 'reload')"
                            : "this token may not score (its line in the token file lacks 'score')");
  return grpc::Status::OK;
}

}  // namespace sparsegate
