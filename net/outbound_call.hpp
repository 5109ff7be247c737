#pragma once
// One bounded outbound HTTP call (API.md "Outbound calls"), shared by the
// channel gateway's workers and the notifier's webhook and SMS workers.
// Blocking, no CAF: a caller belongs to one thread (a detached worker).
//
// - The host is resolved here (within the deadline) and every candidate
//   checked against the address_policy; the connection goes to a checked
//   literal address (httplib's host -> address map), while the Host header,
//   TLS SNI and certificate check still use the URL's host. What is checked
//   is what is connected to, so DNS rebinding cannot reach a forbidden one.
// - One total deadline covers DNS, connect, TLS, send, wait and read: a
//   watchdog thread (net/call_watchdog.hpp) shuts the socket down when it
//   passes, whatever httplib's per-operation timeouts (which restart with
//   every byte) say.
// - The response body is capped; more is a failed call. So are the bytes
//   received in all (headers included, which httplib does not bound).

#include "net/address_policy.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace payengine::net {

struct call_limits {
  uint32_t deadline_ms = 5'000;        // the whole call, DNS included
  uint32_t connect_timeout_ms = 2'000; // one TCP connect (within the deadline)
  uint32_t read_timeout_ms = 0;        // one read; 0: the deadline
  uint32_t write_timeout_ms = 0;       // one write; 0: the deadline
  uint32_t response_max_bytes = 64 * 1024;
  bool keep_alive = false; // keep the connection for the next call to the same origin
};

/// Why a call got no usable answer. Numbers are permanent.
enum class call_failure : uint8_t {
  none = 0,
  invalid_target = 1,     // not an http(s) URL with a host
  address_forbidden = 2,  // every address of the host is refused by the policy
  dns_failed = 3,         // the host does not resolve
  deadline_exceeded = 4,  // the total deadline passed
  response_too_large = 5, // the body is over response_max_bytes
  transport = 6,          // connect, TLS, read or write failed
};

std::string_view to_string(call_failure f);

struct call_request {
  std::string method = "POST";
  std::string url; // http(s)://host[:port]/path?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
};

struct call_result {
  int status = 0; // 0: no complete HTTP answer
  std::string body;
  call_failure failure = call_failure::none;
  /// Empty on success; else "<failure>: <detail>", e.g.
  /// "address_forbidden: localhost -> 127.0.0.1 is loopback".
  std::string error;
  uint32_t latency_ms = 0;
  std::string peer; // the address connected to, when one was
  /// The answer's header fields (names as sent), when there is an answer.
  std::vector<std::pair<std::string, std::string>> headers;

  bool answered() const { return failure == call_failure::none; }
};

class outbound_caller {
public:
  outbound_caller(address_policy policy, call_limits limits);
  ~outbound_caller();
  outbound_caller(const outbound_caller&) = delete;
  outbound_caller& operator=(const outbound_caller&) = delete;

  /// Never throws; every failure is a result.
  call_result call(const call_request& req);

  const call_limits& limits() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace payengine::net
