// The order actor's side of payments: pay (open a channel trade), what the
// channel says (notifications and query results), automatic refunds of
// money that can't be kept, and reconciliation. Every change is committed
// before anything is sent to the channel or answered (rule 1); channel work
// still owed is retried with back-off and, after a restart, re-driven from
// storage (rule 3).
#include "actors/order_internal.hpp"

#include "config/logging.hpp"
#include "messages/errors.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <optional>

namespace payengine::order_detail {

void arm_retry(order_self self) {
  auto& st = self->state;
  if (st.retry_armed)
    return;
  st.retry_armed = true;
  auto factor = 1u << std::min<uint32_t>(st.retry_round, 5);
  st.retry_round++;
  self->delayed_send(self,
                     std::chrono::milliseconds{st.ctx.settings.channel_retry_ms * factor},
                     retry_atom_v);
}

std::string out_trade_no_of(const order_record& o) {
  return o.id + "_" + std::to_string(o.payment.attempt);
}

namespace {

using json = nlohmann::json;

std::chrono::milliseconds channel_timeout(order_self self) {
  return std::chrono::milliseconds{self->state.ctx.settings.channel_timeout_ms};
}

/// The attempt number in `otn` ("<order id>_<attempt>") if it is this order's.
std::optional<int32_t> attempt_of(const std::string& otn, const std::string& order_id) {
  if (otn.size() <= order_id.size() + 1 || otn.compare(0, order_id.size(), order_id) != 0
      || otn[order_id.size()] != '_')
    return std::nullopt;
  int32_t n = 0;
  auto first = otn.data() + order_id.size() + 1;
  auto [end, ec] = std::from_chars(first, otn.data() + otn.size(), n);
  if (ec != std::errc{} || end != otn.data() + otn.size() || n < 1)
    return std::nullopt;
  return n;
}

trade_row trade_of(const order_record& o, const std::string& otn, stored_trade_state state) {
  trade_row t;
  t.out_trade_no = otn;
  t.order_id = o.id;
  t.attempt = attempt_of(otn, o.id).value_or(o.payment.attempt);
  t.channel = o.channel;
  t.amount = o.amount;
  t.state = state;
  t.qr_code = o.payment.qr_code;
  t.channel_trade_no = o.payment.channel_trade_no;
  t.at = now_us();
  return t;
}

callback_row callback_of(const channel_event& ev, const std::string& outcome) {
  return {ev.channel, ev.notify_id, ev.out_trade_no, ev.trade_status, ev.amount,
          outcome, now_us()};
}


/// Sends `req` to the gateway; `on_reply` gets its answer, or `unavailable`
/// when none came in time. Counted, so that the actor does not passivate
/// while a reply is due.
template <class Request, class OnReply>
void call_gateway(order_self self, Request req, OnReply on_reply) {
  auto& st = self->state;
  if (!st.ctx.gateway)
    return;
  st.channel_calls++;
  self->request(st.ctx.gateway, channel_timeout(self), std::move(req))
    .then(
      [=](const channel_reply& r) {
        self->state.channel_calls--;
        on_reply(r);
      },
      [=](caf::error&) {
        self->state.channel_calls--;
        on_reply(channel_reply{});
      });
}

// --- opening a trade --------------------------------------------------------

void on_opened(order_self self, const std::string& otn, const channel_reply& r) {
  auto& st = self->state;
  if (st.order.status != order_status::paying || out_trade_no_of(st.order) != otn)
    return; // the order moved on meanwhile (paid, cancelled, expired)
  if (r.outcome == channel_outcome::ok) {
    st.retry_round = 0;
    apply_input(self, order_input::channel_accepted, {},
                json{{"out_trade_no", otn}, {"attempts", r.attempts}}.dump(),
                [&](transition_write& w) {
                  w.next.payment.qr_code = r.qr_code;
                  w.trades.push_back(trade_of(w.next, otn, stored_trade_state::waiting));
                });
    return;
  }
  if (r.outcome == channel_outcome::rejected) {
    apply_input(self, order_input::channel_rejected, {},
                json{{"out_trade_no", otn}, {"reason", r.reason}}.dump(),
                [&](transition_write& w) {
                  w.next.payment.failure_reason = r.reason;
                  w.trades.push_back(trade_of(w.next, otn, stored_trade_state::rejected));
                });
    return;
  }
  // Unavailable, circuit open, rate limited: nothing is known. The same
  // out_trade_no is sent again later, so the channel never opens two.
  arm_retry(self);
}

void request_open(order_self self) {
  auto& st = self->state;
  const auto& o = st.order;
  if (o.status != order_status::paying || st.opening_trade || !st.ctx.gateway)
    return;
  st.opening_trade = true;
  auto otn = out_trade_no_of(o);
  open_trade req{o.id, otn, o.amount, o.currency, o.subject, o.expires_at, st.ctx.notify_url};
  call_gateway(self, std::move(req), [=](const channel_reply& r) {
    self->state.opening_trade = false;
    on_opened(self, otn, r);
  });
}

void start_attempt(order_self self, caf::typed_response_promise<order_reply> rp,
                   const std::string& request_id) {
  const auto& o = self->state.order;
  auto previous = o.status == order_status::awaiting_payment ? out_trade_no_of(o) : "";
  auto w = make_write(o, order_status::paying, event_type_for(order_status::paying), request_id);
  auto& p = w.next.payment;
  p.attempt = o.payment.attempt + 1;
  p.qr_code.clear();
  p.channel_trade_no.clear();
  p.failure_reason.clear();
  auto otn = out_trade_no_of(w.next);
  w.events.front().detail_json = json{{"attempt", p.attempt}, {"out_trade_no", otn}}.dump();
  w.trades.push_back(trade_of(w.next, otn, stored_trade_state::opening));
  persist_into(self, rp, std::move(w), order_outcome::ok, [previous](order_self s) {
    request_open(s);
    if (!previous.empty())
      close_open_trade(s, previous);
  });
}

// --- refunds -----------------------------------------------------------------

void on_refunded(order_self self, const std::string& refund_id, const channel_reply& rep);

void request_refund(order_self self, const refund_row& r) {
  refund_trade req{r.out_trade_no, r.id, r.amount, self->state.order.currency, r.reason};
  auto id = r.id;
  call_gateway(self, std::move(req), [=](const channel_reply& rep) { on_refunded(self, id, rep); });
}

void queue_refund(order_self self, const refund_row& r) {
  auto& pending = self->state.pending_refunds;
  if (self->state.settled_refunds.count(r.id))
    return; // settled and committed: an older read of storage is not news
  if (std::any_of(pending.begin(), pending.end(), [&](const auto& p) { return p.id == r.id; }))
    return; // owed once, executed once (the channel dedups retries by id too)
  pending.push_back(r);
  request_refund(self, r);
}

/// The refund is settled (committed): nothing more is owed for it.
void forget_refund(order_self self, const std::string& refund_id) {
  self->state.settled_refunds.insert(refund_id);
  auto& pending = self->state.pending_refunds;
  pending.erase(std::remove_if(pending.begin(), pending.end(),
                               [&](const auto& p) { return p.id == refund_id; }),
                pending.end());
}

/// Records the channel's answer to a refund: the refund row, an event, and
/// for the order's own money, amount_refunded.
void on_refunded(order_self self, const std::string& refund_id, const channel_reply& rep) {
  auto& st = self->state;
  auto i = std::find_if(st.pending_refunds.begin(), st.pending_refunds.end(),
                        [&](const auto& r) { return r.id == refund_id; });
  if (i == st.pending_refunds.end())
    return; // answered already (a retry crossed the first answer)
  bool automatic = i->reason == "late_payment" || i->reason == "duplicate_payment";
  if (rep.outcome == channel_outcome::rejected && !automatic) {
    // The merchant's refund, refused by the channel for good: it failed,
    // and the merchant hears so (refund.failed).
    auto r = *i;
    r.status = refund_status::failed;
    r.failure_reason = rep.reason;
    r.updated_at = now_us();
    auto w = make_write(st.order, st.order.status, "refund.failed", {},
                        json{{"refund_id", r.id}, {"amount", r.amount}, {"failure_reason", rep.reason}}.dump());
    w.refunds.push_back(r);
    persist(self, std::move(w), order_outcome::ok, [refund_id](order_self s) { forget_refund(s, refund_id); });
    return;
  }
  if (rep.outcome != channel_outcome::ok) {
    // Money we must return on our own is never given up on: a refusal may
    // be ours (a key rotation, a balance not yet settled). It stays
    // pending, retried with back-off, and an operator is told.
    if (rep.outcome == channel_outcome::rejected)
      logging::error("refund.refused", {{"order_id", st.id}, {"refund_id", refund_id},
                                        {"reason", rep.reason}});
    arm_retry(self);
    return;
  }
  auto r = *i;
  r.status = refund_status::succeeded;
  r.updated_at = now_us();
  // A duplicate payment's refund returns another trade's money: the order's
  // own amount_refunded is about this order's payment only.
  bool own_money = r.reason != "duplicate_payment";
  auto refunded = own_money ? std::min(st.order.amount, st.order.amount_refunded + r.amount)
                            : st.order.amount_refunded;
  // The full amount back: paid or completed orders become refunded.
  auto full = refunded == st.order.amount
              && next_status(st.order.status, order_input::refund_completed).has_value();
  auto to = full ? order_status::refunded : st.order.status;
  auto w = make_write(st.order, to, "refund.succeeded", {},
                      json{{"refund_id", r.id}, {"amount", r.amount}, {"reason", r.reason},
                           {"amount_refunded", refunded}}.dump());
  w.next.amount_refunded = refunded;
  w.refunds.push_back(r);
  // Owed until the success is committed: a failed write retries it.
  persist(self, std::move(w), order_outcome::ok, [refund_id](order_self s) { forget_refund(s, refund_id); });
}

/// The automatic refund of one channel trade. Its id is derived from the
/// trade, so that however often the channel reports that money, it is
/// refunded once (the id is the channel's out_request_no).
refund_row new_refund(const order_record& o, const std::string& otn, int64_t amount,
                      const std::string& reason) {
  refund_row r;
  r.id = "rfd_" + sha256_hex("payengine/auto-refund/" + otn).substr(0, 32);
  r.order_id = o.id;
  r.out_trade_no = otn;
  r.amount = amount;
  r.reason = reason;
  r.status = refund_status::pending;
  r.created_at = r.updated_at = now_us();
  return r;
}

// --- what the channel says ------------------------------------------------

caf::result<order_reply> record(order_self self, const channel_event& ev,
                                const std::string& outcome) {
  if (ev.notify_id.empty()) // a query result: nothing to record
    return order_reply{order_outcome::ok, self->state.order};
  transition_write w;
  w.next = self->state.order;
  w.record_only = true;
  w.callbacks.push_back(callback_of(ev, outcome));
  return persist(self, std::move(w), order_outcome::ok);
}

/// Rule 5: an amount or currency that differs is never applied; it is
/// flagged in the event log (and the notification recorded).
caf::result<order_reply> flag_mismatch(order_self self, const channel_event& ev) {
  const auto& o = self->state.order;
  logging::error("payment.amount_mismatch", {{"order_id", o.id}, {"out_trade_no", ev.out_trade_no},
                                             {"expected", o.amount}, {"got", ev.amount}});
  auto w = make_write(o, o.status, "payment.amount_mismatch", {},
                      json{{"out_trade_no", ev.out_trade_no}, {"expected_amount", o.amount},
                           {"expected_currency", o.currency}, {"amount", ev.amount},
                           {"currency", ev.currency}, {"flagged", true}}.dump());
  if (!ev.notify_id.empty())
    w.callbacks.push_back(callback_of(ev, "amount_mismatch"));
  return persist(self, std::move(w), order_outcome::ok);
}

/// A second, different successful trade for a paid order: recorded and
/// refunded automatically (duplicate_payment).
caf::result<order_reply> refund_duplicate(order_self self, const channel_event& ev) {
  const auto& o = self->state.order;
  auto refund = new_refund(o, ev.out_trade_no, ev.amount, "duplicate_payment");
  const auto& pending = self->state.pending_refunds;
  if (std::any_of(pending.begin(), pending.end(), [&](const auto& p) { return p.id == refund.id; }))
    return record(self, ev, "duplicate_payment_known");
  auto w = make_write(o, o.status, "payment.duplicate", {},
                      json{{"out_trade_no", ev.out_trade_no},
                           {"channel_trade_no", ev.channel_trade_no},
                           {"refund_id", refund.id}}.dump());
  auto trade = trade_of(o, ev.out_trade_no, stored_trade_state::succeeded);
  trade.channel_trade_no = ev.channel_trade_no;
  trade.paid_amount = ev.amount;
  w.trades.push_back(trade);
  w.refunds.push_back(refund);
  if (!ev.notify_id.empty())
    w.callbacks.push_back(callback_of(ev, "duplicate_payment"));
  return persist(self, std::move(w), order_outcome::ok,
                 [refund](order_self s) { queue_refund(s, refund); });
}

caf::result<order_reply> on_paid(order_self self, const channel_event& ev) {
  const auto& o = self->state.order;
  auto currency = ev.currency.empty() ? o.currency : ev.currency;
  if (ev.amount != o.amount || currency != o.currency)
    return flag_mismatch(self, ev);
  if (o.payment.paid_at != 0) { // paid before
    if (ev.channel_trade_no == o.payment.channel_trade_no)
      return record(self, ev, "duplicate");
    return refund_duplicate(self, ev);
  }
  auto t = next_status(o.status, order_input::payment_succeeded);
  if (!t)
    return record(self, ev, "ignored_" + std::string{to_string(o.status)});
  std::optional<refund_row> refund;
  if (t->refund_late_payment)
    refund = new_refund(o, ev.out_trade_no, ev.amount, "late_payment");
  json detail = {{"out_trade_no", ev.out_trade_no}, {"channel_trade_no", ev.channel_trade_no},
                 {"amount", ev.amount}, {"source", ev.notify_id.empty() ? "query" : "notification"}};
  if (refund)
    detail.update({{"reason", "late_payment"}, {"refund_id", refund->id}});
  auto w = make_write(o, t->to, event_type_for(t->to), {}, detail.dump());
  w.next.payment.paid_at = ev.paid_at ? ev.paid_at : w.next.updated_at;
  w.next.payment.channel_trade_no = ev.channel_trade_no;
  auto trade = trade_of(w.next, ev.out_trade_no, stored_trade_state::succeeded);
  trade.paid_amount = ev.amount;
  trade.paid_at = w.next.payment.paid_at;
  w.trades.push_back(trade);
  if (refund)
    w.refunds.push_back(*refund);
  if (!ev.notify_id.empty())
    w.callbacks.push_back(callback_of(ev, "applied"));
  after_commit_fn after;
  if (refund)
    after = [r = *refund](order_self s) { queue_refund(s, r); };
  return persist(self, std::move(w), order_outcome::ok, std::move(after));
}

caf::result<order_reply> on_closed(order_self self, const channel_event& ev) {
  const auto& o = self->state.order;
  if (ev.out_trade_no != out_trade_no_of(o) || o.status != order_status::awaiting_payment)
    return record(self, ev, "no_change");
  auto otn = ev.out_trade_no;
  return apply_input(self, order_input::payment_closed, {},
                     json{{"out_trade_no", otn}, {"reason", "closed_by_channel"}}.dump(),
                     [&](transition_write& w) {
                       w.next.payment.failure_reason = "closed_by_channel";
                       w.trades.push_back(trade_of(w.next, otn, stored_trade_state::closed));
                       if (!ev.notify_id.empty())
                         w.callbacks.push_back(callback_of(ev, "applied"));
                     });
}

/// Asks the channel for the truth about one trade and applies it.
void query_and_apply(order_self self, const std::string& otn) {
  auto& st = self->state;
  call_gateway(self, query_trade{otn, st.order.currency}, [=](const channel_reply& r) {
        if (r.outcome != channel_outcome::ok) {
          arm_retry(self);
          return;
        }
        channel_event ev;
        ev.order_id = self->state.id;
        ev.channel = self->state.order.channel;
        ev.out_trade_no = otn;
        ev.state = static_cast<uint8_t>(r.state);
        ev.amount = r.amount;
        ev.channel_trade_no = r.channel_trade_no;
        ev.paid_at = r.paid_at;
        ev.trade_status = std::string{to_string(r.state)};
        on_channel_event(self, ev);
  });
}

/// The trade is closed at the channel: stored, so that nobody asks again.
void record_closed(order_self self, const std::string& otn) {
  transition_write w;
  w.next = self->state.order;
  w.record_only = true;
  w.trades.push_back(trade_of(self->state.order, otn, stored_trade_state::closed));
  persist(self, std::move(w), order_outcome::ok);
}

} // namespace

caf::result<order_reply> on_pay(order_self self, const pay_order& cmd) {
  auto& st = self->state;
  if (!visible_to(st, cmd.merchant_id))
    return not_found();
  const auto& o = st.order;
  if (o.status == order_status::awaiting_payment && !o.payment.qr_code.empty()
      && now_us() < o.expires_at)
    return order_reply{order_outcome::ok, o}; // the same open trade while it is valid
  if (!next_status(o.status, order_input::pay))
    return order_reply{order_outcome::invalid_state, o};
  if (!st.ctx.gateway)
    return make_error(engine_error::channel_unavailable, "channel not configured");
  // Fail fast, before anything is committed, while the channel is down.
  auto rp = self->make_response_promise<order_reply>();
  auto request_id = cmd.request_id;
  self->request(st.ctx.gateway, std::chrono::seconds{2}, info_atom_v)
    .await(
      [=](const gateway_info& gi) mutable {
        if (gi.circuit == "open") {
          rp.deliver(make_error(engine_error::channel_unavailable, "circuit open"));
          return;
        }
        start_attempt(self, rp, request_id);
      },
      [=](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

caf::result<order_reply> on_channel_event(order_self self, const channel_event& ev) {
  auto& st = self->state;
  if (st.current != phase::live)
    return not_found();
  auto attempt = attempt_of(ev.out_trade_no, st.id);
  if (!attempt || *attempt > st.order.payment.attempt)
    return record(self, ev, "unknown_trade");
  if (ev.refund_notice)
    return record(self, ev, "refund_notice");
  switch (static_cast<trade_state>(ev.state)) {
    case trade_state::succeeded:
      return on_paid(self, ev);
    case trade_state::closed:
      return on_closed(self, ev);
    default:
      return record(self, ev, "no_change");
  }
}

caf::result<order_reply> on_reconcile(order_self self) {
  auto& st = self->state;
  if (st.current != phase::live)
    return not_found();
  for (const auto& r : st.pending_refunds)
    request_refund(self, r);
  const auto& o = st.order;
  if (o.status == order_status::paying && o.payment.qr_code.empty())
    request_open(self); // the same out_trade_no: opens it, or finds it open
  if (o.status == order_status::paying || o.status == order_status::awaiting_payment)
    query_and_apply(self, out_trade_no_of(o));
  // Cancelled or expired with a trade that may still be open: close it (a
  // refused close turns into a query, and a payment there into a refund).
  if ((o.status == order_status::cancelled || o.status == order_status::expired)
      && o.payment.attempt > 0)
    close_open_trade(self, out_trade_no_of(o));
  return order_reply{order_outcome::ok, o};
}

namespace {

bool has_refund(const std::vector<refund_row>& rows, const std::string& id) {
  return std::any_of(rows.begin(), rows.end(), [&](const refund_row& r) { return r.id == id; });
}

/// Checks the amount and creates the refund; every answer goes to `rp`.
void create_refund(order_self self, const refund_order& cmd,
                   caf::typed_response_promise<order_reply> rp) {
  auto& st = self->state;
  const auto& o = st.order;
  if (o.status != order_status::paid && o.status != order_status::completed) {
    rp.deliver(order_reply{order_outcome::invalid_state, o, {}});
    return;
  }
  int64_t owed = 0;
  for (const auto& r : st.pending_refunds)
    if (r.reason != "duplicate_payment")
      owed += r.amount;
  auto available = o.amount - o.amount_refunded - owed;
  if (cmd.amount < 1 || cmd.amount > available) {
    rp.deliver(order_reply{order_outcome::invalid_state, o,
                           "amount_exceeds_refundable:" + std::to_string(available)});
    return;
  }
  refund_row r;
  r.id = cmd.refund_id.empty() ? new_id("rfd") : cmd.refund_id;
  r.order_id = o.id;
  r.out_trade_no = out_trade_no_of(o);
  r.amount = cmd.amount;
  r.reason = cmd.reason.empty() ? "requested_by_merchant" : cmd.reason;
  r.status = refund_status::pending;
  r.created_at = r.updated_at = now_us();
  auto w = make_write(o, o.status, "refund.created", cmd.request_id,
                      json{{"refund_id", r.id}, {"amount", r.amount}, {"reason", r.reason}}.dump());
  w.refunds.push_back(r);
  persist_into(self, rp, std::move(w), order_outcome::created,
               [r](order_self s) { queue_refund(s, r); }, r.id);
}

} // namespace

/// Refund part of a paid order: the sum of refunds that did not fail never
/// exceeds the amount, because this actor sees every refund of its order.
/// A refund id named by the request (from its Idempotency-Key) that exists
/// already answers that refund: the request ran before, its answer was lost.
caf::result<order_reply> on_refund(order_self self, const refund_order& cmd) {
  auto& st = self->state;
  if (!visible_to(st, cmd.merchant_id))
    return not_found();
  if (!cmd.refund_id.empty() && has_refund(st.pending_refunds, cmd.refund_id))
    return order_reply{order_outcome::created, st.order, cmd.refund_id};
  auto rp = self->make_response_promise<order_reply>();
  if (cmd.refund_id.empty()) {
    create_refund(self, cmd, rp);
    return rp;
  }
  // Stored ones too (succeeded or failed): awaited, so that nothing else
  // happens to this order in between.
  self->request(st.ctx.writer, storage_timeout(self), refunds_atom_v, st.id)
    .await(
      [self, cmd, rp](const std::vector<refund_row>& rows) mutable {
        if (has_refund(rows, cmd.refund_id))
          rp.deliver(order_reply{order_outcome::created, self->state.order, cmd.refund_id});
        else
          create_refund(self, cmd, rp);
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

caf::result<order_reply> on_fulfill(order_self self, const fulfill_order& cmd) {
  auto& st = self->state;
  if (!visible_to(st, cmd.merchant_id))
    return not_found();
  const auto& o = st.order;
  auto stage = static_cast<fulfillment_stage>(cmd.stage);
  // Forward only, on a paid order; `delivered` completes it.
  if (o.status != order_status::paid || cmd.stage <= static_cast<uint8_t>(o.fulfillment))
    return order_reply{order_outcome::invalid_state, o, "fulfillment_is_" + std::string{to_string(o.fulfillment)}};
  auto to = stage == fulfillment_stage::delivered ? order_status::completed : o.status;
  auto type = stage == fulfillment_stage::delivered ? event_type_for(to)
                                                    : "fulfillment." + std::string{to_string(stage)};
  auto w = make_write(o, to, type, cmd.request_id,
                      json{{"stage", to_string(stage)}, {"detail", cmd.detail}}.dump());
  w.next.fulfillment = stage;
  return persist(self, std::move(w), order_outcome::ok);
}

void on_retry(order_self self) {
  auto& st = self->state;
  st.retry_armed = false;
  if (st.order.status == order_status::paying && now_us() < st.order.expires_at)
    request_open(self);
  for (const auto& r : st.pending_refunds)
    request_refund(self, r);
  load_pending_refunds(self, false); // also those a failed write left only in storage
}

void close_open_trade(order_self self, const std::string& out_trade_no) {
  call_gateway(self, close_trade{out_trade_no}, [=](const channel_reply& r) {
    if (r.outcome == channel_outcome::ok) {
      record_closed(self, out_trade_no);
      return;
    }
    // Refused (e.g. paid meanwhile) or no answer: ask for the truth, which
    // turns a late payment into an automatic refund. If that fails too, the
    // trade stays open in storage and the reconciler comes back to it.
    query_and_apply(self, out_trade_no);
  });
}

void load_pending_refunds(order_self self, bool required) {
  auto& st = self->state;
  auto s = st.order.status;
  if (s != order_status::paid && s != order_status::completed && s != order_status::refunded)
    return; // only paid orders can owe refunds
  // Awaited: a refund request must never see the order without the refunds
  // it already owes (it would offer their money a second time).
  self->request(st.ctx.writer, storage_timeout(self), refunds_atom_v, st.id)
    .await(
      [=](const std::vector<refund_row>& rows) {
        for (const auto& r : rows) {
          if (r.status != refund_status::pending)
            self->state.settled_refunds.insert(r.id);
          else
            queue_refund(self, r);
        }
      },
      [=](caf::error& err) {
        if (required) // activation: without them the order is not known
          self->quit(err);
        // else: the reconciler finds pending refunds in storage
      });
}

} // namespace payengine::order_detail
