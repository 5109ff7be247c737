#include "sim/publish.hpp"

#include <spdlog/spdlog.h>

#include "sim/limits.hpp"

namespace payengine::sim {

void publish(notifier& out, const channels::private_key& sim_key, const trade& t,
             const std::optional<channels::alipay::notification>& notice) {
  if (!notice) return;
  auto body = channels::alipay::make_notification(*notice, sim_key);
  if (!body) {
    spdlog::error("cannot sign notification {} for {}: {}", notice->notify_id, t.out_trade_no, body.error().detail);
    return;
  }
  delivery d;
  d.via = channel::alipay;
  d.out_trade_no = t.out_trade_no;
  d.notify_id = notice->notify_id;
  d.notify_url = t.notify_url;
  d.body = std::move(body).value();
  out.enqueue(std::move(d));
}

void publish(notifier& out, const wechat_keys& keys, const trade& t, const std::optional<wechat_notice>& notice) {
  if (!notice) return;
  const auto nonce = random_alnum(limits::wechat_resource_nonce_chars);
  auto body = channels::wechat::make_notification(notice->event, keys.apiv3_key, nonce);
  if (!body) {
    spdlog::error("cannot seal notification {} for {}: {}", notice->event.id, t.out_trade_no, body.error().detail);
    return;
  }
  delivery d;
  d.via = channel::wechat;
  d.out_trade_no = t.out_trade_no;
  d.notify_id = notice->event.id;
  d.notify_url = notice->notify_url;
  d.body = std::move(body).value();
  d.content_type = "application/json";
  // The keys outlive the notifier (main owns both, the notifier stops first).
  d.sign_headers = [&keys](const std::string& text) { return keys.sign(text); };
  out.enqueue(std::move(d));
}

}  // namespace payengine::sim
