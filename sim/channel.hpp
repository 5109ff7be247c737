#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace payengine::sim {

// The channels the simulator plays. Trades, faults and notifications each
// belong to one; the same out_trade_no may exist at both (they are
// different companies), so a trade is known by its channel and number.
enum class channel : unsigned char { alipay = 0, wechat = 1 };

inline constexpr std::size_t channel_count = 2;
inline constexpr std::array<channel, channel_count> all_channels{channel::alipay, channel::wechat};

[[nodiscard]] constexpr std::string_view to_string(channel c) {
  return c == channel::wechat ? "wechat" : "alipay";
}

[[nodiscard]] inline std::optional<channel> channel_from(std::string_view text) {
  for (const channel c : all_channels) {
    if (to_string(c) == text) return c;
  }
  return std::nullopt;
}

[[nodiscard]] constexpr std::size_t index_of(channel c) { return static_cast<std::size_t>(c); }

}  // namespace payengine::sim
