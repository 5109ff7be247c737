#pragma once

// Runs the real paysim binary as a child process on a free loopback port. It
// dies with the test however the test ends (tests/support/child_process.hpp).
#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <utility>
#include <vector>

namespace payengine::test {

class paysim_process {
 public:
  // `env` entries ("NAME=value") are added to this process's environment.
  paysim_process(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<std::string> argv{PAYSIM_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> overrides;
    for (const auto& entry : env) {
      const auto eq = entry.find('=');
      overrides[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    try {
      pid_ = ::payengine::testing::spawn_child(argv, ::payengine::testing::environment_with(overrides),
                                               {-1, pipe_fds[1], -1});
    } catch (...) {
      close(pipe_fds[0]);
      close(pipe_fds[1]);
      throw;
    }
    close(pipe_fds[1]);
    stdout_fd_ = pipe_fds[0];
    try {
      port_ = read_port(std::chrono::seconds(10));
    } catch (...) {  // no destructor runs for a constructor that throws
      stop();
      close(stdout_fd_);
      throw;
    }
  }

  ~paysim_process() {
    if (pid_ > 0) stop();
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  paysim_process(const paysim_process&) = delete;
  paysim_process& operator=(const paysim_process&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // SIGTERM, then the exit code (-signal when killed, after 10 s of waiting).
  int stop() {
    if (pid_ <= 0) return -1;  // never kill(-1, ...): that signals every process we may signal
    const auto status = ::payengine::testing::stop_child(pid_, std::chrono::seconds(10));
    pid_ = -1;
    if (!status) return -SIGKILL;
    return WIFEXITED(*status) ? WEXITSTATUS(*status) : -WTERMSIG(*status);
  }

 private:
  // The port from "paysim listening on http://127.0.0.1:PORT".
  int read_port(std::chrono::milliseconds timeout) {
    std::string line;
    pollfd fd{stdout_fd_, POLLIN, 0};
    while (line.find('\n') == std::string::npos) {
      char buffer[256];
      if (poll(&fd, 1, static_cast<int>(timeout.count())) != 1) throw std::runtime_error("paysim did not start");
      const auto n = read(stdout_fd_, buffer, sizeof buffer);
      if (n <= 0) throw std::runtime_error("paysim exited before listening");
      line.append(buffer, static_cast<std::size_t>(n));
    }
    line.resize(line.find('\n'));
    return std::stoi(line.substr(line.rfind(':') + 1));
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;  // kept open until the end so paysim's later output never hits a closed pipe
  int port_ = 0;
};

}  // namespace payengine::test
