#include "net/call_watchdog.hpp"

#include <fcntl.h>
#include <linux/tcp.h> // tcpi_bytes_received (glibc's netinet/tcp.h lacks it)
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace payengine::net {

namespace {

/// How often the byte count of a running call is looked at: a fast peer
/// gets at most this long past the budget.
constexpr std::chrono::milliseconds byte_check_interval{20};

/// Bytes the socket received so far (TCP payload); 0 if unknown.
uint64_t bytes_received(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0
      || len < offsetof(tcp_info, tcpi_bytes_received) + sizeof(info.tcpi_bytes_received))
    return 0;
  return info.tcpi_bytes_received;
}

} // namespace

call_watchdog::call_watchdog() : thread_([this] { run(); }) {
  // nop
}

call_watchdog::~call_watchdog() {
  {
    std::lock_guard lock{mtx_};
    stopping_ = true;
    cv_.notify_all();
  }
  thread_.join();
  close_all();
}

void call_watchdog::arm(clock_type::time_point deadline, uint64_t bytes_max) {
  std::lock_guard lock{mtx_};
  close_all();
  verdict_ = verdict::none;
  until_ = deadline;
  bytes_max_ = bytes_max;
  cv_.notify_all();
}

void call_watchdog::watch(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0)
    return; // this socket is then bounded by httplib's own timeouts only
  std::lock_guard lock{mtx_};
  fds_.push_back({copy, bytes_received(copy)});
  if (verdict_ != verdict::none)
    ::shutdown(copy, SHUT_RDWR); // made after the cut: cut too
}

call_watchdog::verdict call_watchdog::disarm() {
  std::lock_guard lock{mtx_};
  until_.reset();
  close_all();
  return verdict_;
}

void call_watchdog::run() {
  std::unique_lock lock{mtx_};
  while (!stopping_) {
    if (!until_) {
      cv_.wait(lock);
      continue;
    }
    if (clock_type::now() >= *until_) {
      cut(verdict::deadline);
      continue;
    }
    if (over_budget()) {
      cut(verdict::too_many_bytes);
      continue;
    }
    cv_.wait_until(lock, std::min(*until_, clock_type::now() + byte_check_interval));
  }
}

void call_watchdog::cut(verdict why) {
  verdict_ = why;
  until_.reset();
  for (const auto& w : fds_)
    ::shutdown(w.fd, SHUT_RDWR);
}

bool call_watchdog::over_budget() const {
  for (const auto& w : fds_) {
    auto now = bytes_received(w.fd);
    if (now > w.received_before && now - w.received_before > bytes_max_)
      return true;
  }
  return false;
}

void call_watchdog::close_all() {
  for (const auto& w : fds_)
    ::close(w.fd);
  fds_.clear();
}

} // namespace payengine::net
