#pragma once
// WeChat Pay API v3 behind the channel-neutral gateway requests: open,
// query, close and refund a trade become
//   POST /v3/pay/transactions/native                       -> {"code_url"}
//   GET  /v3/pay/transactions/out-trade-no/{otn}?mchid=...  -> transaction
//   POST /v3/pay/transactions/out-trade-no/{otn}/close      -> 204
//   POST /v3/refund/domestic/refunds                        -> refund
// each signed with the merchant's key (channels/wechat.hpp), and every
// answer's platform signature is checked before it is read. Plain code, no
// CAF, no I/O; the clock is passed in (tests pin it).
//
// What answers mean (judge):
//   2xx, signature verifies                 -> the answer (ok / trade state)
//   query 404 ORDER_NOT_EXIST (signed)      -> ok, state unknown (no such trade)
//   4xx signed, a definite refusal          -> rejected with WeChat's code
//   open 400 ORDERPAID / close ORDERPAID    -> unavailable (the trade exists
//                                             and is paid: query, never switch)
//   429 FREQUENCY_LIMITED, 5xx SYSTEM_ERROR,
//   no answer                              -> try again (same signed request)
//   an answer whose signature fails, or an unsigned 2xx/4xx -> unusable
//   refund PROCESSING                       -> unavailable "refund_processing"
//                                             (asked again later, same out_refund_no)

#include "channels/channel_protocol.hpp"
#include "channels/rsa_key.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace payengine::channels {

struct wechat_protocol_settings {
  std::string mch_id;
  std::string app_id;
  /// Where the channel posts notifications (…/v1/callbacks/wechat).
  std::string notify_url;
  private_key merchant_key;     // signs our requests
  std::string merchant_serial;  // its certificate's serial (serial_no)
  public_key platform_key;      // verifies the answers
  std::string platform_serial;  // Wechatpay-Serial expected on answers
  /// Currencies the channel settles in (CNY); anything else is refused up front.
  std::vector<std::string> currencies = {"CNY"};
  /// Seconds since the epoch (signing and the +-300 s window); the system
  /// clock when empty.
  std::function<int64_t()> now_s;
  /// A fresh request nonce (32 chars); random when empty.
  std::function<std::string()> nonce;
};

class wechat_protocol final : public channel_protocol {
public:
  explicit wechat_protocol(wechat_protocol_settings settings);

  prepared prepare(const open_trade& x) const override;
  prepared prepare(const query_trade& x) const override;
  prepared prepare(const close_trade& x) const override;
  prepared prepare(const refund_trade& x) const override;

  verdict judge(const call_facts& call, const exchange& answer) const override;

  std::string_view method_of(call_kind kind) const override;

private:
  wechat_protocol_settings settings_;
};

} // namespace payengine::channels
