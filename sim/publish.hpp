#pragma once

#include <optional>

#include "channels/alipay.hpp"
#include "sim/notifier.hpp"
#include "sim/trade_book.hpp"
#include "sim/wechat_keys.hpp"

namespace payengine::sim {

// Signs the notification of a state change and queues it for the trade's
// notify_url. Nothing to do when the trade has no notify_url.
void publish(notifier& out, const channels::private_key& sim_key, const trade& t,
             const std::optional<channels::alipay::notification>& notice);

// Seals a WeChat notification's resource with the APIv3 key and queues it
// for its notify_url; every attempt is signed with the platform key when
// it is made. Nothing to do without a notice.
void publish(notifier& out, const wechat_keys& keys, const trade& t, const std::optional<wechat_notice>& notice);

}  // namespace payengine::sim
