#pragma once
// The engine's payment channels as the order actors see them: each
// configured channel's gateway (actors/gateway.hpp), where it has
// notifications posted, and the health its gateway publishes (breaker
// state, recent answers), read without a message so that routing an `auto`
// payment and failing fast while a channel is down cost nothing. Ranking
// is plain code (domain/routing.hpp). One set per engine generation: a
// restarted engine has new gateways and a new set.

#include "domain/routing.hpp"
#include "messages/interfaces.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace payengine {

/// What one gateway tells the order actors about its channel. Written by
/// that gateway only (relaxed atomics: each value stands alone), read by any.
class channel_health {
public:
  using clock_type = std::chrono::steady_clock;
  using circuit = domain::route_health::circuit;

  /// One attempt's answer: usable (healthy) or not.
  void record(bool healthy);
  /// The breaker's state; with `open`, until when it refuses.
  void set_circuit(circuit c, clock_type::time_point open_until = {});

  /// The channel as of `now`: an open breaker whose time is up counts as
  /// half-open (its next call is the probe), even if nobody asked it since.
  domain::route_health snapshot(std::string name, clock_type::time_point now) const;

private:
  std::atomic<uint8_t> circuit_{0};
  std::atomic<int64_t> open_until_ns_{0};
  std::atomic<uint64_t> recent_{0};  // bit i: the (i+1)-th latest attempt was usable
  std::atomic<uint32_t> samples_{0}; // attempts seen, capped at 64
};

struct channel_entry {
  std::string name;        // "alipay", "wechat"
  gateway_actor gateway;
  std::string notify_url;  // where the channel posts notifications
  std::shared_ptr<channel_health> health;
};

class channel_set {
public:
  std::vector<channel_entry> entries; // in the configuration's order

  /// The channel named `name`, or null when it is not configured.
  const channel_entry* find(std::string_view name) const;

  /// The channels taking payments now (breaker not open), best first.
  std::vector<std::string> routes() const;

  /// False while `name`'s breaker is open (and for unknown channels).
  bool usable(std::string_view name) const;

  /// Every channel's health now, in the configuration's order.
  std::vector<domain::route_health> health() const;
};

} // namespace payengine
