#pragma once
// Requests to the storage writers. Each is answered only after the batch
// that holds it has committed (group commit).

#include "messages/order.hpp"

#include <caf/meta/type_name.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace payengine {

/// One channel trade attempt (table channel_trades). Stored states:
enum class stored_trade_state : uint8_t { opening = 0, waiting = 1, succeeded = 2, closed = 3, rejected = 4 };

struct trade_row {
  std::string out_trade_no;
  std::string order_id;
  int32_t attempt = 0;
  std::string channel;
  int64_t amount = 0;
  stored_trade_state state = stored_trade_state::opening;
  std::string qr_code;
  std::string channel_trade_no;
  int64_t paid_amount = 0;
  timestamp_us paid_at = 0;
  std::string detail;
  timestamp_us at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trade_row& x) {
  return f(caf::meta::type_name("trade_row"), x.out_trade_no, x.order_id,
           x.attempt, x.channel, x.amount, x.state, x.qr_code,
           x.channel_trade_no, x.paid_amount, x.paid_at, x.detail, x.at);
}

enum class refund_status : uint8_t { pending = 0, succeeded = 1, failed = 2 };

std::string_view to_string(refund_status x);

/// Where a refund comes from (API.md v1.1). Stored: never renumber. Only
/// `merchant` refunds count toward the order's amount_refunded and its cap;
/// the other two return money the order could not keep. A refund's
/// `reason` is the merchant's free text and never decides anything.
enum class refund_origin : uint8_t {
  merchant = 1,          // POST /v1/orders/{id}/refunds
  late_payment = 2,      // paid after the order was cancelled or expired
  duplicate_payment = 3, // a second successful trade for a paid order
};

std::string_view to_string(refund_origin x);
std::optional<refund_origin> refund_origin_from_code(int code);

/// One refund (table refunds); `id` is the channel's out_request_no.
struct refund_row {
  std::string id;
  std::string order_id;
  std::string out_trade_no;
  int64_t amount = 0;
  refund_origin origin = refund_origin::merchant;
  std::string reason; // free text, shown, never interpreted
  refund_status status = refund_status::pending;
  std::string failure_reason;
  timestamp_us created_at = 0;
  timestamp_us updated_at = 0;
  /// The channel of the trade it returns money from ("" on rows from
  /// before v1.1: the order's own channel).
  std::string channel;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_row& x) {
  return f(caf::meta::type_name("refund_row"), x.id, x.order_id, x.out_trade_no,
           x.amount, x.origin, x.reason, x.status, x.failure_reason, x.created_at,
           x.updated_at, x.channel);
}

/// One channel notification as received (table callbacks): the dedup key
/// is (channel, notify_id); a replay inserts nothing.
struct callback_row {
  std::string channel;
  std::string notify_id;
  std::string out_trade_no;
  std::string trade_status;
  int64_t amount = 0;
  std::string outcome;
  timestamp_us received_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, callback_row& x) {
  return f(caf::meta::type_name("callback_row"), x.channel, x.notify_id,
           x.out_trade_no, x.trade_status, x.amount, x.outcome, x.received_at);
}

/// An event for the merchant (table merchant_events) and its deliveries
/// (table outbox), written with the transition that causes them.
struct merchant_event_row {
  std::string id;
  std::string merchant_id;
  std::string order_id;
  std::string type;
  timestamp_us created_at = 0;
  std::string data_json; // the order object
  std::string notify_url; // '' = the merchant's default
  std::string sms_to;     // '' = no SMS
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, merchant_event_row& x) {
  return f(caf::meta::type_name("merchant_event_row"), x.id, x.merchant_id, x.order_id,
           x.type, x.created_at, x.data_json, x.notify_url, x.sms_to);
}

/// Persist one transition of one order: the new row (optimistic version
/// check against expected_version; 0 means "insert a new order") plus its
/// event rows and the trade, refund and callback rows it causes, in one
/// transaction. With `record_only` the order row is not touched (no
/// version change, no events): only the side rows are written.
struct transition_write {
  order_record next;
  int64_t expected_version = 0;
  std::vector<order_event_row> events;
  std::vector<trade_row> trades;       // upserted by out_trade_no
  std::vector<refund_row> refunds;     // upserted by id
  std::vector<callback_row> callbacks; // inserted unless already there
  std::vector<merchant_event_row> merchant_events; // each with its outbox rows
  bool record_only = false;
  /// The shard's lease epoch it is written under (set by the storage
  /// writer, checked in the same transaction; stored on each event row).
  uint64_t epoch = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transition_write& x) {
  return f(caf::meta::type_name("transition_write"), x.next,
           x.expected_version, x.events, x.trades, x.refunds, x.callbacks,
           x.merchant_events, x.record_only, x.epoch);
}

struct write_result {
  bool applied = false;          // the row is committed
  bool duplicate = false;        // insert only: merchant_order_no taken
  std::string existing_order_id; // with duplicate
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_result& x) {
  return f(caf::meta::type_name("write_result"), x.applied, x.duplicate,
           x.existing_order_id);
}

/// `GET /v1/orders`: newest first, after the cursor.
struct order_page_query {
  std::string merchant_id;
  std::string status; // empty: any
  std::string starting_after;
  uint32_t limit = 10;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_page_query& x) {
  return f(caf::meta::type_name("order_page_query"), x.merchant_id, x.status,
           x.starting_after, x.limit);
}

struct order_page {
  std::vector<order_record> data;
  bool has_more = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_page& x) {
  return f(caf::meta::type_name("order_page"), x.data, x.has_more);
}

/// Claim an Idempotency-Key before doing the work.
struct idempotency_claim {
  std::string merchant_id;
  std::string key;
  std::string fingerprint; // sha256 of method, path and body
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, idempotency_claim& x) {
  return f(caf::meta::type_name("idempotency_claim"), x.merchant_id, x.key,
           x.fingerprint);
}

enum class idempotency_state : uint8_t {
  claimed = 0,   // ours: do the work, then complete it
  in_flight = 1, // another request holds it: 409
  mismatch = 2,  // same key, other body: 422
  replay = 3,    // finished before: answer status and body again
};

struct idempotency_result {
  idempotency_state state = idempotency_state::claimed;
  int status = 0;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, idempotency_result& x) {
  return f(caf::meta::type_name("idempotency_result"), x.state, x.status,
           x.body);
}

/// Record the response of a claimed key.
struct idempotency_entry {
  std::string merchant_id;
  std::string key;
  int status = 0;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, idempotency_entry& x) {
  return f(caf::meta::type_name("idempotency_entry"), x.merchant_id, x.key,
           x.status, x.body);
}

/// One storage writer, for the operator and /metrics.
struct writer_info {
  uint32_t index = 0;
  uint64_t batches = 0;
  uint64_t jobs = 0;
  uint64_t failed_batches = 0;
  uint64_t single_statement_batches = 0; // new orders only: BEGIN and the insert in one round trip
  uint64_t broken_invariants = 0; // requests refused as impossible (constraint, check)
  uint64_t last_batch_size = 0;
  uint64_t max_batch_size = 0;
  int64_t last_commit_us = 0;
  int64_t total_commit_us = 0;
  uint64_t mailbox_depth = 0;
  bool connected = false;
  /// Committed transitions by the status they moved into (index = stored code).
  std::vector<uint64_t> transitions_by_status = std::vector<uint64_t>(10, 0);
  /// Histograms (cumulative counts per upper bound, as Prometheus wants).
  static constexpr std::array<uint64_t, 10> batch_size_bounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 1024};
  static constexpr std::array<int64_t, 11> commit_us_bounds = {500,    1'000,   2'500,   5'000,
                                                               10'000, 25'000,  50'000,  100'000,
                                                               250'000, 500'000, 1'000'000};
  std::vector<uint64_t> batch_size_le = std::vector<uint64_t>(batch_size_bounds.size(), 0);
  std::vector<uint64_t> commit_us_le = std::vector<uint64_t>(commit_us_bounds.size(), 0);
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, writer_info& x) {
  return f(caf::meta::type_name("writer_info"), x.index, x.batches, x.jobs,
           x.failed_batches, x.single_statement_batches, x.broken_invariants, x.last_batch_size, x.max_batch_size,
           x.last_commit_us, x.total_commit_us, x.mailbox_depth, x.connected,
           x.transitions_by_status, x.batch_size_le, x.commit_us_le);
}

} // namespace payengine

namespace payengine {

/// A delivery taken from the outbox, with everything needed to send it.
struct delivery {
  std::string id;          // ntf_...
  std::string event_id;    // evt_...: the webhook-id
  std::string merchant_id;
  uint8_t kind = 1;        // 1 webhook, 2 sms
  std::string target;      // URL or phone, resolved
  std::string secret;      // the merchant's whsec_...
  std::string payload;     // the event object (JSON text)
  std::string event_type;
  int32_t attempts = 0;    // made before this one
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery& x) {
  return f(caf::meta::type_name("delivery"), x.id, x.event_id, x.merchant_id, x.kind,
           x.target, x.secret, x.payload, x.event_type, x.attempts);
}

/// The outcome of one attempt, and what comes next.
struct delivery_outcome {
  std::string id;
  int32_t attempt = 0;     // 1-based
  int32_t status_code = 0; // 0: no answer
  int32_t latency_ms = 0;
  std::string error;
  bool delivered = false;
  bool dead = false;
  timestamp_us next_attempt_at = 0;
  timestamp_us at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_outcome& x) {
  return f(caf::meta::type_name("delivery_outcome"), x.id, x.attempt, x.status_code,
           x.latency_ms, x.error, x.delivered, x.dead, x.next_attempt_at, x.at);
}

} // namespace payengine
