#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "channels/alipay.hpp"
#include "channels/wechat.hpp"
#include "sim/channel.hpp"
#include "sim/wechat_requests.hpp"

// The simulator's trades, of both channels, behind one mutex: Alipay's
// rules for precreate, query, close and refund (here), WeChat Pay's for
// native prepay, query, close and refund (trade_book_wechat.cpp), and the
// buyer's scan of either's QR code. Every state change yields the
// notification its channel would send; the caller hands it to the notifier.
namespace payengine::sim {

namespace alipay = channels::alipay;
namespace wechat = channels::wechat;

// The one simulated buyer who scans every QR code.
inline constexpr std::string_view sim_buyer_id = "2088102000000001";
inline constexpr std::string_view sim_buyer_logon_id = "buy***@example.com";

struct refund_record {
  std::string out_request_no;  // WeChat: out_refund_no
  std::int64_t amount = 0;
  std::string gmt_refund;      // WeChat: success_time
  std::string refund_id;       // WeChat's refund number; empty for Alipay
};

struct delivery_record {
  std::string notify_id;
  std::string event;  // Alipay: the trade status notified; WeChat: the event_type
  int attempts = 0;
  std::string last_status;  // "success", "http 500", "dropped", ...
  bool delivered = false;
  bool given_up = false;
};

struct trade {
  std::uint64_t seq = 0;  // creation order
  channel via = channel::alipay;
  std::string app_id;
  std::string mch_id;  // WeChat's mchid; empty for Alipay
  std::string out_trade_no;
  std::string trade_no;  // WeChat: the transaction_id (shown once paid)
  std::string subject;
  std::string notify_url;  // empty: no notifications
  std::string qr_code;
  std::int64_t total_amount = 0;     // minor units, as requested
  std::int64_t paid_amount = 0;      // what the buyer paid; may differ (tampering tests)
  std::int64_t refunded_amount = 0;  // sum of refunds
  // The life of either channel's trade, in Alipay's words; WeChat's
  // trade_state is derived from it (wechat_state).
  alipay::trade_status status = alipay::trade_status::wait_buyer_pay;
  bool pay_failed = false;  // WeChat: the buyer's payment failed (PAYERROR)
  std::string gmt_create;  // Alipay's "yyyy-MM-dd HH:mm:ss", WeChat's RFC 3339
  std::string gmt_payment;
  std::string gmt_close;
  std::vector<refund_record> refunds;
  std::vector<delivery_record> deliveries;

  // What Alipay reports as total_amount: the amount paid once paid.
  [[nodiscard]] std::int64_t reported_amount() const;
};

// A 40004-style (or other) refusal, in Alipay's words.
struct refusal {
  std::string_view code;
  std::string_view sub_code;
  std::string sub_msg;
};

// A WeChat notification and where it goes (a refund's goes to the
// refund request's notify_url, not the trade's).
struct wechat_notice {
  wechat::notification event;
  std::string notify_url;
};

// A state change: the trade after it, and the notification to send (none
// when the trade has no notify_url, or its channel sends none for it).
struct change {
  trade after;
  std::optional<alipay::notification> notice;
  std::optional<wechat_notice> wechat_event;
};

struct refund_outcome {
  trade after;
  refund_record refund;      // this request's refund (the earlier one on a replay)
  bool fund_change = false;  // false: a replay of an earlier out_request_no
  std::optional<alipay::notification> notice;
  std::optional<wechat_notice> wechat_event;
};

template <class T>
using outcome = std::variant<T, refusal>;

class trade_book {
 public:
  explicit trade_book(std::string qr_base_url) : qr_base_url_(std::move(qr_base_url)) {}

  [[nodiscard]] outcome<trade> precreate(const alipay::precreate_request& request, const std::string& app_id,
                                         const std::string& notify_url);
  [[nodiscard]] outcome<trade> query(const std::string& out_trade_no, const std::string& trade_no) const;
  [[nodiscard]] outcome<change> close(const std::string& out_trade_no, const std::string& trade_no);
  [[nodiscard]] outcome<refund_outcome> refund(const alipay::refund_request& request);

  // WeChat Pay v3 (trade_book_wechat.cpp), for the one merchant the
  // simulator serves: the caller has checked appid and mchid.
  [[nodiscard]] wechat_outcome<trade> open_wechat(const native_order& order);
  [[nodiscard]] wechat_outcome<trade> query_wechat(const std::string& out_trade_no) const;
  [[nodiscard]] wechat_outcome<trade> close_wechat(const std::string& out_trade_no);
  [[nodiscard]] wechat_outcome<refund_outcome> refund_wechat(const refund_order& order);

  // The buyer's scan, of either channel's QR code: pay (`amount` overrides
  // the trade amount) or give up.
  [[nodiscard]] outcome<change> pay(const std::string& trade_no, std::optional<std::int64_t> amount);
  [[nodiscard]] outcome<change> fail(const std::string& trade_no);
  [[nodiscard]] outcome<trade> scanned(const std::string& trade_no) const;

  // Bookkeeping reported by the notifier.
  void record_attempt(channel via, const std::string& out_trade_no, const std::string& notify_id,
                      const std::string& status, bool delivered, bool given_up);

  [[nodiscard]] std::vector<trade> list() const;  // in creation order
  // Alipay's trade first when both channels have the number, unless `only`.
  [[nodiscard]] std::optional<trade> find(const std::string& out_trade_no, std::optional<channel> only) const;

 private:
  [[nodiscard]] const trade* locate(channel via, const std::string& out_trade_no, const std::string& trade_no) const;
  [[nodiscard]] trade* locate(channel via, const std::string& out_trade_no, const std::string& trade_no);
  [[nodiscard]] trade* by_trade_no(const std::string& trade_no);
  [[nodiscard]] trade& add(trade t);
  [[nodiscard]] std::string next_trade_no(channel via);
  [[nodiscard]] std::optional<alipay::notification> notice_for(trade& t);
  [[nodiscard]] std::optional<wechat_notice> wechat_paid_notice(trade& t);
  [[nodiscard]] std::optional<wechat_notice> wechat_refund_notice(trade& t, const refund_record& r,
                                                                  const std::string& notify_url);
  [[nodiscard]] outcome<trade> replay_precreate(const trade& existing, const alipay::precreate_request& request) const;
  [[nodiscard]] wechat_outcome<trade> replay_open_wechat(const trade& existing, const native_order& order) const;
  [[nodiscard]] wechat_outcome<refund_outcome> replay_refund_wechat(const std::string& trade_key,
                                                                   const refund_order& order) const;
  [[nodiscard]] wechat_outcome<trade*> refundable_wechat(const refund_order& order);

  mutable std::mutex mutex_;
  std::string qr_base_url_;
  std::unordered_map<std::string, trade> trades_;                 // by key_of(channel, out_trade_no)
  std::unordered_map<std::string, std::string> out_trade_nos_;  // trade_no -> key
  std::unordered_map<std::string, std::string> out_refund_nos_;  // WeChat out_refund_no -> key
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_notify_ = 1;
  std::uint64_t next_refund_ = 1;
};

// WeChat's trade_state of a WeChat trade: NOTPAY, SUCCESS, REFUND (paid,
// some refunded), CLOSED, PAYERROR.
[[nodiscard]] wechat::trade_state wechat_state(const trade& t);
// The trade as WeChat's query answers it and TRANSACTION.* notifies it.
[[nodiscard]] wechat::transaction to_transaction(const trade& t);

// The trade's state in its channel's words: Alipay's trade_status, WeChat's trade_state.
[[nodiscard]] std::string status_text(const trade& t);
[[nodiscard]] nlohmann::json to_json(const trade& t);

}  // namespace payengine::sim
