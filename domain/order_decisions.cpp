#include "domain/order_decisions.hpp"

#include "domain/routing.hpp"
#include "messages/ids.hpp"
#include "messages/order_json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace payengine::domain {

namespace {

using json = nlohmann::json;
using s = order_status;

decision refuse(refusal_code code) {
  decision d;
  d.refused = code;
  return d;
}

decision nothing() {
  return {};
}

decision with_effect(effect e) {
  decision d;
  d.effects.push_back(std::move(e));
  return d;
}

effect trade_effect(effect_kind kind, std::string otn, std::string channel = {},
                    bool before_switch = false) {
  return effect{kind, std::move(otn), {}, {}, std::move(channel), before_switch};
}

effect refund_effect(effect_kind kind, refund_row r) {
  return effect{kind, {}, std::move(r), {}, {}, false};
}

bool routed(const order_record& o) {
  return o.channel == "auto";
}

bool one_of(order_status x, std::initializer_list<order_status> xs) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

bool by_balance(const order_record& o) {
  return o.payment.method == "balance";
}

bool trade_may_be_open(const order_record& o) {
  return o.payment.attempt > 0 && !by_balance(o) && one_of(o.status, {s::paying, s::awaiting_payment});
}

bool topup_paid(const order_record& o) {
  return topup_credit_owed(o);
}

bool known_refund(const order_book& b, const std::string& id) {
  return b.settled.count(id) > 0
         || std::any_of(b.owed.begin(), b.owed.end(), [&](const auto& r) { return r.id == id; });
}

const refund_row* owed_refund(const order_book& b, const std::string& id) {
  auto i = std::find_if(b.owed.begin(), b.owed.end(), [&](const auto& r) { return r.id == id; });
  return i == b.owed.end() ? nullptr : &*i;
}

/// The merchant's money still promised: refunds of theirs owed, not settled.
int64_t owed_to_merchant_refunds(const order_book& b) {
  int64_t sum = 0;
  for (const auto& r : b.owed)
    if (r.origin == refund_origin::merchant)
      sum += r.amount;
  return sum;
}

trade_row trade_of(const order_record& o, const std::string& otn, stored_trade_state state,
                   timestamp_us now) {
  trade_row t;
  t.out_trade_no = otn;
  t.order_id = o.id;
  t.attempt = attempt_of(otn, o.id).value_or(o.payment.attempt);
  t.channel = attempt_channel(o);
  t.amount = o.amount;
  t.state = state;
  t.qr_code = o.payment.qr_code;
  t.channel_trade_no = o.payment.channel_trade_no;
  t.at = now;
  return t;
}

callback_row callback_of(const channel_event& ev, const std::string& outcome, timestamp_us now) {
  return {ev.channel, ev.notify_id, ev.out_trade_no, ev.trade_status, ev.amount, outcome, now};
}

refund_row automatic_refund(const order_record& o, const channel_event& ev,
                            refund_origin origin, timestamp_us now) {
  const auto& otn = ev.out_trade_no;
  const auto amount = ev.amount;
  refund_row r;
  r.channel = ev.channel; // the trade the money was paid into
  r.id = automatic_refund_id(otn);
  r.order_id = o.id;
  r.out_trade_no = otn;
  r.amount = amount;
  r.origin = origin;
  r.reason = std::string{to_string(origin)}; // the engine's own words, for people
  r.status = refund_status::pending;
  r.created_at = r.updated_at = now;
  return r;
}

/// A write that touches no order row: only side rows (a callback, a trade).
decision record_only(const order_record& o) {
  decision d;
  d.write.emplace();
  d.write->next = o;
  d.write->record_only = true;
  return d;
}

/// A notification is recorded (deduplicated by the channel's notify id);
/// a query result that changes nothing leaves nothing to record.
decision record(const order_record& o, const channel_event& ev, const std::string& outcome,
                timestamp_us now) {
  if (ev.notify_id.empty())
    return nothing();
  auto d = record_only(o);
  d.write->callbacks.push_back(callback_of(ev, outcome, now));
  return d;
}

decision transition_to(const order_record& o, order_input input, const std::string& request_id,
                       const std::string& detail, timestamp_us now) {
  auto t = next_status(o.status, input);
  if (!t)
    return refuse(refusal_code::invalid_state);
  decision d;
  d.write = make_write(o, t->to, fact_for_status(t->to), request_id, detail, now);
  return d;
}

// --- pay ------------------------------------------------------------------------

decision on_pay(const order_book& b, const pay_requested& in, timestamp_us now) {
  const auto& o = b.order;
  // Expired in truth, though the expiry (a timer, or the sweeper behind a
  // burst) is not recorded yet: no new payment, by balance or channel.
  if (expirable(o.status) && now >= o.expires_at)
    return refuse(refusal_code::past_expiry);
  bool balance = in.method == "balance";
  if (balance && !o.topup_wallet.empty())
    return refuse(refusal_code::topup_by_balance);
  if (balance && (in.wallet.empty() || in.reservation.empty()))
    return refuse(refusal_code::wallet_missing);
  if (!balance && o.status == s::awaiting_payment && !o.payment.qr_code.empty()
      && now < o.expires_at)
    return nothing(); // the same open trade while it is valid
  auto previous = o.status == s::awaiting_payment && !by_balance(o) ? out_trade_no_of(o)
                                                                    : std::string{};
  // The channel of the new attempt. An `auto` order takes the best channel
  // taking payments, except while a trade the customer may have seen could
  // still be open: then it stays on that trade's channel (which closes it).
  std::string channel;
  if (!balance) {
    if (!routed(o))
      channel = o.channel;
    else if (!previous.empty())
      channel = attempt_channel(o);
    else if (!b.routes.empty())
      channel = b.routes.front();
    else
      return refuse(refusal_code::no_channel);
  }
  auto d = transition_to(o, order_input::pay, in.request_id, "{}", now);
  if (d.is_refusal())
    return d;
  auto& w = *d.write;
  auto& p = w.next.payment;
  p.attempt = o.payment.attempt + 1;
  p.qr_code.clear();
  p.channel_trade_no.clear();
  p.failure_reason.clear();
  p.method = balance ? "balance" : "channel";
  p.wallet = balance ? in.wallet : std::string{};
  p.channel = channel;
  p.tried.clear();
  auto otn = out_trade_no_of(w.next);
  if (balance) {
    // The wallet holds the money reserved already; posting it is the effect.
    p.channel_trade_no = in.reservation;
    w.events.front().detail_json = json{{"attempt", p.attempt}, {"method", "balance"},
                                        {"wallet", in.wallet},
                                        {"reservation", in.reservation}}.dump();
    d.effects.push_back(trade_effect(effect_kind::post_reservation, otn));
  } else {
    w.events.front().detail_json = json{{"attempt", p.attempt}, {"out_trade_no", otn},
                                        {"channel", channel}}.dump();
    w.trades.push_back(trade_of(w.next, otn, stored_trade_state::opening, now));
    d.effects.push_back(trade_effect(effect_kind::open_trade, otn, channel));
  }
  if (!previous.empty())
    d.effects.push_back(trade_effect(effect_kind::close_trade, previous, attempt_channel(o)));
  return d;
}

/// The balance payment's post, as if the channel reported a success: the
/// same rules then apply (paid; or a late payment refunded to the wallet).
decision on_balance_settled(const order_book& b, const balance_settled& in, timestamp_us now);

decision on_balance_refused(const order_book& b, const balance_refused& in, timestamp_us now) {
  const auto& o = b.order;
  if (o.status != s::paying || !by_balance(o) || o.payment.attempt != in.attempt)
    return nothing();
  auto d = transition_to(o, order_input::channel_rejected, {},
                         json{{"attempt", in.attempt}, {"reason", in.reason}}.dump(), now);
  if (!d.is_refusal())
    d.write->next.payment.failure_reason = in.reason;
  return d;
}

/// An `auto` payment moves its attempt to channel `next`: nothing is open
/// at the current channel (it refused, was not asked, or the trade is
/// closed), so the customer can only ever pay the new trade. Still
/// `paying`; the old trade is stored as `old_state`.
decision switch_channel(const order_record& o, const std::string& otn,
                        stored_trade_state old_state, const std::string& reason,
                        const std::string& next, timestamp_us now) {
  const auto from = attempt_channel(o);
  decision d;
  d.write = make_write(o, o.status, order_fact::payment_rerouted, {}, "{}", now);
  auto& w = *d.write;
  auto old_trade = trade_of(o, otn, old_state, now);
  auto& p = w.next.payment;
  p.tried = p.tried.empty() ? from : p.tried + "," + from;
  p.channel = next;
  p.attempt = o.payment.attempt + 1;
  p.qr_code.clear();
  p.channel_trade_no.clear();
  p.failure_reason.clear();
  auto new_otn = out_trade_no_of(w.next);
  w.events.front().detail_json = json{{"out_trade_no", otn}, {"from", from}, {"to", next},
                                      {"reason", reason}, {"attempt", p.attempt},
                                      {"next_out_trade_no", new_otn}}.dump();
  w.trades.push_back(std::move(old_trade));
  w.trades.push_back(trade_of(w.next, new_otn, stored_trade_state::opening, now));
  d.effects.push_back(trade_effect(effect_kind::open_trade, new_otn, next));
  return d;
}

/// The channel an `auto` payment may move to from its current attempt
/// ("" when it may not: not `auto`, not paying, or nothing left).
std::string switch_target(const order_book& b) {
  const auto& o = b.order;
  if (!routed(o) || o.status != s::paying || by_balance(o))
    return {};
  return next_route(b.routes, attempt_channel(o), o.payment.tried);
}

decision on_open_answer(const order_book& b, const trade_open_answer& in, timestamp_us now) {
  const auto& o = b.order;
  if (o.status != s::paying || out_trade_no_of(o) != in.out_trade_no)
    return nothing(); // the order moved on meanwhile (paid, cancelled, expired)
  const auto& r = in.reply;
  const auto& otn = in.out_trade_no;
  if (r.outcome == channel_outcome::ok) {
    auto d = transition_to(o, order_input::channel_accepted, {},
                           json{{"out_trade_no", otn}, {"attempts", r.attempts}}.dump(), now);
    d.write->next.payment.qr_code = r.qr_code;
    d.write->trades.push_back(trade_of(d.write->next, otn, stored_trade_state::waiting, now));
    return d;
  }
  // A definite "no" before the customer saw a QR code: the channel refused,
  // or was not even asked (breaker open, bucket empty). An `auto` payment
  // moves on at once.
  const bool definite = r.outcome == channel_outcome::rejected
                        || r.outcome == channel_outcome::circuit_open
                        || r.outcome == channel_outcome::rate_limited;
  const auto next = switch_target(b);
  if (definite && !next.empty())
    return switch_channel(o, otn, stored_trade_state::rejected,
                          r.reason.empty() ? std::string{to_string(r.outcome)} : r.reason, next, now);
  if (r.outcome == channel_outcome::rejected) {
    auto d = transition_to(o, order_input::channel_rejected, {},
                           json{{"out_trade_no", otn}, {"reason", r.reason}}.dump(), now);
    d.write->next.payment.failure_reason = r.reason;
    d.write->trades.push_back(trade_of(d.write->next, otn, stored_trade_state::rejected, now));
    return d;
  }
  // Unavailable: the trade may or may not be open. An `auto` payment asks
  // the channel (and closes what it finds) before it moves on.
  if (r.outcome == channel_outcome::unavailable && !next.empty())
    return with_effect(trade_effect(effect_kind::query_trade, otn, attempt_channel(o), true));
  // Nothing is known, or nowhere else to go. The same out_trade_no is sent
  // again later, so the channel never opens two.
  return with_effect(trade_effect(effect_kind::retry_later, {}));
}

// --- what the channel says -------------------------------------------------------

/// Rule 5: an amount or currency that differs is never applied; it is
/// flagged in the event log (and the notification recorded).
decision flag_mismatch(const order_record& o, const channel_event& ev, timestamp_us now) {
  decision d;
  d.write = make_write(o, o.status, order_fact::payment_amount_mismatch, {},
                       json{{"out_trade_no", ev.out_trade_no}, {"expected_amount", o.amount},
                            {"expected_currency", o.currency}, {"amount", ev.amount},
                            {"currency", ev.currency}, {"flagged", true}}.dump(),
                       now);
  if (!ev.notify_id.empty())
    d.write->callbacks.push_back(callback_of(ev, "amount_mismatch", now));
  return d;
}

/// A second, different successful trade for a paid order: recorded and
/// refunded automatically (origin duplicate_payment).
decision refund_duplicate(const order_book& b, const channel_event& ev, timestamp_us now) {
  const auto& o = b.order;
  auto refund = automatic_refund(o, ev, refund_origin::duplicate_payment, now);
  if (known_refund(b, refund.id))
    return record(o, ev, "duplicate_payment_known", now);
  decision d;
  d.write = make_write(o, o.status, order_fact::payment_duplicate, {},
                       json{{"out_trade_no", ev.out_trade_no},
                            {"channel_trade_no", ev.channel_trade_no},
                            {"refund_id", refund.id}}.dump(),
                       now);
  auto trade = trade_of(o, ev.out_trade_no, stored_trade_state::succeeded, now);
  trade.channel = ev.channel;
  trade.channel_trade_no = ev.channel_trade_no;
  trade.paid_amount = ev.amount;
  d.write->trades.push_back(trade);
  d.write->refunds.push_back(refund);
  if (!ev.notify_id.empty())
    d.write->callbacks.push_back(callback_of(ev, "duplicate_payment", now));
  d.effects.push_back(refund_effect(effect_kind::execute_refund, refund));
  return d;
}

decision on_paid(const order_book& b, const channel_event& ev, timestamp_us now) {
  const auto& o = b.order;
  auto currency = ev.currency.empty() ? o.currency : ev.currency;
  if (ev.amount != o.amount || currency != o.currency)
    return flag_mismatch(o, ev, now);
  if (o.payment.paid_at != 0) { // paid before
    if (ev.channel_trade_no == o.payment.channel_trade_no)
      return record(o, ev, "duplicate", now);
    return refund_duplicate(b, ev, now);
  }
  auto t = next_status(o.status, order_input::payment_succeeded);
  if (!t)
    return record(o, ev, "ignored_" + std::string{to_string(o.status)}, now);
  std::optional<refund_row> refund;
  if (t->refund_late_payment)
    refund = automatic_refund(o, ev, refund_origin::late_payment, now);
  json detail = {{"out_trade_no", ev.out_trade_no}, {"channel_trade_no", ev.channel_trade_no},
                 {"amount", ev.amount}, {"source", ev.notify_id.empty() ? "query" : "notification"}};
  if (refund)
    detail.update({{"origin", "late_payment"}, {"reason", "late_payment"}, {"refund_id", refund->id}});
  decision d;
  d.write = make_write(o, t->to, fact_for_status(t->to), {}, detail.dump(), now);
  auto& w = *d.write;
  w.next.payment.paid_at = ev.paid_at ? ev.paid_at : w.next.updated_at;
  w.next.payment.channel_trade_no = ev.channel_trade_no;
  auto trade = trade_of(w.next, ev.out_trade_no, stored_trade_state::succeeded, now);
  if (!ev.channel.empty())
    trade.channel = ev.channel;
  trade.paid_amount = ev.amount;
  trade.paid_at = w.next.payment.paid_at;
  w.trades.push_back(trade);
  if (refund) {
    w.refunds.push_back(*refund);
    d.effects.push_back(refund_effect(effect_kind::execute_refund, *refund));
  }
  if (topup_paid(w.next))
    d.effects.push_back(trade_effect(effect_kind::credit_topup, ev.out_trade_no));
  if (!ev.notify_id.empty())
    w.callbacks.push_back(callback_of(ev, "applied", now));
  return d;
}

decision on_closed(const order_record& o, const channel_event& ev, timestamp_us now) {
  if (ev.out_trade_no != out_trade_no_of(o) || o.status != s::awaiting_payment)
    return record(o, ev, "no_change", now);
  auto d = transition_to(o, order_input::payment_closed, {},
                         json{{"out_trade_no", ev.out_trade_no}, {"reason", "closed_by_channel"}}.dump(),
                         now);
  auto& w = *d.write;
  w.next.payment.failure_reason = "closed_by_channel";
  w.trades.push_back(trade_of(w.next, ev.out_trade_no, stored_trade_state::closed, now));
  if (!ev.notify_id.empty())
    w.callbacks.push_back(callback_of(ev, "applied", now));
  return d;
}

decision on_report(const order_book& b, const trade_reported& in, timestamp_us now) {
  const auto& o = b.order;
  const auto& ev = in.event;
  auto attempt = attempt_of(ev.out_trade_no, o.id);
  if (!attempt || *attempt > o.payment.attempt)
    return record(o, ev, "unknown_trade", now);
  if (ev.refund_notice)
    return record(o, ev, "refund_notice", now);
  if (in.before_switch && ev.out_trade_no == out_trade_no_of(o)) {
    // The query after an unknown outcome: no such trade, or closed, means
    // nothing can be paid there; an open one is closed first.
    auto next = switch_target(b);
    auto state = static_cast<trade_state>(ev.state);
    if (!next.empty() && state == trade_state::unknown)
      return switch_channel(o, ev.out_trade_no, stored_trade_state::rejected, "not_opened", next, now);
    if (!next.empty() && state == trade_state::closed)
      return switch_channel(o, ev.out_trade_no, stored_trade_state::closed, "closed", next, now);
    if (!next.empty() && state == trade_state::waiting)
      return with_effect(trade_effect(effect_kind::close_trade, ev.out_trade_no,
                                      attempt_channel(o), true));
  }
  switch (static_cast<trade_state>(ev.state)) {
    case trade_state::succeeded: return on_paid(b, ev, now);
    case trade_state::closed: return on_closed(o, ev, now);
    default: return record(o, ev, "no_change", now);
  }
}

decision on_trade_closed(const order_book& b, const trade_closed& in, timestamp_us now) {
  const auto& o = b.order;
  if (in.before_switch && in.out_trade_no == out_trade_no_of(o)) {
    auto next = switch_target(b);
    if (!next.empty())
      return switch_channel(o, in.out_trade_no, stored_trade_state::closed, "closed", next, now);
  }
  auto d = record_only(b.order);
  d.write->trades.push_back(trade_of(b.order, in.out_trade_no, stored_trade_state::closed, now));
  return d;
}

decision on_balance_settled(const order_book& b, const balance_settled& in, timestamp_us now) {
  const auto& o = b.order;
  if (!by_balance(o) || in.attempt < 1 || in.attempt > o.payment.attempt
      || in.post.amount <= 0)
    return nothing();
  channel_event ev;
  ev.order_id = o.id;
  ev.channel = "balance";
  ev.out_trade_no = o.id + "_" + std::to_string(in.attempt);
  ev.state = static_cast<uint8_t>(trade_state::succeeded);
  ev.amount = in.post.amount;
  ev.currency = in.post.currency;
  ev.channel_trade_no = in.post.pending_id; // the reservation: what the order stored
  ev.paid_at = in.post.created_at;
  ev.trade_status = "POSTED";
  return on_paid(b, ev, now);
}

// --- cancel and expiry ---------------------------------------------------------

/// Cancel and expiry end the order; a trade that may be open at the
/// channel is closed once that is committed.
decision end_order(const order_record& o, order_input input, const std::string& request_id,
                   const std::string& detail, timestamp_us now) {
  auto d = transition_to(o, input, request_id, detail, now);
  if (!d.is_refusal() && trade_may_be_open(o))
    d.effects.push_back(trade_effect(effect_kind::close_trade, out_trade_no_of(o), attempt_channel(o)));
  if (!d.is_refusal() && by_balance(o) && o.status == s::paying)
    d.effects.push_back(trade_effect(effect_kind::void_reservation, out_trade_no_of(o)));
  return d;
}

decision on_expiry(const order_book& b, timestamp_us now) {
  const auto& o = b.order;
  if (!expirable(o.status) || now < o.expires_at)
    return nothing(); // not yet (the caller keeps a timer) or not any more
  return end_order(o, order_input::expire, {}, R"({"reason":"expires_at reached"})", now);
}

// --- refunds -----------------------------------------------------------------------

decision on_refund_request(const order_book& b, const refund_requested& in, timestamp_us now) {
  const auto& o = b.order;
  if (known_refund(b, in.refund_id)) { // the request ran before; its answer was lost
    decision d;
    d.on_success = order_outcome::created;
    d.created_id = in.refund_id;
    return d;
  }
  if (!one_of(o.status, {s::paid, s::completed}))
    return refuse(refusal_code::invalid_state);
  auto refundable = o.amount - o.amount_refunded - owed_to_merchant_refunds(b);
  if (in.amount < 1 || in.amount > refundable) {
    auto d = refuse(refusal_code::refund_exceeds_amount);
    d.refundable = std::max<int64_t>(0, refundable);
    return d;
  }
  refund_row r;
  r.id = in.refund_id;
  r.order_id = o.id;
  r.out_trade_no = out_trade_no_of(o);
  r.channel = attempt_channel(o);
  r.amount = in.amount;
  r.origin = refund_origin::merchant;
  r.reason = in.reason.empty() ? "requested_by_merchant" : in.reason;
  r.status = refund_status::pending;
  r.created_at = r.updated_at = now;
  decision d;
  d.write = make_write(o, o.status, order_fact::refund_created, in.request_id,
                       json{{"refund_id", r.id}, {"amount", r.amount}, {"origin", "merchant"},
                            {"reason", r.reason}}.dump(),
                       now);
  d.write->refunds.push_back(r);
  d.effects.push_back(refund_effect(effect_kind::execute_refund, r));
  d.on_success = order_outcome::created;
  d.created_id = r.id;
  return d;
}

decision on_refund_answer(const order_book& b, const refund_answer& in, timestamp_us now) {
  const auto& o = b.order;
  const auto* owed = owed_refund(b, in.refund_id);
  if (!owed)
    return nothing(); // answered already (a retry crossed the first answer)
  const auto& rep = in.reply;
  bool merchants = owed->origin == refund_origin::merchant;
  if (rep.outcome == channel_outcome::rejected && merchants) {
    // The merchant's refund, refused by the channel for good: it failed,
    // and the merchant hears so (refund.failed).
    auto r = *owed;
    r.status = refund_status::failed;
    r.failure_reason = rep.reason;
    r.updated_at = now;
    decision d;
    d.write = make_write(o, o.status, order_fact::refund_failed, {},
                         json{{"refund_id", r.id}, {"amount", r.amount},
                              {"failure_reason", rep.reason}}.dump(),
                         now);
    d.write->refunds.push_back(r);
    d.effects.push_back(refund_effect(effect_kind::refund_settled, r));
    return d;
  }
  if (rep.outcome != channel_outcome::ok) {
    // Money the engine must return on its own is never given up on: a
    // refusal may be ours (a key rotation, a balance not yet settled). It
    // stays owed, retried with back-off, and an operator is told.
    decision d = with_effect(trade_effect(effect_kind::retry_later, {}));
    if (rep.outcome == channel_outcome::rejected)
      d.effects.push_back(effect{effect_kind::alert, {}, *owed, rep.reason, {}, false});
    return d;
  }
  auto r = *owed;
  r.status = refund_status::succeeded;
  r.updated_at = now;
  // Only the merchant's refunds of the order's own payment count: an
  // automatic refund returns money the order never kept.
  auto refunded = o.amount_refunded + (merchants ? r.amount : 0);
  if (refunded > o.amount) {
    decision d;
    d.broken_invariant = "refund " + r.id + " would refund " + std::to_string(refunded)
                         + " of " + std::to_string(o.amount);
    return d;
  }
  auto full = merchants && refunded == o.amount
              && next_status(o.status, order_input::refund_completed).has_value();
  auto to = full ? s::refunded : o.status;
  decision d;
  d.write = make_write(o, to, order_fact::refund_succeeded, {},
                       json{{"refund_id", r.id}, {"amount", r.amount},
                            {"origin", to_string(r.origin)}, {"reason", r.reason},
                            {"amount_refunded", refunded}}.dump(),
                       now);
  d.write->next.amount_refunded = refunded;
  d.write->refunds.push_back(r);
  // Owed until the success is committed: a failed write retries it.
  d.effects.push_back(refund_effect(effect_kind::refund_settled, r));
  return d;
}

// --- fulfillment -------------------------------------------------------------------

decision on_fulfillment(const order_book& b, const fulfillment_reported& in, timestamp_us now) {
  const auto& o = b.order;
  if (o.status != s::paid)
    return refuse(refusal_code::invalid_state);
  if (in.stage <= o.fulfillment || in.stage == fulfillment_stage::none)
    return refuse(refusal_code::fulfillment_not_forward);
  bool delivered = in.stage == fulfillment_stage::delivered;
  auto to = delivered ? next_status(o.status, order_input::delivered)->to : o.status;
  auto fact = delivered ? fact_for_status(to)
              : in.stage == fulfillment_stage::produced ? order_fact::fulfillment_produced
                                                        : order_fact::fulfillment_shipped;
  decision d;
  d.write = make_write(o, to, fact, in.request_id,
                       json{{"stage", to_string(in.stage)}, {"detail", in.detail}}.dump(), now);
  d.write->next.fulfillment = in.stage;
  return d;
}

// --- owed work ---------------------------------------------------------------------

decision on_work_due(const order_book& b, const work_due& in, timestamp_us now) {
  const auto& o = b.order;
  decision d;
  for (const auto& r : b.owed)
    d.effects.push_back(refund_effect(effect_kind::execute_refund, r));
  auto otn = out_trade_no_of(o);
  if (topup_paid(o))
    d.effects.push_back(trade_effect(effect_kind::credit_topup, otn)); // found if done
  if (by_balance(o)) {
    // No channel: the reservation is posted while paying (its wallet says
    // whether it still can be), and voided once the order ended unpaid.
    if (o.status == s::paying)
      d.effects.push_back(trade_effect(effect_kind::post_reservation, otn));
    else if (in.reconcile && one_of(o.status, {s::cancelled, s::expired, s::failed})
             && o.payment.paid_at == 0)
      d.effects.push_back(trade_effect(effect_kind::void_reservation, otn));
    return d;
  }
  const auto channel = attempt_channel(o);
  if (!in.reconcile) {
    // An `auto` payment that may move on asks what became of its trade
    // (and moves once it knows) rather than pressing the same channel.
    if (o.status == s::paying && now < o.expires_at && !switch_target(b).empty())
      d.effects.push_back(trade_effect(effect_kind::query_trade, otn, channel, true));
    else if (o.status == s::paying && now < o.expires_at)
      d.effects.push_back(trade_effect(effect_kind::open_trade, otn, channel));
    return d;
  }
  const bool may_move = o.status == s::paying && !switch_target(b).empty();
  if (o.status == s::paying && o.payment.qr_code.empty() && !may_move)
    d.effects.push_back(trade_effect(effect_kind::open_trade, otn, channel)); // opens it, or finds it open
  if (one_of(o.status, {s::paying, s::awaiting_payment}))
    d.effects.push_back(trade_effect(effect_kind::query_trade, otn, channel, may_move));
  // Cancelled or expired with a trade that may still be open: close it (a
  // refused close turns into a query, and a payment there into a refund).
  if (one_of(o.status, {s::cancelled, s::expired}) && o.payment.attempt > 0)
    d.effects.push_back(trade_effect(effect_kind::close_trade, otn, channel));
  return d;
}

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

decision dispatch(const order_book& b, const order_input_event& input, timestamp_us now) {
  return std::visit(
    overloaded{
      [&](const pay_requested& x) { return on_pay(b, x, now); },
      [&](const trade_open_answer& x) { return on_open_answer(b, x, now); },
      [&](const trade_reported& x) { return on_report(b, x, now); },
      [&](const trade_closed& x) { return on_trade_closed(b, x, now); },
      [&](const cancel_requested& x) {
        return end_order(b.order, order_input::cancel, x.request_id, "{}", now);
      },
      [&](const expiry_due&) { return on_expiry(b, now); },
      [&](const refund_requested& x) { return on_refund_request(b, x, now); },
      [&](const refund_answer& x) { return on_refund_answer(b, x, now); },
      [&](const fulfillment_reported& x) { return on_fulfillment(b, x, now); },
      [&](const work_due& x) { return on_work_due(b, x, now); },
      [&](const balance_settled& x) { return on_balance_settled(b, x, now); },
      [&](const balance_refused& x) { return on_balance_refused(b, x, now); },
    },
    input);
}

} // namespace

std::string_view to_string(effect_kind x) {
  switch (x) {
    case effect_kind::open_trade: return "open_trade";
    case effect_kind::close_trade: return "close_trade";
    case effect_kind::query_trade: return "query_trade";
    case effect_kind::execute_refund: return "execute_refund";
    case effect_kind::refund_settled: return "refund_settled";
    case effect_kind::retry_later: return "retry_later";
    case effect_kind::alert: return "alert";
    case effect_kind::post_reservation: return "post_reservation";
    case effect_kind::void_reservation: return "void_reservation";
    case effect_kind::credit_topup: return "credit_topup";
  }
  return "unknown";
}

decision decide(const order_book& book, const order_input_event& input, timestamp_us now) {
  auto d = dispatch(book, input, now);
  if (!d.write || d.write->record_only)
    return d;
  // Both sides of the boundary: what the rules wrote must hold what they promise.
  order_book after{d.write->next, book.owed, book.settled, {}};
  for (const auto& r : d.write->refunds) {
    auto same = [&](const refund_row& x) { return x.id == r.id; };
    after.owed.erase(std::remove_if(after.owed.begin(), after.owed.end(), same), after.owed.end());
    if (r.status == refund_status::pending)
      after.owed.push_back(r);
    else
      after.settled.insert(r.id);
  }
  if (auto broken = check_invariants(after); !broken.empty()) {
    decision bad;
    bad.broken_invariant = std::move(broken);
    return bad;
  }
  add_merchant_events(*d.write);
  return d;
}

std::string out_trade_no_of(const order_record& o) {
  return o.id + "_" + std::to_string(o.payment.attempt);
}

std::optional<int32_t> attempt_of(const std::string& otn, const std::string& order_id) {
  if (otn.size() <= order_id.size() + 1 || otn.compare(0, order_id.size(), order_id) != 0
      || otn[order_id.size()] != '_')
    return std::nullopt;
  int32_t n = 0;
  auto first = otn.data() + order_id.size() + 1;
  auto last = otn.data() + otn.size();
  auto [end, ec] = std::from_chars(first, last, n);
  if (ec != std::errc{} || end != last || n < 1)
    return std::nullopt;
  return n;
}

transition_write make_write(const order_record& current, order_status to, order_fact fact,
                            const std::string& request_id, const std::string& detail_json,
                            timestamp_us now) {
  transition_write w;
  w.expected_version = current.version;
  w.next = current;
  w.next.status = to;
  w.next.version = current.version + 1;
  w.next.updated_at = std::max(now, current.updated_at);
  order_event_row e;
  e.order_id = current.id;
  e.seq = w.next.version;
  e.type = std::string{to_string(fact)};
  e.has_from = true;
  e.from = current.status;
  e.to = to;
  e.at = w.next.updated_at;
  e.detail_json = detail_json;
  e.request_id = request_id;
  w.events.push_back(std::move(e));
  return w;
}

void add_merchant_events(transition_write& w) {
  if (w.record_only)
    return;
  for (const auto& e : w.events) {
    if (!e.has_from)
      continue; // the order's creation is not an event for the merchant
    auto logged = fact_from_string(e.type);
    if (!logged)
      continue;
    for (auto fact : merchant_facts(*logged, e.from, e.to)) {
      const auto& fi = info(fact);
      merchant_event_row m;
      m.id = "evt_" + sha256_hex("payengine/event/" + w.next.id + "/" + std::to_string(e.seq)
                                 + "/" + std::string{fi.type}).substr(0, 32);
      m.merchant_id = w.next.merchant_id;
      m.order_id = w.next.id;
      m.type = std::string{fi.type};
      m.created_at = e.at;
      m.data_json = order_json(w.next).dump();
      m.notify_url = w.next.notify_url;
      if (fi.tells_customer)
        m.sms_to = w.next.customer_phone;
      w.merchant_events.push_back(std::move(m));
    }
  }
}

bool topup_credit_owed(const order_record& o) {
  if (o.topup_wallet.empty() || o.payment.paid_at == 0)
    return false;
  // Kept: paid or completed, or refunded by the merchant (the wallet was
  // credited, and the refund took it back). A payment that came after the
  // order ended is `refunded` with nothing refunded by the merchant: it was
  // never kept, and the wallet is owed nothing.
  return one_of(o.status, {s::paid, s::completed})
         || (o.status == s::refunded && o.amount_refunded == o.amount);
}

std::string automatic_refund_id(const std::string& otn) {
  return "rfd_" + sha256_hex("payengine/auto-refund/" + otn).substr(0, 32);
}

std::string check_invariants(const order_book& b) {
  const auto& o = b.order;
  if (!order_invariants_hold(o))
    return "order " + o.id + " breaks the record's invariants";
  if (o.amount_refunded + owed_to_merchant_refunds(b) > o.amount)
    return "order " + o.id + " promises more refunds than its amount";
  if (o.amount_refunded > 0 && o.payment.paid_at == 0)
    return "order " + o.id + " refunded money it was never paid";
  if (one_of(o.status, {s::paid, s::completed}) && o.amount_refunded >= o.amount)
    return "order " + o.id + " keeps a status that holds money after a full refund";
  if (o.status == s::refunded && o.amount_refunded != o.amount && o.payment.paid_at == 0)
    return "order " + o.id + " is refunded without a payment";
  for (const auto& r : b.owed)
    if (r.amount <= 0 || r.order_id != o.id)
      return "refund " + r.id + " is not a refund of order " + o.id;
  return {};
}

} // namespace payengine::domain
