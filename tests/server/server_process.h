// Runs the real `sparsegate serve` binary as a child process for the
// integration tests, on a free loopback port, and stops it again.
#ifndef SPARSEGATE_TESTS_SERVER_SERVER_PROCESS_H_
#define SPARSEGATE_TESTS_SERVER_SERVER_PROCESS_H_

#include <string>
#include <vector>

namespace sparsegate::testing {

class ServerProcess {
 public:
  // Starts `binary serve --model model_dir --address 127.0.0.1:0 extra...`
  // and waits (up to 60 s) for its "ready on port N" line. ok() is false
  // when it exits or times out first; log() then says why.
  ServerProcess(const std::string& binary, const std::string& model_dir, const std::vector<std::string>& extra = {});
  ~ServerProcess();  // SIGTERM, then SIGKILL after 10 s

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  int pid() const { return pid_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Everything the server wrote to stderr so far.
  std::string log() const;
  // Sends SIGTERM and returns the exit status (-1 when it had to be killed).
  int Stop();

 private:
  int pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Runs a shell command to completion.
CommandResult RunCommand(const std::string& command);

}  // namespace sparsegate::testing

#endif  // SPARSEGATE_TESTS_SERVER_SERVER_PROCESS_H_
