#pragma once
// The Alipay OpenAPI behind the channel-neutral gateway requests: open,
// query, close and refund a trade become alipay.trade.precreate / .query /
// .close / .refund with their biz_content, signed RSA2 (the requests and
// the signed answers themselves are in channels/alipay_*.hpp); the signed
// answers become channel_replies. Plain code, no CAF, no I/O.

#include "channels/channel_protocol.hpp"
#include "channels/rsa_key.hpp"

#include <string>
#include <vector>

namespace payengine::channels {

struct alipay_protocol_settings {
  std::string app_id;
  /// Where the channel posts notifications when a request names none.
  std::string notify_url;
  private_key app_key;    // signs our requests
  public_key channel_key; // verifies the answers
  /// Currencies the channel settles in; anything else is refused up front.
  std::vector<std::string> currencies;
};

class alipay_protocol final : public channel_protocol {
public:
  explicit alipay_protocol(alipay_protocol_settings settings);

  prepared prepare(const open_trade& x) const override;
  prepared prepare(const query_trade& x) const override;
  prepared prepare(const close_trade& x) const override;
  prepared prepare(const refund_trade& x) const override;

  verdict judge(const call_facts& call, const exchange& answer) const override;

  std::string_view method_of(call_kind kind) const override;

private:
  alipay_protocol_settings settings_;
};

} // namespace payengine::channels
