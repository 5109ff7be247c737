#pragma once
// Commands to an order actor (imperative) and its one reply type. Every
// command gets an order_reply; a refusal is an outcome, not silence.

#include "messages/order.hpp"

#include <caf/meta/type_name.hpp>

#include <string>

namespace payengine {

/// Stored? No: the outcome of one command. Numbers are part of the protocol.
enum class order_outcome : uint8_t {
  ok = 0,            // `order` is the current state (after the command)
  created = 1,       // a new order was stored
  not_found = 2,     // no such order for this merchant
  invalid_state = 3, // the transition table refuses; `order` is unchanged
  duplicate = 4,     // merchant_order_no taken; `order.id` is the existing one
};

std::string_view to_string(order_outcome x);

/// Why a command was refused, as data: HTTP builds its answer from these
/// fields and never parses text. Numbers are part of the protocol.
enum class refusal_code : uint8_t {
  none = 0,
  invalid_state = 1,           // the transition table refuses it in `order.status`
  refund_exceeds_amount = 2,   // `refundable` is what may still be refunded
  fulfillment_not_forward = 3, // stages only move forward (`order.fulfillment`)
  insufficient_funds = 4,      // a balance payment: the wallet does not hold the amount (402)
  reversal_insufficient = 5,   // a top-up refund: the wallet no longer holds it (409)
  wallet_missing = 6,          // no such wallet for this merchant (404)
  currency_mismatch = 7,       // the wallet holds another currency (400)
  topup_by_balance = 8,        // a top-up is paid through a channel, not a balance (400)
  no_channel = 9,              // an `auto` payment finds no channel taking payments (503)
  past_expiry = 10,            // a payment after `expires_at`, before the expiry is recorded (409)
};

std::string_view to_string(refusal_code x);

struct order_reply {
  order_reply() = default;
  order_reply(order_outcome o, order_record r, std::string d = {})
    : outcome(o), order(std::move(r)), created_id(std::move(d)) {
    // nop
  }

  order_outcome outcome = order_outcome::ok;
  order_record order;
  std::string created_id; // the id a command created (rfd_...)
  refusal_code refusal = refusal_code::none; // with invalid_state
  int64_t refundable = 0;                    // with refund_exceeds_amount
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_reply& x) {
  return f(caf::meta::type_name("order_reply"), x.outcome, x.order, x.created_id,
           x.refusal, x.refundable);
}

/// Store a new order. `draft` has status created, version 1 and every field set.
struct create_order {
  order_record draft;
  std::string request_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_order& x) {
  return f(caf::meta::type_name("create_order"), x.draft, x.request_id);
}

/// Read an order. An empty merchant_id reads as the operator (admin).
struct get_order {
  std::string order_id;
  std::string merchant_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_order& x) {
  return f(caf::meta::type_name("get_order"), x.order_id, x.merchant_id);
}

/// Answer once the order's version exceeds `after_version`, or after
/// `timeout_ms` with the current state (long poll).
struct watch_order {
  std::string order_id;
  std::string merchant_id;
  int64_t after_version = 0;
  uint32_t timeout_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_order& x) {
  return f(caf::meta::type_name("watch_order"), x.order_id, x.merchant_id,
           x.after_version, x.timeout_ms);
}

struct cancel_order {
  std::string order_id;
  std::string merchant_id;
  std::string request_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cancel_order& x) {
  return f(caf::meta::type_name("cancel_order"), x.order_id, x.merchant_id,
           x.request_id);
}

/// Sent by the expiry sweeper; the order expires if its time has come.
struct expire_order {
  std::string order_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expire_order& x) {
  return f(caf::meta::type_name("expire_order"), x.order_id);
}

/// Pay (API): open a channel trade (a new attempt unless the current one
/// is still open and valid). Answered once `paying` is committed.
struct pay_order {
  std::string order_id;
  std::string merchant_id;
  std::string request_id;
  std::string method; // "channel" (or empty) | "balance"
  std::string wallet; // with "balance"
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pay_order& x) {
  return f(caf::meta::type_name("pay_order"), x.order_id, x.merchant_id, x.request_id,
           x.method, x.wallet);
}

/// What a channel says about one of the order's trades: a verified
/// notification (notify_id set) or a query result. Answered after what it
/// causes is committed, so that the channel hears `success` only then.
struct channel_event {
  std::string order_id;
  std::string channel;
  std::string out_trade_no;
  uint8_t state = 0;         // a trade_state (gateway_messages.hpp)
  int64_t amount = 0;        // minor units, as the channel reported
  std::string currency;      // empty: the order's
  std::string channel_trade_no;
  timestamp_us paid_at = 0;
  std::string notify_id;     // empty for query results
  std::string trade_status;  // the channel's own word, for the record
  bool refund_notice = false;// a notification about a refund, not a payment
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_event& x) {
  return f(caf::meta::type_name("channel_event"), x.order_id, x.channel,
           x.out_trade_no, x.state, x.amount, x.currency, x.channel_trade_no,
           x.paid_at, x.notify_id, x.trade_status, x.refund_notice);
}

/// From the reconciler: drive an order waiting on a channel to its true state.
struct reconcile_order {
  std::string order_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reconcile_order& x) {
  return f(caf::meta::type_name("reconcile_order"), x.order_id);
}

/// Refund part or all of a paid order (API). Answered once the pending
/// refund is committed; the channel is asked after that.
struct refund_order {
  std::string order_id;
  std::string merchant_id;
  std::string request_id;
  int64_t amount = 0;
  std::string reason;
  /// Derived from the request's Idempotency-Key, else empty (the engine
  /// picks one): a request run again after its key's record was lost finds
  /// its refund instead of making a second one.
  std::string refund_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_order& x) {
  return f(caf::meta::type_name("refund_order"), x.order_id, x.merchant_id, x.request_id,
           x.amount, x.reason, x.refund_id);
}

/// Move fulfillment forward (API): produced -> shipped -> delivered.
struct fulfill_order {
  std::string order_id;
  std::string merchant_id;
  std::string request_id;
  uint8_t stage = 0; // a fulfillment_stage
  std::string detail;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fulfill_order& x) {
  return f(caf::meta::type_name("fulfill_order"), x.order_id, x.merchant_id, x.request_id,
           x.stage, x.detail);
}

/// For the operator: live state of one order actor.
struct inspect_order {
  std::string order_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inspect_order& x) {
  return f(caf::meta::type_name("inspect_order"), x.order_id);
}

struct order_actor_info {
  std::string order_id;
  bool live = false;
  bool loaded = false;
  std::string status;
  int64_t version = 0;
  uint64_t mailbox_depth = 0;
  uint32_t restarts = 0;
  std::string last_restart_reason;
  int64_t idle_ms = 0;
  uint32_t watchers = 0;
  std::string actor_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_actor_info& x) {
  return f(caf::meta::type_name("order_actor_info"), x.order_id, x.live,
           x.loaded, x.status, x.version, x.mailbox_depth, x.restarts,
           x.last_restart_reason, x.idle_ms, x.watchers, x.actor_id);
}

/// One registry shard, for the operator.
struct shard_info {
  uint32_t index = 0;
  uint64_t live = 0;
  uint64_t live_max = 0;
  uint64_t activations = 0;
  uint64_t passivations = 0;
  uint64_t restarts = 0;
  uint64_t evictions = 0;
  uint64_t mailbox_depth = 0;
  uint64_t invariant_stops = 0; // order actors stopped on a broken invariant
  uint64_t idle_asks = 0;       // order actors asked by the idle sweep whether they may passivate
  uint32_t idle_sweep_batch = 0; // at most this many asked per tick
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shard_info& x) {
  return f(caf::meta::type_name("shard_info"), x.index, x.live, x.live_max,
           x.activations, x.passivations, x.restarts, x.evictions,
           x.mailbox_depth, x.invariant_stops, x.idle_asks, x.idle_sweep_batch);
}

} // namespace payengine
