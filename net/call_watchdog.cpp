#include "net/call_watchdog.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <linux/tcp.h> // tcpi_bytes_received (glibc's netinet/tcp.h lacks it)
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

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

/// The one thread that watches every armed call_watchdog.
class watch_board {
public:
  static watch_board& get() {
    // Never destroyed: watchdogs may outlive static destruction at exit.
    static auto* board = new watch_board;
    return *board;
  }

  std::mutex mtx;

  /// Under `mtx`.
  void arm(call_watchdog* dog) {
    const bool sleeping = armed_.empty();
    if (std::find(armed_.begin(), armed_.end(), dog) == armed_.end())
      armed_.push_back(dog);
    if (sleeping)
      cv_.notify_one();
  }

  /// Under `mtx`.
  void disarm(call_watchdog* dog) {
    armed_.erase(std::remove(armed_.begin(), armed_.end(), dog), armed_.end());
  }

private:
  watch_board() {
    std::thread{[this] { run(); }}.detach();
  }

  void run() {
    ::pthread_setname_np(::pthread_self(), "pe.watchdog");
    std::unique_lock lock{mtx};
    for (;;) {
      if (armed_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const auto now = call_watchdog::clock_type::now();
      auto next = now + byte_check_interval;
      for (auto it = armed_.begin(); it != armed_.end();) {
        auto* dog = *it;
        if (now >= *dog->until_) {
          dog->cut(call_watchdog::verdict::deadline);
        } else if (dog->over_budget()) {
          dog->cut(call_watchdog::verdict::too_many_bytes);
        } else {
          next = std::min(next, *dog->until_);
          ++it;
          continue;
        }
        it = armed_.erase(it);
      }
      if (!armed_.empty())
        cv_.wait_until(lock, next);
    }
  }

  std::condition_variable cv_;
  std::vector<call_watchdog*> armed_;
};

call_watchdog::call_watchdog() = default;

call_watchdog::~call_watchdog() {
  auto& board = watch_board::get();
  std::lock_guard lock{board.mtx};
  board.disarm(this);
  close_all();
}

void call_watchdog::arm(clock_type::time_point deadline, uint64_t bytes_max) {
  auto& board = watch_board::get();
  std::lock_guard lock{board.mtx};
  close_all();
  verdict_ = verdict::none;
  until_ = deadline;
  bytes_max_ = bytes_max;
  board.arm(this);
}

void call_watchdog::watch(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0)
    return; // this socket is then bounded by httplib's own timeouts only
  auto& board = watch_board::get();
  std::lock_guard lock{board.mtx};
  fds_.push_back({copy, bytes_received(copy)});
  if (verdict_ != verdict::none)
    ::shutdown(copy, SHUT_RDWR); // made after the cut: cut too
}

call_watchdog::verdict call_watchdog::disarm() {
  auto& board = watch_board::get();
  std::lock_guard lock{board.mtx};
  board.disarm(this);
  until_.reset();
  close_all();
  return verdict_;
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
