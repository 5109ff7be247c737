// The order actor's side of payments: it feeds what the API, the channel
// and the timers say to the core (domain/order_decisions.hpp) and carries
// out the effects of its decisions: open, close and query trades, execute
// refunds. Every change is committed before anything is sent to the
// channel or answered (rule 1); channel work still owed is retried with
// back-off and, after a restart, re-driven from storage (rule 3).
#include "actors/order_internal.hpp"
#include "actors/channel_set.hpp"
#include "domain/wallet_decisions.hpp"

#include "config/logging.hpp"
#include "messages/errors.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace payengine::order_detail {

void arm_retry(order_self self) {
  auto& st = self->state;
  if (st.retry_armed)
    return;
  st.retry_armed = true;
  auto factor = 1u << std::min<uint32_t>(st.retry_round, 5);
  st.retry_round++;
  self->delayed_send(self,
                     std::chrono::milliseconds{st.ctx->settings.channel_retry_ms * factor},
                     retry_atom_v);
}

namespace {

using domain::effect;
using domain::effect_kind;

std::chrono::milliseconds channel_timeout(order_self self) {
  return std::chrono::milliseconds{self->state.ctx->settings.channel_timeout_ms};
}

/// Sends `req` to `channel`'s gateway; `on_reply` gets its answer, or
/// `unavailable` when none came in time (or the channel is not configured).
/// Counted, so that the actor does not passivate while a reply is due.
template <class Request, class OnReply>
void call_gateway(order_self self, const std::string& channel, Request req, OnReply on_reply) {
  auto& st = self->state;
  const auto* ch = st.ctx->channels ? st.ctx->channels->find(channel) : nullptr;
  if (!ch) {
    logging::warn("order.channel_not_configured", {{"order_id", st.id()}, {"channel", channel}});
    channel_reply none;
    none.reason = "channel_not_configured";
    on_reply(none);
    return;
  }
  st.channel_calls++;
  timed_request(self, st.ctx->timer, ch->gateway, channel_timeout(self), std::move(req))
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

/// The channel of an effect: its own, or (from before v1.1) the attempt's.
std::string channel_of(order_self self, const std::string& named) {
  return named.empty() ? attempt_channel(self->state.book().order) : named;
}

void open_trade_at_channel(order_self self, const std::string& otn, const std::string& channel) {
  auto& st = self->state;
  const auto& o = st.book().order;
  if (o.status != order_status::paying || st.opening_trade || domain::out_trade_no_of(o) != otn)
    return;
  const auto* ch = st.ctx->channels ? st.ctx->channels->find(channel) : nullptr;
  st.opening_trade = true;
  open_trade req{o.id, otn, o.amount, o.currency, o.subject, o.expires_at,
                 ch ? ch->notify_url : std::string{}};
  const auto attempt = o.payment.attempt;
  call_gateway(self, channel, std::move(req), [=](channel_reply r) {
    auto& st = self->state;
    st.opening_trade = false;
    if (r.outcome == channel_outcome::ok)
      st.retry_round = 0;
    if (r.outcome == channel_outcome::unavailable)
      st.open_in_doubt = attempt;
    else if ((r.outcome == channel_outcome::circuit_open
              || r.outcome == channel_outcome::rate_limited)
             && st.open_in_doubt == attempt) {
      // Not sent this time, but an earlier send of this trade got no
      // answer: its outcome is still unknown (an `auto` payment queries
      // before it moves on).
      r.outcome = channel_outcome::unavailable;
      r.reason = "in_doubt: " + r.reason;
    }
    act_into(self, std::nullopt, domain::trade_open_answer{otn, r});
  });
}

/// Asks the channel for the truth about one trade and applies it.
void query_trade_at_channel(order_self self, const std::string& otn, const std::string& channel,
                            bool before_switch) {
  call_gateway(self, channel, query_trade{otn, self->state.book().order.currency},
               [=](const channel_reply& r) {
                 if (r.outcome != channel_outcome::ok) {
                   arm_retry(self);
                   return;
                 }
                 if (self->state.current != order_state::phase::live)
                   return;
                 channel_event ev;
                 ev.order_id = self->state.id();
                 ev.channel = channel;
                 ev.out_trade_no = otn;
                 ev.state = static_cast<uint8_t>(r.state);
                 ev.amount = r.amount;
                 ev.channel_trade_no = r.channel_trade_no;
                 ev.paid_at = r.paid_at;
                 ev.trade_status = std::string{to_string(r.state)};
                 act_into(self, std::nullopt, domain::trade_reported{ev, before_switch});
               });
}

void close_trade_at_channel(order_self self, const std::string& otn, const std::string& channel,
                            bool before_switch) {
  call_gateway(self, channel, close_trade{otn}, [=](const channel_reply& r) {
    if (r.outcome == channel_outcome::ok) {
      act_into(self, std::nullopt, domain::trade_closed{otn, before_switch});
      return;
    }
    // Refused (e.g. paid meanwhile) or no answer: ask for the truth, which
    // turns a late payment into an automatic refund. If that fails too, the
    // trade stays open in storage and the reconciler comes back to it.
    query_trade_at_channel(self, otn, channel, before_switch);
  });
}

// --- wallets (balance payments, top-ups) ------------------------------------

std::chrono::milliseconds wallet_timeout(order_self self) {
  return 2 * storage_timeout(self);
}

/// Sends `op` to the wallets; `on_reply` gets the answer or the error.
/// Counted, so that the actor does not passivate while a reply is due.
template <class OnReply, class OnError>
void call_wallet(order_self self, wallet_op op, OnReply on_reply, OnError on_error) {
  auto& st = self->state;
  if (!st.ctx->wallets) {
    on_error(make_error(engine_error::overloaded, "no wallet registry"));
    return;
  }
  st.wallet_calls++;
  timed_request(self, st.ctx->timer, st.ctx->wallets, wallet_timeout(self), std::move(op))
    .await(
      [=](wallet_reply& r) mutable {
        self->state.wallet_calls--;
        on_reply(r);
      },
      [=](caf::error& err) mutable {
        self->state.wallet_calls--;
        on_error(err);
      });
}

wallet_op wallet_op_for(const order_record& o, wallet_op_kind kind, std::string wallet,
                        std::string transfer_id) {
  wallet_op op;
  op.wallet_id = std::move(wallet);
  op.kind = kind;
  op.transfer_id = std::move(transfer_id);
  op.amount = o.amount;
  op.currency = o.currency;
  op.order_id = o.id;
  return op;
}

/// The refusal a wallet's answer is for the order's client (nothing changed).
refusal_code refusal_of(wallet_outcome x, refusal_code insufficient) {
  switch (x) {
    case wallet_outcome::insufficient_funds: return insufficient;
    case wallet_outcome::not_found: return refusal_code::wallet_missing;
    case wallet_outcome::currency_mismatch: return refusal_code::currency_mismatch;
    default: return refusal_code::invalid_state;
  }
}

order_reply refused(const order_state& st, refusal_code code) {
  order_reply r{order_outcome::invalid_state, st.book().order};
  r.refusal = code;
  return r;
}

/// Posts the current attempt's reservation; the post (or its refusal) is
/// committed as the payment's outcome and answered to `rp`.
void post_reservation(order_self self, reply_to rp) {
  auto& st = self->state;
  const auto& o = st.book().order;
  if (o.status != order_status::paying || o.payment.method != "balance") {
    if (rp)
      rp->deliver(order_reply{order_outcome::ok, o});
    return;
  }
  auto attempt = o.payment.attempt;
  auto op = wallet_op_for(o, wallet_op_kind::post, o.payment.wallet, o.payment.channel_trade_no);
  call_wallet(
    self, std::move(op),
    [=](const wallet_reply& r) mutable {
      switch (r.outcome) {
        case wallet_outcome::ok:
        case wallet_outcome::already_posted:
          act_into(self, rp, domain::balance_settled{attempt, r.transfer});
          return;
        case wallet_outcome::voided:
        case wallet_outcome::unknown_transfer:
          act_into(self, rp, domain::balance_refused{attempt, "reservation_" + std::string{to_string(r.outcome)}});
          return;
        default:
          logging::error("order.wallet_refused_post", {{"order_id", self->state.id()},
                                                       {"outcome", to_string(r.outcome)}});
          if (rp)
            rp->deliver(order_reply{order_outcome::ok, self->state.book().order});
          arm_retry(self);
      }
    },
    [=](const caf::error&) mutable {
      // Unknown: the order stays paying and the post is tried again.
      if (rp)
        rp->deliver(order_reply{order_outcome::ok, self->state.book().order});
      arm_retry(self);
    });
}

/// The order ended unpaid: its reservation goes back. Posted already (an
/// earlier incarnation posted it and died before committing): the money
/// is the order's after all, and the core refunds it as a late payment.
void void_reservation(order_self self) {
  const auto& o = self->state.book().order;
  if (o.payment.method != "balance" || o.payment.channel_trade_no.empty())
    return;
  auto attempt = o.payment.attempt;
  auto op = wallet_op_for(o, wallet_op_kind::void_reservation, o.payment.wallet,
                          o.payment.channel_trade_no);
  call_wallet(
    self, std::move(op),
    [=](const wallet_reply& r) {
      if (r.outcome == wallet_outcome::already_posted)
        act_into(self, std::nullopt, domain::balance_settled{attempt, r.transfer});
    },
    [=](const caf::error&) { /* the wallet voids it at its timeout */ });
}

void credit_topup(order_self self) {
  const auto& o = self->state.book().order;
  auto op = wallet_op_for(o, wallet_op_kind::credit, o.topup_wallet,
                          domain::topup_transfer_id(o.id));
  op.merchant_id = o.merchant_id;
  op.type = transfer_type::topup;
  op.counterpart = clearing_account(attempt_channel(o), o.currency);
  call_wallet(
    self, std::move(op),
    [=](const wallet_reply& r) {
      if (r.outcome != wallet_outcome::ok)
        logging::error("order.topup_refused", {{"order_id", self->state.id()},
                                                {"wallet_id", self->state.book().order.topup_wallet},
                                                {"outcome", to_string(r.outcome)}});
    },
    [=](const caf::error&) { arm_retry(self); });
}

channel_reply reply_of(channel_outcome outcome, std::string reason = {}) {
  channel_reply r;
  r.outcome = outcome;
  r.reason = std::move(reason);
  return r;
}

void refund_to_channel(order_self self, const refund_row& r) {
  refund_trade req{r.out_trade_no, r.id, r.amount, self->state.book().order.currency, r.reason,
                   self->state.book().order.amount};
  auto id = r.id;
  call_gateway(self, channel_of(self, r.channel), std::move(req), [=](const channel_reply& rep) {
    act_into(self, std::nullopt, domain::refund_answer{id, rep});
  });
}

void execute_refund(order_self self, const refund_row& r) {
  const auto& o = self->state.book().order;
  auto id = r.id;
  if (o.payment.method == "balance") {
    // Back to the wallet it came from.
    auto op = wallet_op_for(o, wallet_op_kind::credit, o.payment.wallet,
                            domain::refund_transfer_id(r.id));
    op.amount = r.amount;
    op.type = transfer_type::refund;
    op.counterpart = merchant_account(o.merchant_id, o.currency);
    call_wallet(
      self, std::move(op),
      [=](const wallet_reply& w) {
        act_into(self, std::nullopt,
                 domain::refund_answer{id, w.outcome == wallet_outcome::ok
                                             ? reply_of(channel_outcome::ok)
                                             : reply_of(channel_outcome::rejected,
                                                        std::string{to_string(w.outcome)})});
      },
      [=](const caf::error&) {
        act_into(self, std::nullopt, domain::refund_answer{id, reply_of(channel_outcome::unavailable)});
      });
    return;
  }
  if (!o.topup_wallet.empty() && r.origin == refund_origin::merchant) {
    // A top-up's money is taken back from the wallet (reserved when the
    // refund was accepted) before the channel returns it.
    auto op = wallet_op_for(o, wallet_op_kind::post, o.topup_wallet,
                            domain::reversal_transfer_id(r.id));
    call_wallet(
      self, std::move(op),
      [=](const wallet_reply& w) {
        if (w.outcome == wallet_outcome::ok || w.outcome == wallet_outcome::already_posted) {
          refund_to_channel(self, r);
          return;
        }
        act_into(self, std::nullopt,
                 domain::refund_answer{id, reply_of(channel_outcome::rejected,
                                                    "wallet_reversal_" + std::string{to_string(w.outcome)})});
      },
      [=](const caf::error&) {
        act_into(self, std::nullopt, domain::refund_answer{id, reply_of(channel_outcome::unavailable)});
      });
    return;
  }
  refund_to_channel(self, r);
}

/// Owed from now on (committed as pending): executed once, answered once.
void owe_refund(order_self self, const refund_row& r) {
  auto& book = self->state.book();
  if (book.settled.count(r.id))
    return; // settled and committed: an older read of storage is not news
  auto& owed = book.owed;
  if (std::none_of(owed.begin(), owed.end(), [&](const auto& p) { return p.id == r.id; }))
    owed.push_back(r);
  execute_refund(self, r); // the channel dedups by the refund id
}

/// The refund is settled (committed): nothing more is owed for it.
void settle_refund(order_self self, const std::string& refund_id) {
  auto& book = self->state.book();
  book.settled.insert(refund_id);
  book.owed.erase(std::remove_if(book.owed.begin(), book.owed.end(),
                                 [&](const auto& p) { return p.id == refund_id; }),
                  book.owed.end());
}

} // namespace

void run_effects(order_self self, const std::vector<effect>& effects) {
  for (const auto& e : effects) {
    switch (e.kind) {
      case effect_kind::open_trade:
        open_trade_at_channel(self, e.out_trade_no, channel_of(self, e.channel));
        break;
      case effect_kind::close_trade:
        close_trade_at_channel(self, e.out_trade_no, channel_of(self, e.channel), e.before_switch);
        break;
      case effect_kind::query_trade:
        query_trade_at_channel(self, e.out_trade_no, channel_of(self, e.channel), e.before_switch);
        break;
      case effect_kind::execute_refund:
        owe_refund(self, e.refund);
        break;
      case effect_kind::refund_settled:
        settle_refund(self, e.refund.id);
        break;
      case effect_kind::retry_later:
        arm_retry(self);
        break;
      case effect_kind::post_reservation:
        post_reservation(self, std::nullopt);
        break;
      case effect_kind::void_reservation:
        void_reservation(self);
        break;
      case effect_kind::credit_topup:
        credit_topup(self);
        break;
      case effect_kind::alert:
        logging::error("refund.refused", {{"order_id", self->state.id()},
                                          {"refund_id", e.refund.id},
                                          {"origin", to_string(e.refund.origin)},
                                          {"reason", e.reason}});
        break;
    }
  }
}

namespace {

/// Pay from balance: the wallet reserves the amount first, so that a wallet
/// that does not hold it changes nothing (402); then `paying` is committed
/// with the reservation, then the reservation is posted and the order is
/// `paid` once that is committed. Every step is awaited: nothing else
/// happens to the order in between. A death in between is finished from
/// storage: `paying` by balance posts (work_due), an unpaid end voids, and
/// a reservation nobody committed is voided by its wallet at its timeout.
caf::result<order_reply> pay_from_balance(order_self self, const pay_order& cmd) {
  auto& st = self->state;
  const auto& o = st.book().order;
  auto reservation = new_id("trf", 32);
  domain::pay_requested in{cmd.request_id, "balance", cmd.wallet, reservation};
  // One time for both decisions: the payment is decided now, and the one
  // taken after the wallet's answer must be the same (a payment decided a
  // moment before expires_at must not turn into past_expiry while the
  // wallet reserves).
  const auto decided_at = now_us();
  auto d = domain::decide(st.book(), in, decided_at);
  if (d.is_refusal() || !d.write || !d.broken_invariant.empty())
    return act(self, in);
  auto op = wallet_op_for(o, wallet_op_kind::reserve, cmd.wallet, reservation);
  op.merchant_id = o.merchant_id;
  op.type = transfer_type::payment;
  op.counterpart = merchant_account(o.merchant_id, o.currency);
  op.timeout_at = now_us() + int64_t{st.ctx->settings.reservation_timeout_ms} * 1000;
  auto rp = self->make_response_promise<order_reply>();
  auto wallet = cmd.wallet;
  call_wallet(
    self, std::move(op),
    [=](const wallet_reply& r) mutable {
      auto& st = self->state;
      if (r.outcome != wallet_outcome::ok) {
        rp.deliver(refused(st, refusal_of(r.outcome, refusal_code::insufficient_funds)));
        return;
      }
      auto d = domain::decide(st.book(), in, decided_at);
      if (!d.write || d.is_refusal()) { // cannot happen: awaited since the first decision
        stop_on_invariant(self, reply_to{rp}, "pay decision changed while awaiting the wallet");
        return;
      }
      std::vector<domain::effect> rest;
      for (auto& e : d.effects)
        if (e.kind != domain::effect_kind::post_reservation)
          rest.push_back(std::move(e));
      reply_to answer = rp;
      persist_into(self, answer, std::move(*d.write), order_outcome::ok,
                   [rest, answer](order_self s) {
                     run_effects(s, rest);
                     post_reservation(s, answer);
                   },
                   {}, false);
    },
    [=](const caf::error& err) mutable {
      rp.deliver(err);
      // It may have been reserved: give it back now rather than at its timeout.
      auto& o = self->state.book().order;
      auto v = wallet_op_for(o, wallet_op_kind::void_reservation, wallet, reservation);
      caf::anon_send(self->state.ctx->wallets, std::move(v));
    });
  return rp;
}

} // namespace

caf::result<order_reply> on_pay(order_self self, const pay_order& cmd) {
  auto& st = self->state;
  if (!visible_to(st, cmd.merchant_id))
    return not_found();
  if (cmd.method == "balance")
    return pay_from_balance(self, cmd);
  domain::pay_requested in{cmd.request_id, "channel", {}, {}};
  refresh_routes(st);
  auto d = domain::decide(st.book(), in, now_us());
  if (d.is_refusal() || !d.write || !d.broken_invariant.empty())
    return act(self, in); // refused, or the same open trade: no channel needed
  // Fail fast, before anything is committed, while the attempt's channel is
  // down (its breaker open) or not configured: read from the gateways'
  // published health, no message needed.
  const auto& next = d.write->next;
  const auto channel = attempt_channel(next);
  if (!st.ctx->channels || !st.ctx->channels->find(channel))
    return make_error(engine_error::channel_unavailable, "channel not configured: " + channel);
  if (!st.ctx->channels->usable(channel))
    return make_error(engine_error::channel_unavailable, "circuit open: " + channel);
  return act(self, in);
}

caf::result<order_reply> on_channel_event(order_self self, const channel_event& ev) {
  if (self->state.current != phase::live)
    return not_found();
  return act(self, domain::trade_reported{ev});
}

caf::result<order_reply> on_reconcile(order_self self) {
  if (self->state.current != phase::live)
    return not_found();
  act_into(self, std::nullopt, domain::work_due{true});
  return order_reply{order_outcome::ok, self->state.book().order};
}

namespace {

/// A top-up's refund first reserves its amount in the wallet (409 when the
/// wallet no longer holds it, nothing changed); the reservation is posted
/// when the refund is executed. Others are decided at once.
void refund_now(order_self self, caf::typed_response_promise<order_reply> rp,
                const domain::refund_requested& in) {
  auto& st = self->state;
  const auto& o = st.book().order;
  auto d = domain::decide(st.book(), in, now_us());
  if (o.topup_wallet.empty() || !d.write || d.is_refusal() || !d.broken_invariant.empty()) {
    act_into(self, rp, in);
    return;
  }
  auto op = wallet_op_for(o, wallet_op_kind::reserve, o.topup_wallet,
                          domain::reversal_transfer_id(in.refund_id));
  op.amount = in.amount;
  op.type = transfer_type::topup_reversal;
  op.counterpart = clearing_account(attempt_channel(o), o.currency);
  op.timeout_at = now_us() + int64_t{st.ctx->settings.reservation_timeout_ms} * 1000;
  call_wallet(
    self, std::move(op),
    [=](const wallet_reply& r) mutable {
      if (r.outcome != wallet_outcome::ok) {
        rp.deliver(refused(self->state, refusal_of(r.outcome, refusal_code::reversal_insufficient)));
        return;
      }
      act_into(self, rp, in);
    },
    [=](const caf::error& err) mutable { rp.deliver(err); });
}

} // namespace

/// Refund part of a paid order: the sum of merchant refunds that did not
/// fail never exceeds the amount, because this actor sees every refund of
/// its order. A refund id named by the request (from its Idempotency-Key)
/// that exists already answers that refund: the request ran before, its
/// answer was lost.
caf::result<order_reply> on_refund(order_self self, const refund_order& cmd) {
  auto& st = self->state;
  if (!visible_to(st, cmd.merchant_id))
    return not_found();
  domain::refund_requested in{cmd.amount, cmd.reason, cmd.refund_id, cmd.request_id};
  if (cmd.refund_id.empty()) {
    in.refund_id = new_id("rfd");
    if (st.book().order.topup_wallet.empty())
      return act(self, in);
    auto rp = self->make_response_promise<order_reply>();
    refund_now(self, rp, in);
    return rp;
  }
  // Stored ones too (succeeded or failed): awaited, so that nothing else
  // happens to this order in between.
  auto rp = self->make_response_promise<order_reply>();
  timed_request(self, st.ctx->timer, st.ctx->writer, storage_timeout(self), refunds_atom_v, st.id())
    .await(
      [self, in, rp](const std::vector<refund_row>& rows) mutable {
        for (const auto& r : rows) {
          if (r.id != in.refund_id)
            continue;
          if (r.status != refund_status::pending)
            self->state.book().settled.insert(r.id);
          else
            owe_refund(self, r); // committed, so owed (and now known)
        }
        refund_now(self, rp, in);
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

void on_retry(order_self self) {
  self->state.retry_armed = false;
  act_into(self, std::nullopt, domain::work_due{false});
  load_pending_refunds(self, false); // also those a failed write left only in storage
}

void load_pending_refunds(order_self self, bool required) {
  auto& st = self->state;
  auto s = st.book().order.status;
  if (s != order_status::paid && s != order_status::completed && s != order_status::refunded)
    return; // only paid orders can owe refunds
  // Awaited: a refund request must never see the order without the refunds
  // it already owes (it would offer their money a second time).
  timed_request(self, st.ctx->timer, st.ctx->writer, storage_timeout(self), refunds_atom_v, st.id())
    .await(
      [=](const std::vector<refund_row>& rows) {
        for (const auto& r : rows) {
          if (r.status != refund_status::pending)
            self->state.book().settled.insert(r.id);
          else
            owe_refund(self, r);
        }
      },
      [=](caf::error& err) {
        if (required) // activation: without them the order is not known
          stop(self, err);
        // else: the reconciler finds pending refunds in storage
      });
}

} // namespace payengine::order_detail
