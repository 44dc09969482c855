#include "server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace sparsegate::testing {

ServerProcess::ServerProcess(const std::string& binary, const std::string& model_dir,
                             const std::vector<std::string>& extra) {
  char log_template[] = "/tmp/sparsegate_server_XXXXXX";
  int log_fd = mkstemp(log_template);
  log_path_ = log_template;
  int out[2];
  if (pipe(out) != 0) return;
  std::vector<std::string> args = {binary, "serve", "--model", model_dir, "--address", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(out[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  close(log_fd);
  // Read stdout until the ready line, the child's exit, or the timeout.
  std::string buffer;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::regex ready("ready on port (\\d+)");
  while (std::chrono::steady_clock::now() < give_up) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 200) > 0) {
      char chunk[256];
      ssize_t n = read(out[0], chunk, sizeof chunk);
      if (n <= 0) break;  // the child closed stdout: it exited
      buffer.append(chunk, n);
      std::smatch m;
      if (std::regex_search(buffer, m, ready)) {
        port_ = std::stoi(m[1]);
        break;
      }
    }
  }
  close(out[0]);
}

ServerProcess::~ServerProcess() { Stop(); }

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

std::string ServerProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result{-1, ""};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, pipe)) > 0) result.output.append(chunk, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace sparsegate::testing
