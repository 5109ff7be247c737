#include "actors/order.hpp"

#include "actors/order_internal.hpp"
#include "actors/channel_set.hpp"
#include "actors/read_cache.hpp"
#include "config/logging.hpp"
#include "messages/errors.hpp"
#include "messages/ids.hpp"
#include "messages/order_json.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <set>

namespace payengine {
namespace order_detail {

std::chrono::milliseconds storage_timeout(order_self self) {
  return std::chrono::milliseconds{self->state.ctx->settings.storage_timeout_ms};
}

bool visible_to(const order_state& st, const std::string& merchant_id) {
  return st.current == phase::live
         && (merchant_id.empty() || st.book().order.merchant_id == merchant_id);
}

order_reply not_found() {
  return {order_outcome::not_found, {}};
}

bool owes_work(const order_state& st) {
  return !st.watchers.empty() || st.channel_calls > 0 || st.wallet_calls > 0 || st.retry_armed
         || st.opening_trade || !st.book().owed.empty();
}

namespace {

void touch(order_self self) {
  self->state.last_active = std::chrono::steady_clock::now();
}

// --- after a commit ---------------------------------------------------------

void answer_watchers(order_self self) {
  auto& st = self->state;
  auto ready = std::stable_partition(
    st.watchers.begin(), st.watchers.end(),
    [&](const auto& w) { return w.after_version >= st.book().order.version; });
  for (auto i = ready; i != st.watchers.end(); ++i)
    i->promise.deliver(order_reply{order_outcome::ok, st.book().order});
  st.watchers.erase(ready, st.watchers.end());
}

/// A precise timer for an order about to expire. Armed when the expiry
/// sweeper says the time is near (it sends expire_order to every order
/// that expires before its next sweep, live or not), not for every live
/// order: a pending timer costs an actor about 200 bytes (issue 15).
void arm_expiry(order_self self) {
  auto& st = self->state;
  if (st.expiry_armed || !expirable(st.book().order.status))
    return;
  auto delay_us = std::max<int64_t>(0, st.book().order.expires_at - now_us());
  st.expiry_armed = true;
  self->delayed_send(self, std::chrono::microseconds{delay_us}, expiry_atom_v);
}

void become_live(order_self self, order_record committed) {
  auto& st = self->state;
  st.current = phase::live;
  st.book().order = std::move(committed);
  // Before anyone is answered: a read after a 2xx shows the write.
  if (const auto& reads = st.ctx->reads)
    reads->refresh(st.book().order, self->id());
  answer_watchers(self);
}

void log_transition(order_status before, int64_t before_version,
                    const order_record& after, const std::string& request_id) {
  if (!logging::enabled(logging::level::info))
    return;
  nlohmann::json fields = {{"order_id", after.id},
                           {"merchant_id", after.merchant_id},
                           {"to", to_string(after.status)},
                           {"version", after.version},
                           {"request_id", request_id}};
  if (before_version == 0) {
    fields["amount"] = after.amount;
    fields["currency"] = after.currency;
    logging::info("order.created", std::move(fields));
    return;
  }
  fields["from"] = to_string(before);
  logging::info("order.transition", std::move(fields));
}

} // namespace

namespace {

/// What a write will tell the inspector once committed: one entry per
/// event row (a transition when the status moves, else a plain event).
std::vector<actor_event> describe_for_inspector(order_self self, const transition_write& w) {
  std::vector<actor_event> out;
  if (!self->state.ctx->inspector)
    return out;
  for (const auto& e : w.events) {
    actor_event a;
    bool moves = !e.has_from || e.from != e.to;
    a.kind = moves && !w.record_only ? actor_event_kind::transition : actor_event_kind::event;
    a.order_id = e.order_id;
    a.actor_id = std::to_string(self->id());
    a.type = e.type;
    a.from = e.has_from ? std::string{to_string(e.from)} : std::string{};
    a.to = std::string{to_string(e.to)};
    a.version = e.seq;
    a.amount = w.next.amount;
    a.currency = w.next.currency;
    a.request_id = e.request_id;
    a.shard = self->state.ctx->shard;
    a.at = e.at;
    out.push_back(std::move(a));
  }
  return out;
}

} // namespace

void stop(order_self self, caf::error reason) {
  // What it kept for reads goes now, not when its registry hears of the
  // stop: after a write in doubt the row is reloaded by the successor.
  if (const auto& reads = self->state.ctx->reads)
    reads->forget(self->state.id(), self->id());
  // Sent before quitting: anything routed after this is held by the
  // registry (the idle handshake, answered by nobody now).
  self->send(self->state.ctx->registry, idle_atom_v, self->state.id());
  self->quit(std::move(reason));
}

void persist_into(order_self self, reply_to rp, transition_write w,
                  order_outcome on_success, after_commit_fn after_commit,
                  std::string created_id, bool answer_success) {
  auto answer = [rp](auto&& x) mutable {
    if (rp)
      rp->deliver(std::forward<decltype(x)>(x));
  };
  auto next = w.next;
  auto record_only = w.record_only;
  auto request_id = w.events.empty() ? std::string{} : w.events.front().request_id;
  auto told = describe_for_inspector(self, w);
  timed_request(self, self->state.ctx->timer, self->state.ctx->writer, storage_timeout(self), std::move(w))
    .await(
      [=](const write_result& r) mutable {
        auto& st = self->state;
        if (r.duplicate) {
          order_reply dup{order_outcome::duplicate, {}};
          dup.order.id = r.existing_order_id;
          answer(std::move(dup));
          stop(self); // the order this actor was spawned for does not exist
          return;
        }
        if (!r.applied) { // rule 2: another writer moved the row
          logging::error("order.version_conflict",
                         {{"order_id", next.id}, {"version", next.version - 1}});
          answer(make_error(engine_error::version_conflict));
          stop(self, make_error(engine_error::version_conflict));
          return;
        }
        if (!record_only) {
          auto before = st.book().order.status;
          auto before_version = st.book().order.version;
          become_live(self, std::move(next));
          log_transition(before, before_version, st.book().order, request_id);
        }
        for (auto& e : told)
          self->send(st.ctx->inspector, std::move(e));
        if (answer_success)
          answer(order_reply{on_success, st.book().order, created_id});
        if (after_commit)
          after_commit(self);
      },
      [=](caf::error& err) mutable {
        answer(err);
        if (self->state.current == phase::fresh) {
          stop(self); // nothing stored; the next request starts afresh
          return;
        }
        if (err == engine_error::invariant_broken) // storage refused a write as impossible
          logging::error("order.invariant_broken", {{"order_id", self->state.id()},
                                                    {"what", to_string(err)}});
        // A timeout, a broken COMMIT or a broken invariant leaves the row
        // unknown or suspect: reload it from storage. Unavailable or a full
        // queue: nothing was stored.
        if (err != engine_error::storage_unavailable && err != engine_error::overloaded) {
          stop(self, err);
          return;
        }
        // Nothing was stored. Work started by the channel (not by a client,
        // who sees the error and retries) is picked up again from storage,
        // with back-off (the database may be down for a while).
        if (!rp)
          arm_retry(self);
      });
}

namespace {

void stop_on_broken_invariant(order_self self, reply_to rp, const std::string& what) {
  logging::error("order.invariant_broken", {{"order_id", self->state.id()}, {"what", what}});
  auto err = make_error(engine_error::invariant_broken, what);
  if (rp)
    rp->deliver(err);
  stop(self, err); // the registry restarts the order from storage
}

order_reply refusal_reply(const order_state& st, const domain::decision& d) {
  order_reply r{order_outcome::invalid_state, st.book().order};
  r.refusal = d.refused;
  r.refundable = d.refundable;
  return r;
}

} // namespace

void stop_on_invariant(order_self self, reply_to rp, const std::string& what) {
  stop_on_broken_invariant(self, std::move(rp), what);
}

void refresh_routes(order_state& st) {
  if (st.book().order.channel == "auto" && st.ctx->channels)
    st.book().routes = st.ctx->channels->routes();
  else
    st.book().routes.clear();
}

void act_into(order_self self, reply_to rp, const domain::order_input_event& input) {
  auto& st = self->state;
  refresh_routes(st);
  auto d = domain::decide(st.book(), input, now_us());
  if (!d.broken_invariant.empty()) {
    stop_on_broken_invariant(self, rp, d.broken_invariant);
    return;
  }
  if (d.is_refusal()) {
    if (rp)
      rp->deliver(refusal_reply(st, d));
    // Past expires_at, and neither its timer nor the sweeper (behind a
    // burst) has recorded the expiry yet: record it now, as the refusal
    // says, instead of leaving a payable-looking order until they come.
    if (d.refused == refusal_code::past_expiry)
      act_into(self, std::nullopt, domain::expiry_due{});
    return;
  }
  if (!d.write) {
    if (rp)
      rp->deliver(order_reply{d.on_success, st.book().order, d.created_id});
    run_effects(self, d.effects);
    return;
  }
  after_commit_fn after;
  if (!d.effects.empty())
    after = [effects = std::move(d.effects)](order_self s) { run_effects(s, effects); };
  persist_into(self, std::move(rp), std::move(*d.write), d.on_success, std::move(after),
               d.created_id);
}

caf::result<order_reply> act(order_self self, const domain::order_input_event& input) {
  auto* current = self->current_mailbox_element();
  if (!current || !current->mid.is_request()) {
    act_into(self, std::nullopt, input);
    return order_reply{order_outcome::ok, self->state.book().order}; // nobody reads it
  }
  auto rp = self->make_response_promise<order_reply>();
  act_into(self, rp, input);
  return rp;
}

namespace {

// --- command handlers ----------------------------------------------------------

caf::result<order_reply> on_create(order_self self, create_order& cmd) {
  auto& st = self->state;
  if (st.current != phase::fresh || cmd.draft.id != st.id())
    return make_error(engine_error::invariant_broken, "create on an existing order");
  transition_write w;
  w.expected_version = 0;
  w.next = std::move(cmd.draft);
  order_event_row e;
  e.order_id = st.id();
  e.seq = w.next.version;
  e.type = "order.created";
  e.to = w.next.status;
  e.at = w.next.created_at;
  e.request_id = cmd.request_id;
  w.events.push_back(std::move(e));
  auto rp = self->make_response_promise<order_reply>();
  persist_into(self, rp, std::move(w), order_outcome::created);
  return rp;
}

caf::result<order_reply> on_watch(order_self self, const watch_order& cmd) {
  auto& st = self->state;
  if (!visible_to(st, cmd.merchant_id))
    return not_found();
  if (st.book().order.version > cmd.after_version || cmd.timeout_ms == 0)
    return order_reply{order_outcome::ok, st.book().order};
  auto rp = self->make_response_promise<order_reply>();
  auto id = st.next_watcher_id++;
  st.watchers.push_back({id, cmd.after_version, cmd.merchant_id, rp});
  std::chrono::milliseconds wait{cmd.timeout_ms};
  if (st.ctx->timer) // off CAF's clock thread: one long poll per waiting client
    st.ctx->timer->send_later(wait, self->address(), caf::make_message(unwatch_atom_v, id));
  else
    self->delayed_send(self, wait, unwatch_atom_v, id);
  return rp;
}

void on_unwatch(order_self self, uint64_t id) {
  auto& st = self->state;
  auto i = std::find_if(st.watchers.begin(), st.watchers.end(),
                        [id](const auto& w) { return w.id == id; });
  if (i == st.watchers.end())
    return;
  i->promise.deliver(order_reply{order_outcome::ok, st.book().order});
  st.watchers.erase(i);
}

/// Expires the order if its time has come, else makes sure a timer will.
caf::result<order_reply> on_expire(order_self self) {
  auto& st = self->state;
  if (st.current != phase::live)
    return not_found();
  auto result = act(self, domain::expiry_due{});
  arm_expiry(self);
  return result;
}

/// The registry asks: nothing was routed here for an idle time. The actor
/// goes (through the registry's handshake) unless it owes work that would
/// die with it; then it stays quiet and is asked again an idle time later.
void on_idle_check(order_self self) {
  auto& st = self->state;
  if (!owes_work(st))
    self->send(st.ctx->registry, idle_atom_v, st.id());
}

order_actor_info describe(order_self self) {
  auto& st = self->state;
  order_actor_info info;
  info.order_id = st.id();
  info.live = true;
  info.loaded = st.current == phase::live;
  if (info.loaded) {
    info.status = std::string{to_string(st.book().order.status)};
    info.version = st.book().order.version;
  }
  info.watchers = static_cast<uint32_t>(st.watchers.size());
  info.idle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - st.last_active)
                   .count();
  info.actor_id = std::to_string(self->id());
  info.mailbox_depth = self->mailbox().size();
  return info;
}

void load_from_storage(order_self self) {
  auto& st = self->state;
  timed_request(self, st.ctx->timer, st.ctx->writer, storage_timeout(self), load_atom_v, st.id())
    .await(
      [=](std::vector<order_record>& rows) {
        if (rows.empty()) {
          // No such order: answer what is queued with not_found and go
          // (through the registry's handshake, which holds what comes
          // meanwhile), rather than occupy a live slot until idle.
          self->state.current = phase::missing;
          self->send(self->state.ctx->registry, idle_atom_v, self->state.id());
          return;
        }
        become_live(self, std::move(rows.front()));
        // A top-up paid before a crash may not have reached its wallet: ask
        // again (found by its id if it did).
        if (domain::topup_credit_owed(self->state.book().order))
          run_effects(self, {domain::effect{domain::effect_kind::credit_topup,
                                            domain::out_trade_no_of(self->state.book().order), {}, {}, {},
                                            false}});
        load_pending_refunds(self, true);
      },
      [=](caf::error& err) {
        logging::warn("order.load_failed",
                      {{"order_id", self->state.id()}, {"error", to_string(err)}});
        stop(self, err);
      });
}

} // namespace
} // namespace order_detail

namespace order_detail {
namespace {

thread_local order_self running_now = nullptr;

/// The actor the shared behavior is running for (see order_actor_impl).
order_self running() {
  return running_now;
}

/// Built once: every handler asks running() for its actor.
order_actor::behavior_type shared_behavior() {
  return {
    [](create_order& cmd) -> caf::result<order_reply> {
      auto self = running();
      touch(self);
      return on_create(self, cmd);
    },
    [](const get_order& cmd) -> caf::result<order_reply> {
      auto self = running();
      touch(self);
      if (!visible_to(self->state, cmd.merchant_id))
        return not_found();
      // The next reads of the order are answered without this actor,
      // until its next commit refreshes what is kept (become_live).
      if (const auto& reads = self->state.ctx->reads)
        reads->offer(self->state.book().order, self->id());
      return order_reply{order_outcome::ok, self->state.book().order};
    },
    [](const watch_order& cmd) -> caf::result<order_reply> {
      auto self = running();
      touch(self);
      return on_watch(self, cmd);
    },
    [](const cancel_order& cmd) -> caf::result<order_reply> {
      auto self = running();
      touch(self);
      if (!visible_to(self->state, cmd.merchant_id))
        return not_found();
      return act(self, domain::cancel_requested{cmd.request_id});
    },
    [](const expire_order&) -> caf::result<order_reply> { return on_expire(running()); },
    [](const pay_order& cmd) -> caf::result<order_reply> {
      auto self = running();
      touch(self);
      return on_pay(self, cmd);
    },
    [](const channel_event& ev) -> caf::result<order_reply> {
      auto self = running();
      touch(self);
      return on_channel_event(self, ev);
    },
    [](const reconcile_order&) -> caf::result<order_reply> { return on_reconcile(running()); },
    [](const refund_order& cmd) -> caf::result<order_reply> {
      auto self = running();
      touch(self);
      return on_refund(self, cmd);
    },
    [](const fulfill_order& cmd) -> caf::result<order_reply> {
      auto self = running();
      touch(self);
      if (!visible_to(self->state, cmd.merchant_id))
        return not_found();
      return act(self, domain::fulfillment_reported{static_cast<fulfillment_stage>(cmd.stage),
                                                     cmd.detail, cmd.request_id});
    },
    [](const inspect_order&) -> order_actor_info { return describe(running()); },
    [](passivate_atom) {
      auto self = running();
      if (!owes_work(self->state)) {
        self->quit();
        return;
      }
      // Not now: the registry takes it back, replays what it held and asks
      // again an idle time later.
      self->send(self->state.ctx->registry, keep_atom_v, self->state.id());
    },
    [](idle_atom) { on_idle_check(running()); },
    [](expiry_atom) {
      auto self = running();
      self->state.expiry_armed = false;
      if (self->state.current == phase::live)
        on_expire(self);
    },
    [](unwatch_atom, uint64_t watcher_id) { on_unwatch(running(), watcher_id); },
    [](retry_atom) { on_retry(running()); },
  };
}

} // namespace
} // namespace order_detail

order_actor_impl::order_actor_impl(caf::actor_config& cfg, std::string id,
                                   std::shared_ptr<const order_context> ctx, bool load_from_storage)
    : super(cfg), load_(load_from_storage) {
  state.book().order.id = std::move(id);
  state.ctx = std::move(ctx);
}

caf::invoke_message_result order_actor_impl::consume(caf::mailbox_element& x) {
  struct running_scope {
    order_self before = order_detail::running_now;
    explicit running_scope(order_self self) { order_detail::running_now = self; }
    ~running_scope() { order_detail::running_now = before; }
  } scope{this};
  if (!state.book_ && !wake_up()) {
    // Left in the mailbox: it bounces unprocessed when the actor is gone,
    // and the HTTP bridge sends it again, to the successor.
    return caf::invoke_message_result::skipped;
  }
  auto result = super::consume(x);
  if (may_hibernate())
    hibernate();
  return result;
}

bool order_actor_impl::may_hibernate() {
  const auto& book = *state.book_;
  // Only the row is kept: refunds owed or settled and routes stay awake
  // (rare, and short-lived). A message waiting: it would wake it at once.
  return state.current == order_detail::phase::live && book.owed.empty() && book.settled.empty()
         && book.routes.empty() && mailbox().empty()
         && !getf(abstract_actor::is_terminated_flag);
}

void order_actor_impl::hibernate() {
  state.hibernated = to_bytes(state.book_->order);
  if (state.hibernated.empty()) {
    // Nothing is lost: the actor stays awake.
    logging::error("order.hibernate_failed", {{"order_id", state.id()}});
    return;
  }
  state.book_.reset();
}

bool order_actor_impl::wake_up() {
  auto book = std::make_unique<domain::order_book>();
  if (!from_bytes(state.hibernated, book->order)) {
    // Our own bytes do not read back: a bug. The row is in storage: the
    // registry restarts the order from there.
    logging::error("order.invariant_broken", {{"actor_id", std::to_string(id())},
                                              {"what", "a hibernated order does not read back"}});
    state.book_ = std::move(book); // empty: the exit handler needs none
    quit(make_error(engine_error::invariant_broken, "hibernated order unreadable"));
    return false;
  }
  state.book_ = std::move(book);
  std::vector<char>{}.swap(state.hibernated);
  return true;
}

order_actor_impl::behavior_type order_actor_impl::make_behavior() {
  using namespace order_detail;
  order_self self = this;
  touch(self);
  if (load_)
    load_from_storage(self);
  set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& w : self->state.watchers)
      w.promise.deliver(make_error(engine_error::overloaded, "order actor stopped"));
    self->state.watchers.clear();
    self->quit(msg.reason);
  });
  static const behavior_type shared = shared_behavior();
  return shared;
}

} // namespace payengine
