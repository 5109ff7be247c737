#pragma once
// Requests to a channel gateway (actors/gateway.cpp) and their replies.
// Channel-neutral: the gateway translates them to the channel's protocol
// (channels/alipay*.hpp). Amounts are minor units of `currency`.

#include "messages/order.hpp"

#include <caf/meta/type_name.hpp>

#include <string>

namespace payengine {

/// How a gateway call ended. Numbers are stable (logs, metrics).
enum class channel_outcome : uint8_t {
  ok = 0,          // the channel answered and accepted
  rejected = 1,    // the channel answered and refused for good (see reason)
  unavailable = 2, // no usable answer after the retries; nothing is known
  circuit_open = 3,// not tried: the breaker is open (fail fast)
  rate_limited = 4,// not tried: the token bucket is empty (retry_after_ms)
};

std::string_view to_string(channel_outcome x);

/// Open a trade: alipay.trade.precreate. `out_trade_no` is the idempotency
/// key at the channel; the same one returns the same open trade.
struct open_trade {
  std::string order_id;
  std::string out_trade_no;
  int64_t amount = 0;
  std::string currency;
  std::string subject;
  timestamp_us expires_at = 0;
  std::string notify_url; // where the channel posts its notifications
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, open_trade& x) {
  return f(caf::meta::type_name("open_trade"), x.order_id, x.out_trade_no,
           x.amount, x.currency, x.subject, x.expires_at, x.notify_url);
}

/// Query, or close, a trade: alipay.trade.query / alipay.trade.close.
struct query_trade {
  std::string out_trade_no;
  std::string currency; // to read the channel's amount into minor units
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, query_trade& x) {
  return f(caf::meta::type_name("query_trade"), x.out_trade_no, x.currency);
}

struct close_trade {
  std::string out_trade_no;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, close_trade& x) {
  return f(caf::meta::type_name("close_trade"), x.out_trade_no);
}

/// Refund part of a paid trade: alipay.trade.refund. `refund_id` (rfd_...)
/// is the channel's out_request_no, so a retried refund is not paid twice.
struct refund_trade {
  std::string out_trade_no;
  std::string refund_id;
  int64_t amount = 0;
  std::string currency;
  std::string reason;
  int64_t trade_amount = 0; // the trade's whole amount (WeChat's amount.total)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_trade& x) {
  return f(caf::meta::type_name("refund_trade"), x.out_trade_no, x.refund_id,
           x.amount, x.currency, x.reason, x.trade_amount);
}

/// The channel's view of a trade.
enum class trade_state : uint8_t {
  unknown = 0,     // no such trade at the channel (never opened, or not yet scanned)
  waiting = 1,     // WAIT_BUYER_PAY
  succeeded = 2,   // TRADE_SUCCESS / TRADE_FINISHED
  closed = 3,      // TRADE_CLOSED (unpaid and closed, or fully refunded)
};

std::string_view to_string(trade_state x);

/// The one reply type of a gateway.
struct channel_reply {
  channel_outcome outcome = channel_outcome::unavailable;
  std::string reason;            // sub_code / message when not ok
  trade_state state = trade_state::unknown; // query (and close) results
  std::string qr_code;           // open_trade
  std::string channel_trade_no;  // the channel's own id, when known
  int64_t amount = 0;            // query: total paid; refund: total refunded so far
  timestamp_us paid_at = 0;      // query: when it was paid
  uint32_t retry_after_ms = 0;   // rate_limited / circuit_open
  uint32_t attempts = 0;         // HTTP attempts made (retries included)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_reply& x) {
  return f(caf::meta::type_name("channel_reply"), x.outcome, x.reason, x.state,
           x.qr_code, x.channel_trade_no, x.amount, x.paid_at,
           x.retry_after_ms, x.attempts);
}

/// A gateway's live state for the operator and /metrics.
struct gateway_info {
  std::string channel;
  std::string circuit; // "closed", "open", "half_open"
  uint32_t consecutive_failures = 0;
  double tokens = 0;
  uint32_t in_flight = 0;
  uint64_t calls = 0;
  uint64_t failures = 0;
  uint64_t rejected_fast = 0; // circuit open or rate limited
  uint32_t last_latency_ms = 0;
  uint32_t p50_latency_ms = 0;
  uint32_t p99_latency_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gateway_info& x) {
  return f(caf::meta::type_name("gateway_info"), x.channel, x.circuit,
           x.consecutive_failures, x.tokens, x.in_flight, x.calls, x.failures,
           x.rejected_fast, x.last_latency_ms, x.p50_latency_ms, x.p99_latency_ms);
}

} // namespace payengine
