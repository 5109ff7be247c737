#pragma once
// Which channel an `auto` order pays through (API.md v1.1 "Channels:
// WeChat Pay v3, and routing"), as plain code: the order actor reads each
// gateway's health (actors/channel_set.hpp), ranks the channels here, and
// hands the ranking to the decision core (order_book::routes), which picks
// from it. No CAF, no I/O, no clock.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace payengine::domain {

/// One configured channel as its gateway last reported it.
struct route_health {
  std::string channel;
  enum class circuit : uint8_t { closed, half_open, open } breaker = circuit::closed;
  uint32_t samples = 0;   // recent attempts behind `successes`
  uint32_t successes = 0; // of them, those the channel answered usably
};

/// Below this many recent attempts a channel's success rate says nothing:
/// it counts as fully healthy.
inline constexpr uint32_t route_samples_min = 8;

/// The channels best first: a closed breaker before a half-open one before
/// an open one; then the higher recent success rate (in steps of 1/8, so
/// that noise does not flip the order); then the order given (the
/// configuration's). Every channel given is in the result.
std::vector<std::string> rank_routes(const std::vector<route_health>& channels);

/// True for a ranking whose first channel may take new payments: its
/// breaker is not open.
bool usable(const route_health& h);

/// The next channel an `auto` payment may move to after a definite refusal
/// on `current`: the best of `routes` that is neither `current` nor in
/// `tried` (comma-separated); "" when none is left.
std::string next_route(const std::vector<std::string>& routes, std::string_view current,
                       std::string_view tried);

} // namespace payengine::domain
