#pragma once
// Helpers shared by trade_book.cpp (Alipay and the scan) and
// trade_book_wechat.cpp; not part of the trade book's interface.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "channels/alipay.hpp"
#include "channels/wechat.hpp"
#include "sim/channel.hpp"
#include "sim/clock.hpp"

namespace payengine::sim::book {

// The trades map's key: the channel, then the merchant's number (the same
// number may live at both channels).
[[nodiscard]] inline std::string key_of(channel via, std::string_view out_trade_no) {
  std::string key(to_string(via));
  key += ':';
  key += out_trade_no;
  return key;
}

// Now, as the channel writes times: Alipay "2024-05-01 12:00:00", WeChat
// "2024-05-01T12:00:00+08:00".
[[nodiscard]] inline std::string now_text(channel via) {
  if (via == channel::wechat) return channels::wechat::format_rfc3339(now_us());
  return channels::alipay::format_timestamp(std::chrono::system_clock::now());
}

// "2024-05-01 12:00:00" -> "20240501"
[[nodiscard]] inline std::string date_digits(const std::string& timestamp) {
  std::string digits;
  for (char c : timestamp.substr(0, 10)) {
    if (c != '-') digits += c;
  }
  return digits;
}

[[nodiscard]] inline std::string padded(std::uint64_t value, int width) {
  char text[32];
  std::snprintf(text, sizeof text, "%0*llu", width, static_cast<unsigned long long>(value));
  return text;
}

}  // namespace payengine::sim::book
