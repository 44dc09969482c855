// The admin path probed as a careless or hostile operator would: every kind of directory entry in
// place of each model file and of each certificate, key and token file, every shape of path on
// Reload, and every numeric `serve` flag at and past its bounds. Each bad input must get a precise error (naming the file or the flag), within
// seconds, with no crash, no hang and none of the file's contents in the message; the good inputs
// beside them must still work. The inputs are generated, so the count grows with the flags.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/service/server/difficulty_server.h"
#include "difficulty_service/service/server/server_options.h"
#include "server_process.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

namespace sparsegate {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::ServerProcess;

// Planted in every file the probe writes: no error message may ever contain it.
constexpr char kCanary[] = "CANARY7f3a9";
constexpr char kToken[] = "admin-probe-token-0123456789";
constexpr auto kPatience = std::chrono::seconds(20);  // far above the slowest refusal measured (< 1 s)

const std::string& TinyModel() {
  static const std::string dir = std::string(SPARSEGATE_TINY_DIR) + "/tiny_qwen3";
  return dir;
}

std::string ProbeRoot() {
  static const std::string root = [] {
    const std::string dir = ::testing::TempDir() + "/admin_probe_" + std::to_string(::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    return fs::canonical(dir).string();
  }();
  return root;
}

// One way a directory entry can be wrong. `make` creates it at `path`.
struct EntryKind {
  const char* name;
  std::function<void(const std::string& path)> make;
};

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<EntryKind> EntryKinds(const std::string& original) {
  return {
      {"fifo", [](const std::string& p) { ASSERT_EQ(::mkfifo(p.c_str(), 0644), 0); }},
      {"dev_zero", [](const std::string& p) { fs::create_symlink("/dev/zero", p); }},
      {"dev_urandom", [](const std::string& p) { fs::create_symlink("/dev/urandom", p); }},
      {"link_to_itself", [](const std::string& p) { fs::create_symlink(p, p); }},
      {"link_cycle", [](const std::string& p) {
         fs::create_symlink(p + ".other", p);
         fs::create_symlink(p, p + ".other");
       }},
      {"dangling_link", [](const std::string& p) { fs::create_symlink(p + ".nowhere", p); }},
      {"directory", [](const std::string& p) { fs::create_directory(p); }},
      {"socket", [](const std::string& p) {
         const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
         sockaddr_un address{};
         address.sun_family = AF_UNIX;
         ASSERT_LT(p.size(), sizeof(address.sun_path));
         std::strncpy(address.sun_path, p.c_str(), sizeof(address.sun_path) - 1);
         ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0) << p;
         ::close(fd);  // the socket file stays
       }},
      {"sparse_300mb", [](const std::string& p) {
         WriteText(p, "");
         fs::resize_file(p, 300u << 20);
       }},
      {"empty", [](const std::string& p) { WriteText(p, ""); }},
      {"random_bytes", [](const std::string& p) {
         std::mt19937 rng(7);
         std::string bytes(4096, '\0');
         for (char& c : bytes) c = static_cast<char>(rng());
         WriteText(p, std::string(kCanary) + bytes + kCanary);
       }},
      {"canary_json", [](const std::string& p) {
         WriteText(p, absl::StrCat(R"({"model_type": ")", kCanary, R"(", "hidden_size": ")", kCanary, R"(", "model": ")",
                                   kCanary, R"(", "chat_template": "{% if )", kCanary, "\", \"", kCanary, "\": 1}"));
       }},
      {"truncated", [original](const std::string& p) {
         std::ifstream in(original, std::ios::binary);
         const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
         WriteText(p, bytes.substr(0, bytes.size() / 2));
       }},
  };
}

// A copy of the tiny model (links to its files, or copies of them) with `file` replaced by an
// entry of `kind`.
std::string BadModelDir(const std::string& file, const EntryKind& kind, bool copy_files = false) {
  const std::string dir = absl::StrCat(ProbeRoot(), "/", kind.name, "-", file, copy_files ? "-copied" : "");
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(TinyModel())) {
    if (entry.path().filename() == file) continue;
    if (copy_files) fs::copy_file(entry.path(), fs::path(dir) / entry.path().filename());
    else fs::create_symlink(entry.path(), fs::path(dir) / entry.path().filename());
  }
  kind.make((fs::path(dir) / file).string());
  return dir;
}

// Runs `work` on its own thread; a hang fails the test and ends the process, since a stuck thread
// cannot be joined.
absl::Status WithinPatience(const std::string& what, std::function<absl::Status()> work) {
  std::packaged_task<absl::Status()> task(std::move(work));
  std::future<absl::Status> result = task.get_future();
  std::thread worker(std::move(task));
  if (result.wait_for(kPatience) != std::future_status::ready) {
    ADD_FAILURE() << what << ": no answer within " << kPatience.count() << " s (a hang)";
    std::_Exit(1);
  }
  // Joined, not detached: a detached worker could still be running its thread-exit handlers (which
  // free OpenSSL's per-thread error state) when the process ends, and LeakSanitizer reports them.
  worker.join();
  return result.get();
}

const std::vector<std::string> kModelFiles = {"config.json", "tokenizer.json", "model.safetensors",
                                              "tokenizer_config.json"};

TEST(AdminProbe, EveryKindOfEntryInPlaceOfEachModelFileIsRefusedNamingIt) {
  int probed = 0;
  for (const std::string& file : kModelFiles) {
    for (const EntryKind& kind : EntryKinds(TinyModel() + "/" + file)) {
      SCOPED_TRACE(absl::StrCat(kind.name, " as ", file));
      const std::string dir = BadModelDir(file, kind);
      std::vector<std::string> warnings;
      const absl::Status status = WithinPatience(dir, [&dir, &warnings]() -> absl::Status {
        auto engine = ScoringEngine::Load(dir);
        if (engine.ok()) warnings = (*engine)->load_warnings();
        return engine.status();
      });
      ++probed;
      const std::string message(status.message());
      if (file == "tokenizer_config.json" && status.ok()) {
        // Optional file: the model still loads right without its chat template, and says so.
        ASSERT_EQ(warnings.size(), 1u) << "accepted silently";
        EXPECT_NE(warnings[0].find("tokenizer_config.json"), std::string::npos) << warnings[0];
        EXPECT_EQ(warnings[0].find(kCanary), std::string::npos) << warnings[0];
        continue;
      }
      ASSERT_FALSE(status.ok()) << "accepted silently";
      EXPECT_NE(message.find(file), std::string::npos) << message;
      EXPECT_EQ(message.find(kCanary), std::string::npos) << "file contents echoed: " << message;
      EXPECT_NE(status.code(), absl::StatusCode::kInternal) << message;
    }
  }
  EXPECT_EQ(probed, 4 * 13);
  std::printf("model-directory entries probed: %d\n", probed);
}

TEST(AdminProbe, ANearMissCheckpointIsRefusedOrWarnedAbout) {
  // Declared and actual disagree: more layers in the weights than config.json says, a position
  // limit of 0, an unk_token the vocabulary lacks, a chat template cut short.
  auto variant = [](const std::string& name, const std::string& file, std::function<std::string(std::string)> edit) {
    const std::string dir = absl::StrCat(ProbeRoot(), "/near-", name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(TinyModel())) {
      const fs::path to = fs::path(dir) / entry.path().filename();
      if (entry.path().filename() != file) {
        fs::create_symlink(entry.path(), to);
        continue;
      }
      std::ifstream in(entry.path(), std::ios::binary);
      WriteText(to.string(), edit(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())));
    }
    return dir;
  };
  auto replace = [](std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? text : text.replace(at, from.size(), to);
  };
  auto config = nlohmann::json::parse(std::ifstream(TinyModel() + "/config.json"));
  const int layers = config["num_hidden_layers"];
  auto fewer_layers = ScoringEngine::Load(variant("fewer_layers", "config.json", [&](std::string text) {
    return replace(text, absl::StrCat("\"num_hidden_layers\": ", layers), absl::StrCat("\"num_hidden_layers\": ", layers - 1));
  }));
  ASSERT_FALSE(fewer_layers.ok());
  EXPECT_NE(fewer_layers.status().message().find("are not part of the model config.json describes"), std::string::npos)
      << fewer_layers.status();
  auto no_positions = ScoringEngine::Load(variant("no_positions", "config.json", [&](std::string text) {
    auto j = nlohmann::json::parse(text);
    j["max_position_embeddings"] = 0;
    return j.dump();
  }));
  ASSERT_FALSE(no_positions.ok());
  EXPECT_NE(no_positions.status().message().find("'max_position_embeddings' is 0"), std::string::npos);
  auto unk = ScoringEngine::Load(variant("unk_missing", "tokenizer.json", [&](std::string text) {
    auto j = nlohmann::json::parse(text);
    j["model"]["unk_token"] = "<no-such-token>";
    return j.dump();
  }));
  ASSERT_TRUE(unk.ok()) << unk.status();  // as in Hugging Face, which fails only on an unknown character
  ASSERT_EQ((*unk)->load_warnings().size(), 1u);
  EXPECT_NE((*unk)->load_warnings()[0].find("unk_token is not in the vocabulary"), std::string::npos);
  auto cut = ScoringEngine::Load(variant("template_cut", "tokenizer_config.json", [&](std::string text) {
    auto j = nlohmann::json::parse(text);
    const std::string chat = j["chat_template"];
    j["chat_template"] = chat.substr(0, chat.rfind("{%"));  // the last tag gone: an 'endfor' or 'endif'
    return j.dump();
  }));
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_FALSE((*cut)->has_chat_template());
  ASSERT_EQ((*cut)->load_warnings().size(), 1u);
  EXPECT_NE((*cut)->load_warnings()[0].find("the chat template does not parse"), std::string::npos)
      << (*cut)->load_warnings()[0];
}

// --- the security files --------------------------------------------------------------------------

// Every kind of entry in place of the certificate, the key, the client CA and the token file, and
// the wrong contents in the right kind of file: Start refuses, naming the file, before it listens.
TEST(AdminProbe, EveryKindOfEntryInPlaceOfEachSecurityFileIsRefusedNamingIt) {
  const std::string pki = ProbeRoot() + "/pki";
  ASSERT_EQ(std::system(absl::StrCat("bash ", SPARSEGATE_SOURCE_DIR, "/tests/server/make_test_certs.sh ", pki,
                                     " >/dev/null 2>&1").c_str()),
            0);
  const std::string tokens = pki + "/tokens";
  WriteText(tokens, std::string(kToken) + " score reload\n");
  struct SecurityFile {
    const char* name;
    std::string original;
    std::string* (*field)(ServerOptions&);
  };
  const std::vector<SecurityFile> files = {
      {"tls_cert", pki + "/server.pem", [](ServerOptions& o) { return &o.security.tls_cert_file; }},
      {"tls_key", pki + "/server.key", [](ServerOptions& o) { return &o.security.tls_key_file; }},
      {"tls_client_ca", pki + "/ca.pem", [](ServerOptions& o) { return &o.security.tls_client_ca_file; }},
      {"auth_tokens", tokens, [](ServerOptions& o) { return &o.security.auth_tokens_file; }},
  };
  auto good_options = [&] {
    ServerOptions options;
    options.model_dir = TinyModel();
    options.address = "127.0.0.1:0";
    for (const SecurityFile& f : files) *f.field(options) = f.original;
    return options;
  };
  {  // the control: the same settings with every file right start and serve
    auto server = DifficultyServer::Start(good_options());
    ASSERT_TRUE(server.ok()) << server.status();
  }
  // Right kind of file, wrong contents: each other file in its place (a key for a certificate, a
  // certificate that does not match the key, a PEM file as the token list, ...).
  std::vector<std::pair<std::string, std::string>> swaps;  // (file name, replacement)
  for (const SecurityFile& f : files) {
    for (const SecurityFile& other : files)
      if (other.original != f.original) swaps.emplace_back(f.name, other.original);
  }
  swaps.emplace_back("tls_key", pki + "/client.key");  // a valid key of another certificate
  swaps.emplace_back("tls_cert", pki + "/rogue_client.pem");

  int probed = 0;
  auto expect_refused = [&](ServerOptions options, const std::string& bad_path, const std::string& what,
                            const std::string& fragment = "") {
    SCOPED_TRACE(what);
    const absl::Status status = WithinPatience(what, [&options]() -> absl::Status {
      auto server = DifficultyServer::Start(options);
      return server.status();
    });
    ++probed;
    ASSERT_FALSE(status.ok()) << "accepted silently";
    const std::string message(status.message());
    const std::string name = fs::path(bad_path).filename().string();
    EXPECT_NE(message.find(name), std::string::npos) << "the file is not named: " << message;
    EXPECT_EQ(message.find(kCanary), std::string::npos) << "file contents echoed: " << message;
    EXPECT_EQ(message.find("BEGIN"), std::string::npos) << "PEM contents echoed: " << message;
    EXPECT_NE(status.code(), absl::StatusCode::kInternal) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  };
  for (const SecurityFile& f : files) {
    for (const EntryKind& kind : EntryKinds(f.original)) {
      // Half a token list is still a list of tokens (the first line cut short is a shorter token).
      if (std::string(kind.name) == "truncated" && std::string(f.name) == "auth_tokens") continue;
      const std::string path = absl::StrCat(ProbeRoot(), "/", kind.name, "-", f.name);
      fs::remove_all(path);
      fs::remove(path + ".other");
      kind.make(path);
      ServerOptions options = good_options();
      *f.field(options) = path;
      const bool special = absl::StartsWith(kind.name, "dev_") ||
                           absl::c_linear_search(std::vector<std::string>{"fifo", "directory", "socket"}, kind.name);
      expect_refused(options, path, absl::StrCat(kind.name, " as ", f.name), special ? ", not a regular file" : "");
    }
  }
  for (const auto& [name, replacement] : swaps) {
    ServerOptions options = good_options();
    for (const SecurityFile& f : files) {
      if (name != f.name) continue;
      // A copy under a name of its own, so the message must name this setting's file.
      const std::string path = absl::StrCat(ProbeRoot(), "/swap-", name, "-", fs::path(replacement).filename().string());
      fs::copy_file(replacement, path, fs::copy_options::overwrite_existing);
      *f.field(options) = path;
      expect_refused(options, path, absl::StrCat(fs::path(replacement).filename().string(), " as ", name));
    }
  }
  EXPECT_EQ(probed, 4 * 13 - 1 + 4 * 3 + 2);
  std::printf("security files probed: %d\n", probed);
}

// --- serve's flags -------------------------------------------------------------------------------

// Values at each bound (accepted) and past it (refused), plus non-numbers, for every numeric flag.
struct FlagValue {
  std::string flag, value;
  bool valid;
};

std::vector<FlagValue> FlagValues() {
  std::vector<FlagValue> values;
  auto text = [](double v) {
    return v == std::floor(v) && std::fabs(v) < 1e18 ? std::to_string(static_cast<int64_t>(v)) : absl::StrCat(v);
  };
  for (const BoundedOption& option : ServerOptionBounds()) {
    const OptionBound& b = option.bound;
    values.push_back({b.flag, text(b.min), true});
    values.push_back({b.flag, text(b.max), true});
    values.push_back({b.flag, text(b.min - 1), false});
    values.push_back({b.flag, text(b.max + 1), false});
    values.push_back({b.flag, "nan", false});
    values.push_back({b.flag, "inf", false});
    values.push_back({b.flag, "-inf", false});
    values.push_back({b.flag, "12abc", false});
    values.push_back({b.flag, "99999999999999999999999", false});
    if (b.integer) values.push_back({b.flag, text(b.min) + ".5", false});
  }
  return values;
}

TEST(AdminProbe, EveryNumericFlagIsRefusedPastItsBoundsAsItParses) {
  int refused = 0;
  for (const FlagValue& v : FlagValues()) {
    if (v.valid) continue;
    SCOPED_TRACE(v.flag + " " + v.value);
    // The parse fails before any file is read: the model directory need not even load.
    const auto started = std::chrono::steady_clock::now();
    const testing::CommandResult result =
        RunCommand(absl::StrCat("timeout 20 ", SPARSEGATE_BIN, " serve --model ", TinyModel(), " ", v.flag, " '", v.value, "' 2>&1"));
    EXPECT_NE(result.exit_code, 0) << result.output;
    EXPECT_NE(result.exit_code, 124) << "hung";
    EXPECT_NE(result.output.find(v.flag), std::string::npos) << result.output;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    ++refused;
  }
  std::printf("serve flag values refused: %d\n", refused);
}

TEST(AdminProbe, CheckServerOptionsHoldsTheSameBoundsForLibraryUsers) {
  for (const FlagValue& v : FlagValues()) {
    char* end = nullptr;
    const double value = std::strtod(v.value.c_str(), &end);
    if (*end != '\0' || v.value.find("999999999999") != std::string::npos) continue;  // not a number a struct can hold
    // Casting NaN, infinity or a value past int64 to an integer field is undefined behaviour, so
    // those reach the struct only through the double field; the command line covers the rest.
    const bool fits_int64 = std::isfinite(value) && std::fabs(value) < 9.2e18;
    if (!fits_int64 && v.flag != "--outlier-ratio") continue;
    ServerOptions options;
    options.max_prompts_per_request = 1;  // so that the queue's bound alone decides
    bool known = true;
    if (v.flag == "--max-prompt-tokens") options.engine.max_prompt_tokens = static_cast<int64_t>(value);
    else if (v.flag == "--max-prompt-bytes") options.engine.max_prompt_bytes = static_cast<int64_t>(value);
    else if (v.flag == "--shared-prefix-min-tokens") options.engine.shared_prefix_min_tokens = static_cast<int64_t>(value);
    else if (v.flag == "--prefix-cache-bytes") options.engine.prefix_cache_bytes = static_cast<int64_t>(value);
    else if (v.flag == "--max-queued-prompts") options.batcher.max_queued_prompts = static_cast<int64_t>(value);
    else if (v.flag == "--max-queued-bytes") options.batcher.max_queued_bytes = static_cast<int64_t>(value);
    else if (v.flag == "--max-queued-tokens") options.batcher.max_queued_tokens = static_cast<int64_t>(value);
    else if (v.flag == "--token-budget") options.batcher.token_budget = static_cast<int64_t>(value);
    else if (v.flag == "--large-request-bytes") options.batcher.large_request_bytes = static_cast<int64_t>(value);
    else if (v.flag == "--cache-bytes") options.batcher.cache_bytes = static_cast<int64_t>(value);
    else if (v.flag == "--outlier-ratio") options.engine.outlier_ratio = value;
    else known = false;  // int fields: their past-bound values are covered by the command line
    if (!known || (v.value.find('.') != std::string::npos && v.flag != "--outlier-ratio")) continue;
    SCOPED_TRACE(v.flag + " " + v.value);
    const absl::Status status = CheckServerOptions(options);
    EXPECT_EQ(status.ok(), v.valid) << status;
    if (!status.ok()) EXPECT_NE(status.message().find(v.flag), std::string::npos) << status;
  }
}

// --- Reload paths --------------------------------------------------------------------------------

grpc::Status Reload(v1::DifficultyService::Stub& stub, const std::string& model_dir) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", std::string("Bearer ") + kToken);
  context.set_deadline(std::chrono::system_clock::now() + kPatience);
  v1::ReloadRequest request;
  request.set_model_dir(model_dir);
  v1::ReloadResponse response;
  return stub.Reload(&context, request, &response);
}

TEST(AdminProbe, ReloadRefusesEveryPathShapeAndKeepsServing) {
  const std::string root = ProbeRoot() + "/reload_root";
  fs::create_directories(root);
  const std::string model = root + "/model";
  fs::copy(TinyModel(), model);  // a copy: a link would lead out of the root
  const std::string tokens = ProbeRoot() + "/tokens";
  WriteText(tokens, std::string(kToken) + " score reload\n");
  ServerProcess server(SPARSEGATE_BIN, model, {"--allow-reload", "--auth-tokens", tokens, "--reload-root", root});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));

  // Inside the root: the bad model directories (each entry kind in place of each file).
  fs::create_directory(root + "/loop");
  fs::create_symlink(root + "/loop/self", root + "/loop/self");
  fs::create_directory_symlink("/etc", root + "/escape_link");
  const std::string secret = ProbeRoot() + "/secret_config.json";  // outside the root
  WriteText(secret, absl::StrCat(R"({"model_type": ")", kCanary, "\"}"));
  fs::create_directory(root + "/points_outside");
  fs::create_symlink(secret, root + "/points_outside/config.json");

  struct PathCase {
    std::string path;
    grpc::StatusCode code;
    grpc::StatusCode or_code = grpc::StatusCode::OK;  // a second answer that is as precise
  };
  std::vector<PathCase> cases = {
      {"/etc", grpc::StatusCode::PERMISSION_DENIED},
      {"/", grpc::StatusCode::PERMISSION_DENIED},
      {"/nonexistent/elsewhere", grpc::StatusCode::PERMISSION_DENIED},
      {root, grpc::StatusCode::PERMISSION_DENIED},  // the root itself is no model directory inside it
      {root + "/../..", grpc::StatusCode::PERMISSION_DENIED},
      {root + "/model/../../..", grpc::StatusCode::PERMISSION_DENIED},
      {root + "/escape_link", grpc::StatusCode::PERMISSION_DENIED},
      {"model", grpc::StatusCode::PERMISSION_DENIED},  // relative: to the server's working directory
      {root + "/does_not_exist", grpc::StatusCode::NOT_FOUND},
      {root + "/loop/self", grpc::StatusCode::INVALID_ARGUMENT},
      {root + "/" + std::string(300, 'a'), grpc::StatusCode::INVALID_ARGUMENT},
      {root + "/" + std::string(1 << 20, 'b'), grpc::StatusCode::INVALID_ARGUMENT},
      {root + "/a\nFAKE LOG LINE\x1b[31m", grpc::StatusCode::NOT_FOUND},
      {root + std::string("/nul\0byte", 9), grpc::StatusCode::INVALID_ARGUMENT},
      {root + "/points_outside", grpc::StatusCode::PERMISSION_DENIED},
      {tokens, grpc::StatusCode::PERMISSION_DENIED},
  };
  for (const std::string& file : kModelFiles) {
    for (const EntryKind& kind : EntryKinds(TinyModel() + "/" + file)) {
      if (file == "tokenizer_config.json") continue;  // loads, with a warning (above)
      const std::string dir = BadModelDir(file, kind, /*copy_files=*/true);
      const std::string inside = root + "/" + fs::path(dir).filename().string();
      fs::rename(dir, inside);
      // Links to devices lead out of the root; a missing config.json is NOT_FOUND; a wrong one may
      // be unsupported; the rest is invalid or lost data.
      const bool leaves = std::string(kind.name).rfind("dev_", 0) == 0;
      cases.push_back({inside, leaves ? grpc::StatusCode::PERMISSION_DENIED : grpc::StatusCode::INVALID_ARGUMENT,
                       leaves ? grpc::StatusCode::PERMISSION_DENIED : grpc::StatusCode::DATA_LOSS});
      if (!leaves && file == "config.json") cases.back().or_code = grpc::StatusCode::NOT_FOUND;
    }
  }
  int probed = 0;
  for (const PathCase& c : cases) {
    SCOPED_TRACE(c.path.substr(0, 200));
    const grpc::Status status = Reload(*stub, c.path);
    ++probed;
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << "hung";
    EXPECT_NE(status.error_code(), grpc::StatusCode::UNKNOWN) << status.error_message();
    EXPECT_TRUE(status.error_code() == c.code || status.error_code() == c.or_code)
        << status.error_code() << ": " << status.error_message();
    EXPECT_EQ(status.error_message().find(kCanary), std::string::npos) << status.error_message();
    EXPECT_LT(status.error_message().size(), 2000u);
  }
  std::printf("Reload paths probed: %d\n", probed);

  // Still serving, and a good reload still works; the log never carried a raw control character.
  v1::ScoreRequest request;
  request.add_prompts()->set_text("2 + 2 =");
  request.mutable_options()->add_layers(-1);
  grpc::ClientContext context;
  context.AddMetadata("authorization", std::string("Bearer ") + kToken);
  v1::ScoreResponse response;
  EXPECT_TRUE(stub->Score(&context, request, &response).ok());
  EXPECT_TRUE(Reload(*stub, model).ok());
  const std::string log = server.log();
  EXPECT_EQ(log.find("\nFAKE LOG LINE"), std::string::npos) << "an unescaped newline reached the log";
  EXPECT_EQ(log.find('\x1b'), std::string::npos);
  EXPECT_EQ(log.find(kCanary), std::string::npos);
}

}  // namespace
}  // namespace sparsegate
