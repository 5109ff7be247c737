#pragma once
// A loopback TCP server that answers HTTP by hand, for endpoints no HTTP
// library would play: one that drips its answer a byte at a time, one that
// answers too much. Each connection runs `handler(fd)` on its own thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace payengine::testing {

class raw_http_server {
public:
  using handler = std::function<void(int fd)>;

  explicit raw_http_server(handler h) : handler_(std::move(h)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int yes = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listener_, 64);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~raw_http_server() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR); // wakes accept()
    acceptor_.join();
    ::close(listener_);
    {
      std::lock_guard lock{mtx_};
      for (int fd : fds_)
        ::shutdown(fd, SHUT_RDWR); // wakes the handlers
    }
    for (auto& t : threads_)
      t.join();
    for (int fd : fds_)
      ::close(fd);
  }

  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  bool stopping() const { return stopping_.load(); }

private:
  void accept_loop() {
    while (!stopping_) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_)
          return;
        continue;
      }
      connections_++;
      std::lock_guard lock{mtx_};
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] { handler_(fd); });
    }
  }

  handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mtx_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
};

/// Reads one request's head and its Content-Length body (bounded in time).
inline std::string read_http_request(int fd, std::chrono::milliseconds limit = std::chrono::seconds{5}) {
  std::string in;
  auto until = std::chrono::steady_clock::now() + limit;
  size_t want = std::string::npos;
  while (in.size() < want && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    in.append(buf, static_cast<size_t>(n));
    auto head_end = in.find("\r\n\r\n");
    if (want == std::string::npos && head_end != std::string::npos) {
      size_t length = 0;
      auto at = in.find("Content-Length: ");
      if (at != std::string::npos && at < head_end)
        length = std::stoul(in.substr(at + 16));
      want = head_end + 4 + length;
    }
  }
  return in;
}

/// Sends `bytes` one at a time, `gap` apart; stops early when the client
/// goes away. Returns how many were sent.
inline size_t drip(int fd, const std::string& bytes, std::chrono::milliseconds gap) {
  size_t sent = 0;
  for (char c : bytes) {
    if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1)
      break;
    ++sent;
    pollfd p{fd, POLLIN, 0}; // the pace; readable = the client closed
    if (::poll(&p, 1, static_cast<int>(gap.count())) != 0)
      break;
  }
  return sent;
}

inline void send_all(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    off += static_cast<size_t>(n);
  }
}

} // namespace payengine::testing
