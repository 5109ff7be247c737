#pragma once

// Runs the real paysim binary as a child process on a free loopback port.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace payengine::test {

class paysim_process {
 public:
  // `env` entries ("NAME=value") are added to this process's environment.
  paysim_process(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<std::string> argv_text{PAYSIM_BINARY};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<std::string> env_text(env);
    for (char** e = environ; *e != nullptr; ++e) env_text.emplace_back(*e);
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    // Everything the child touches is prepared before fork.
    auto argv = pointers(argv_text);
    auto envp = pointers(env_text);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(pipe_fds[1], STDOUT_FILENO);
      close(pipe_fds[0]);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(pipe_fds[1]);
    stdout_fd_ = pipe_fds[0];
    port_ = read_port(std::chrono::seconds(10));
  }

  ~paysim_process() {
    if (pid_ > 0) stop();
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  paysim_process(const paysim_process&) = delete;
  paysim_process& operator=(const paysim_process&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // SIGTERM, then the exit code (-signal when killed, after 10 s of waiting).
  int stop() {
    if (pid_ <= 0) return -1;  // never kill(-1, ...): that signals every process we may signal
    kill(pid_, SIGTERM);
    int status = 0;
    for (int waited_ms = 0; waitpid(pid_, &status, WNOHANG) == 0; waited_ms += 10) {
      if (waited_ms > 10'000) kill(pid_, SIGKILL);
      poll(nullptr, 0, 10);
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

 private:
  static std::vector<char*> pointers(std::vector<std::string>& texts) {
    std::vector<char*> out;
    for (auto& text : texts) out.push_back(text.data());
    out.push_back(nullptr);
    return out;
  }

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
