#include "sim/publish.hpp"

#include <spdlog/spdlog.h>

namespace payengine::sim {

void publish(notifier& out, const channels::private_key& sim_key, const trade& t,
             const std::optional<channels::alipay::notification>& notice) {
  if (!notice) return;
  auto body = channels::alipay::make_notification(*notice, sim_key);
  if (!body) {
    spdlog::error("cannot sign notification {} for {}: {}", notice->notify_id, t.out_trade_no, body.error().detail);
    return;
  }
  out.enqueue({t.out_trade_no, notice->notify_id, t.notify_url, std::move(body).value(), 0});
}

}  // namespace payengine::sim
