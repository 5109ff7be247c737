#include "channels/channel_protocol.hpp"

#include "messages/money.hpp"

#include <algorithm>
#include <cctype>

namespace payengine::channels {

std::string_view header_value(const header_list& headers, std::string_view name) {
  auto same = [&](const std::string& k) {
    return k.size() == name.size()
           && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a))
                       == std::tolower(static_cast<unsigned char>(b));
              });
  };
  for (const auto& [k, v] : headers)
    if (same(k))
      return v;
  return {};
}

std::optional<int> settled_exponent(const std::string& currency,
                                    const std::vector<std::string>& settled) {
  const auto* info = find_currency(currency);
  if (info == nullptr
      || std::find(settled.begin(), settled.end(), currency) == settled.end())
    return std::nullopt;
  return info->exponent;
}

bool retryable_status(int status) {
  return status >= 500 || status == 408 || status == 429;
}

channel_reply reply_of(channel_outcome outcome, std::string reason) {
  channel_reply r;
  r.outcome = outcome;
  r.reason = std::move(reason);
  return r;
}

verdict answered(channel_reply r) {
  return {true, false, std::move(r)};
}

verdict try_again(std::string why) {
  return {false, true, reply_of(channel_outcome::unavailable, std::move(why))};
}

verdict unusable(std::string why) {
  return {false, false, reply_of(channel_outcome::unavailable, std::move(why))};
}

} // namespace payengine::channels
