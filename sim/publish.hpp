#pragma once

#include <optional>

#include "channels/alipay.hpp"
#include "sim/notifier.hpp"
#include "sim/trade_book.hpp"

namespace payengine::sim {

// Signs the notification of a state change and queues it for the trade's
// notify_url. Nothing to do when the trade has no notify_url.
void publish(notifier& out, const channels::private_key& sim_key, const trade& t,
             const std::optional<channels::alipay::notification>& notice);

}  // namespace payengine::sim
