#pragma once
// The order as every part of the engine sees it: statuses (with the numbers
// stored in PostgreSQL), the order record, its event rows.

#include "messages/type_ids.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace payengine {

/// Statuses of API.md. The numbers are stored: never renumber.
enum class order_status : uint8_t {
  created = 1,
  paying = 2,
  awaiting_payment = 3,
  paid = 4,
  failed = 5,
  cancelled = 6,
  expired = 7,
  refunded = 8,
  completed = 9,
};

constexpr order_status all_order_statuses[] = {
  order_status::created,   order_status::paying,  order_status::awaiting_payment,
  order_status::paid,      order_status::failed,  order_status::cancelled,
  order_status::expired,   order_status::refunded, order_status::completed,
};

std::string_view to_string(order_status x);
std::optional<order_status> order_status_from_string(std::string_view text);
std::optional<order_status> order_status_from_code(int code);

/// Statuses in which the expiry timer still applies (API.md transition table).
bool expirable(order_status x);

/// Fulfillment stages; stored, never renumber.
enum class fulfillment_stage : uint8_t { none = 0, produced = 1, shipped = 2, delivered = 3 };
std::string_view to_string(fulfillment_stage x);

/// Microseconds since the Unix epoch, UTC. 0 means "not set" (SQL NULL).
using timestamp_us = int64_t;

struct payment_info {
  int32_t attempt = 0;
  std::string channel_trade_no; // empty: none yet
  std::string qr_code;
  timestamp_us paid_at = 0;
  std::string failure_reason;
  /// How the current attempt pays (API.md v1.1): "" (no attempt yet, or an
  /// attempt from before v1.1: the channel), "channel" or "balance".
  std::string method;
  std::string wallet; // with "balance": the wallet it is paid from
  /// With "channel": the channel of the current attempt ("alipay",
  /// "wechat"); "" for attempts from before v1.1 (the order's channel).
  std::string channel;
  /// An `auto` order's channels tried before `channel` by the same payment
  /// (comma-separated, oldest first): routing never goes back to them.
  std::string tried;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_info& x) {
  return f(caf::meta::type_name("payment_info"), x.attempt, x.channel_trade_no,
           x.qr_code, x.paid_at, x.failure_reason, x.method, x.wallet, x.channel, x.tried);
}

/// One order, exactly as stored in the `orders` table.
struct order_record {
  std::string id;
  std::string merchant_id;
  std::string merchant_order_no;
  int64_t amount = 0; // minor units of `currency`
  std::string currency;
  std::string subject;
  std::string channel;
  order_status status = order_status::created;
  int64_t amount_refunded = 0;
  std::string notify_url;     // empty: the merchant's default
  std::string customer_phone; // empty: no SMS
  std::map<std::string, std::string> metadata;
  payment_info payment;
  fulfillment_stage fulfillment = fulfillment_stage::none;
  /// A top-up: once paid, this wallet is credited with the amount, once.
  std::string topup_wallet;
  timestamp_us created_at = 0;
  timestamp_us updated_at = 0;
  timestamp_us expires_at = 0;
  int64_t version = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_record& x) {
  return f(caf::meta::type_name("order_record"), x.id, x.merchant_id,
           x.merchant_order_no, x.amount, x.currency, x.subject, x.channel,
           x.status, x.amount_refunded, x.notify_url, x.customer_phone,
           x.metadata, x.payment, x.fulfillment, x.topup_wallet, x.created_at, x.updated_at,
           x.expires_at, x.version);
}

/// The record as compact bytes (CAF's binary format: about 200 bytes for
/// a new order), for an order actor that hibernates; and back. false: the
/// bytes are not a whole record (`out` is then unspecified).
std::vector<char> to_bytes(const order_record& x);
[[nodiscard]] bool from_bytes(const std::vector<char>& bytes, order_record& out);

/// The channel of the order's current attempt: `payment.channel`, or for an
/// attempt from before v1.1 the order's own channel; "balance" for a
/// balance payment; "" before the first attempt (or an `auto` order's
/// legacy attempt, which cannot exist).
std::string attempt_channel(const order_record& o);

/// Checks the invariants every stored order holds. A broken invariant is a
/// bug: callers crash the actor rather than carry on.
[[nodiscard]] bool order_invariants_hold(const order_record& x);

/// One row of the append-only `order_events` log. `seq` equals the order's
/// version after the event.
struct order_event_row {
  std::string order_id;
  int64_t seq = 0;
  std::string type; // "order.created", "order.cancelled", ...
  bool has_from = false; // false for the first event (the order's creation)
  order_status from = order_status::created;
  order_status to = order_status::created;
  timestamp_us at = 0;
  std::string detail_json = "{}";
  std::string request_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_event_row& x) {
  return f(caf::meta::type_name("order_event_row"), x.order_id, x.seq, x.type,
           x.has_from, x.from, x.to, x.at, x.detail_json, x.request_id);
}

struct merchant_record {
  std::string id;
  std::string name;
  std::string notify_url;
  std::string webhook_secret;
  timestamp_us created_at = 0;
  /// Requests a second (API.md v1.1 "Overload"); 0: unlimited.
  uint32_t rate_per_s = 0;
  /// Requests saved up beyond the rate; 0: one second's worth.
  uint32_t burst = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, merchant_record& x) {
  return f(caf::meta::type_name("merchant_record"), x.id, x.name, x.notify_url,
           x.webhook_secret, x.created_at, x.rate_per_s, x.burst);
}

/// PATCH /admin/merchants/{id}: the fields to change (has_*), the rest kept.
struct merchant_patch {
  std::string id;
  bool has_name = false;
  std::string name;
  bool has_notify_url = false;
  std::string notify_url;
  bool has_rate_per_s = false;
  uint32_t rate_per_s = 0;
  bool has_burst = false;
  uint32_t burst = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, merchant_patch& x) {
  return f(caf::meta::type_name("merchant_patch"), x.id, x.has_name, x.name, x.has_notify_url,
           x.notify_url, x.has_rate_per_s, x.rate_per_s, x.has_burst, x.burst);
}

} // namespace payengine
