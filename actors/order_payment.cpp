// The order actor's side of payments: it feeds what the API, the channel
// and the timers say to the core (domain/order_decisions.hpp) and carries
// out the effects of its decisions: open, close and query trades, execute
// refunds. Every change is committed before anything is sent to the
// channel or answered (rule 1); channel work still owed is retried with
// back-off and, after a restart, re-driven from storage (rule 3).
#include "actors/order_internal.hpp"

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
                     std::chrono::milliseconds{st.ctx.settings.channel_retry_ms * factor},
                     retry_atom_v);
}

namespace {

using domain::effect;
using domain::effect_kind;

std::chrono::milliseconds channel_timeout(order_self self) {
  return std::chrono::milliseconds{self->state.ctx.settings.channel_timeout_ms};
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

void open_trade_at_channel(order_self self, const std::string& otn) {
  auto& st = self->state;
  const auto& o = st.book.order;
  if (o.status != order_status::paying || st.opening_trade || !st.ctx.gateway
      || domain::out_trade_no_of(o) != otn)
    return;
  st.opening_trade = true;
  open_trade req{o.id, otn, o.amount, o.currency, o.subject, o.expires_at, st.ctx.notify_url};
  call_gateway(self, std::move(req), [=](const channel_reply& r) {
    self->state.opening_trade = false;
    if (r.outcome == channel_outcome::ok)
      self->state.retry_round = 0;
    act_into(self, std::nullopt, domain::trade_open_answer{otn, r});
  });
}

/// Asks the channel for the truth about one trade and applies it.
void query_trade_at_channel(order_self self, const std::string& otn) {
  call_gateway(self, query_trade{otn, self->state.book.order.currency},
               [=](const channel_reply& r) {
                 if (r.outcome != channel_outcome::ok) {
                   arm_retry(self);
                   return;
                 }
                 channel_event ev;
                 ev.order_id = self->state.id;
                 ev.channel = self->state.book.order.channel;
                 ev.out_trade_no = otn;
                 ev.state = static_cast<uint8_t>(r.state);
                 ev.amount = r.amount;
                 ev.channel_trade_no = r.channel_trade_no;
                 ev.paid_at = r.paid_at;
                 ev.trade_status = std::string{to_string(r.state)};
                 on_channel_event(self, ev);
               });
}

void close_trade_at_channel(order_self self, const std::string& otn) {
  call_gateway(self, close_trade{otn}, [=](const channel_reply& r) {
    if (r.outcome == channel_outcome::ok) {
      act_into(self, std::nullopt, domain::trade_closed{otn});
      return;
    }
    // Refused (e.g. paid meanwhile) or no answer: ask for the truth, which
    // turns a late payment into an automatic refund. If that fails too, the
    // trade stays open in storage and the reconciler comes back to it.
    query_trade_at_channel(self, otn);
  });
}

void execute_refund(order_self self, const refund_row& r) {
  refund_trade req{r.out_trade_no, r.id, r.amount, self->state.book.order.currency, r.reason};
  auto id = r.id;
  call_gateway(self, std::move(req), [=](const channel_reply& rep) {
    act_into(self, std::nullopt, domain::refund_answer{id, rep});
  });
}

/// Owed from now on (committed as pending): executed once, answered once.
void owe_refund(order_self self, const refund_row& r) {
  auto& book = self->state.book;
  if (book.settled.count(r.id))
    return; // settled and committed: an older read of storage is not news
  auto& owed = book.owed;
  if (std::none_of(owed.begin(), owed.end(), [&](const auto& p) { return p.id == r.id; }))
    owed.push_back(r);
  execute_refund(self, r); // the channel dedups by the refund id
}

/// The refund is settled (committed): nothing more is owed for it.
void settle_refund(order_self self, const std::string& refund_id) {
  auto& book = self->state.book;
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
        open_trade_at_channel(self, e.out_trade_no);
        break;
      case effect_kind::close_trade:
        close_trade_at_channel(self, e.out_trade_no);
        break;
      case effect_kind::query_trade:
        query_trade_at_channel(self, e.out_trade_no);
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
      case effect_kind::alert:
        logging::error("refund.refused", {{"order_id", self->state.id},
                                          {"refund_id", e.refund.id},
                                          {"origin", to_string(e.refund.origin)},
                                          {"reason", e.reason}});
        break;
    }
  }
}

caf::result<order_reply> on_pay(order_self self, const pay_order& cmd) {
  auto& st = self->state;
  if (!visible_to(st, cmd.merchant_id))
    return not_found();
  auto d = domain::decide(st.book, domain::pay_requested{cmd.request_id}, now_us());
  if (d.is_refusal() || !d.write) // refused, or the same open trade: no channel needed
    return act(self, domain::pay_requested{cmd.request_id});
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
        act_into(self, rp, domain::pay_requested{request_id});
      },
      [=](caf::error& err) mutable { rp.deliver(err); });
  return rp;
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
  return order_reply{order_outcome::ok, self->state.book.order};
}

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
    return act(self, in);
  }
  // Stored ones too (succeeded or failed): awaited, so that nothing else
  // happens to this order in between.
  auto rp = self->make_response_promise<order_reply>();
  self->request(st.ctx.writer, storage_timeout(self), refunds_atom_v, st.id)
    .await(
      [self, in, rp](const std::vector<refund_row>& rows) mutable {
        for (const auto& r : rows) {
          if (r.id != in.refund_id)
            continue;
          if (r.status != refund_status::pending)
            self->state.book.settled.insert(r.id);
          else
            owe_refund(self, r); // committed, so owed (and now known)
        }
        act_into(self, rp, in);
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
  auto s = st.book.order.status;
  if (s != order_status::paid && s != order_status::completed && s != order_status::refunded)
    return; // only paid orders can owe refunds
  // Awaited: a refund request must never see the order without the refunds
  // it already owes (it would offer their money a second time).
  self->request(st.ctx.writer, storage_timeout(self), refunds_atom_v, st.id)
    .await(
      [=](const std::vector<refund_row>& rows) {
        for (const auto& r : rows) {
          if (r.status != refund_status::pending)
            self->state.book.settled.insert(r.id);
          else
            owe_refund(self, r);
        }
      },
      [=](caf::error& err) {
        if (required) // activation: without them the order is not known
          self->quit(err);
        // else: the reconciler finds pending refunds in storage
      });
}

} // namespace payengine::order_detail
