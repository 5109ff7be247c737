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

// The simulator's trades: Alipay's rules for precreate, query, close,
// refund and the buyer's scan, behind one mutex. Every state change yields
// the notification Alipay would send; the caller hands it to the notifier.
namespace payengine::sim {

namespace alipay = channels::alipay;

// The one simulated buyer who scans every QR code.
inline constexpr std::string_view sim_buyer_id = "2088102000000001";
inline constexpr std::string_view sim_buyer_logon_id = "buy***@example.com";

struct refund_record {
  std::string out_request_no;
  std::int64_t amount = 0;
  std::string gmt_refund;
};

struct delivery_record {
  std::string notify_id;
  alipay::trade_status status = alipay::trade_status::wait_buyer_pay;
  int attempts = 0;
  std::string last_status;  // "success", "http 500", "dropped", ...
  bool delivered = false;
  bool given_up = false;
};

struct trade {
  std::uint64_t seq = 0;  // creation order
  std::string app_id;
  std::string out_trade_no;
  std::string trade_no;
  std::string subject;
  std::string notify_url;  // empty: no notifications
  std::string qr_code;
  std::int64_t total_amount = 0;     // minor units, as requested
  std::int64_t paid_amount = 0;      // what the buyer paid; may differ (tampering tests)
  std::int64_t refunded_amount = 0;  // sum of refunds
  alipay::trade_status status = alipay::trade_status::wait_buyer_pay;
  std::string gmt_create;
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

// A state change: the trade after it, and the notification to send (none
// when the trade has no notify_url).
struct change {
  trade after;
  std::optional<alipay::notification> notice;
};

struct refund_outcome {
  trade after;
  refund_record refund;      // this request's refund (the earlier one on a replay)
  bool fund_change = false;  // false: a replay of an earlier out_request_no
  std::optional<alipay::notification> notice;
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
  // The buyer's scan: pay (`amount` overrides the trade amount) or give up.
  [[nodiscard]] outcome<change> pay(const std::string& trade_no, std::optional<std::int64_t> amount);
  [[nodiscard]] outcome<change> fail(const std::string& trade_no);

  // Bookkeeping reported by the notifier.
  void record_attempt(const std::string& out_trade_no, const std::string& notify_id, const std::string& status,
                      bool delivered, bool given_up);

  [[nodiscard]] std::vector<trade> list() const;  // in creation order
  [[nodiscard]] std::optional<trade> find(const std::string& out_trade_no) const;

 private:
  [[nodiscard]] const trade* locate(const std::string& out_trade_no, const std::string& trade_no) const;
  [[nodiscard]] trade* locate(const std::string& out_trade_no, const std::string& trade_no);
  [[nodiscard]] std::string next_trade_no();
  [[nodiscard]] std::optional<alipay::notification> notice_for(trade& t);
  [[nodiscard]] outcome<trade> replay_precreate(const trade& existing, const alipay::precreate_request& request) const;

  mutable std::mutex mutex_;
  std::string qr_base_url_;
  std::unordered_map<std::string, trade> trades_;                 // by out_trade_no
  std::unordered_map<std::string, std::string> out_trade_nos_;  // trade_no -> out_trade_no
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_notify_ = 1;
};

[[nodiscard]] nlohmann::json to_json(const trade& t);

}  // namespace payengine::sim
