#pragma once
// The watchdog of an outbound_caller (net/outbound_call.cpp): while a call
// runs it watches the call's sockets and shuts them down when the call's
// deadline passes, or when more bytes arrived than the call may read
// (headers included: httplib caps neither their number nor a line's
// length while reading it). It holds its own duplicates of the sockets'
// descriptors, so a descriptor number that httplib closed and the system
// gave to someone else is never touched; shutdown() acts on the socket
// itself and wakes a thread blocked in connect, poll or a TLS handshake.
//
// One thread of the process ("pe.watchdog") watches every armed call: it
// looks every 20 ms while any call runs and sleeps while none does. Arming
// wakes it only when it sleeps, so calls that follow one another closely
// (a loaded gateway) cost no wake-up each. A call is cut at most 20 ms
// after its deadline.

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace payengine::net {

class call_watchdog {
public:
  using clock_type = std::chrono::steady_clock;

  /// Why the watchdog cut the call, if it did.
  enum class verdict : uint8_t { none, deadline, too_many_bytes };

  call_watchdog();
  ~call_watchdog();
  call_watchdog(const call_watchdog&) = delete;
  call_watchdog& operator=(const call_watchdog&) = delete;

  /// A call starts: cut at `deadline`, or when a socket received more
  /// than `bytes_max` bytes since it was watched.
  void arm(clock_type::time_point deadline, uint64_t bytes_max);
  /// A socket of the current call (httplib's socket hook, or a kept-alive one).
  void watch(int fd);
  /// The call ended: forget its sockets; what the watchdog did.
  verdict disarm();

private:
  friend class watch_board;
  struct watched {
    int fd;
    uint64_t received_before; // on a kept-alive socket: earlier answers
  };

  // All below under the board's lock (net/call_watchdog.cpp).
  void cut(verdict why);
  bool over_budget() const;
  void close_all();

  verdict verdict_ = verdict::none;
  std::optional<clock_type::time_point> until_;
  uint64_t bytes_max_ = 0;
  std::vector<watched> fds_;
};

} // namespace payengine::net
