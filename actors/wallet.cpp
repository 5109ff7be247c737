#include "actors/wallet.hpp"
#include "actors/request_timer.hpp"

#include "config/logging.hpp"
#include "messages/errors.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <set>

namespace payengine {

namespace {

using phase = wallet_state::phase;
using queued_op = wallet_state::queued_op;

std::chrono::milliseconds storage_timeout(wallet_self self) {
  return std::chrono::milliseconds{self->state.ctx.settings.storage_timeout_ms};
}

void pump(wallet_self self);

void answer(wallet_self self, queued_op& q, wallet_reply r) {
  auto& c = *self->state.ctx.counters;
  c.ops++;
  if (r.outcome == wallet_outcome::insufficient_funds
      || r.outcome == wallet_outcome::currency_mismatch)
    c.refused++;
  if (q.promise)
    q.promise->deliver(std::move(r));
}

void fail(queued_op& q, const caf::error& err) {
  if (q.promise)
    q.promise->deliver(err);
}

void fail_all(wallet_self self, const caf::error& err) {
  auto& st = self->state;
  for (auto& q : st.queue)
    fail(q, err);
  st.ctx.counters->queued -= static_cast<int64_t>(st.queue.size());
  st.queue.clear();
}

void stop_on_broken_invariant(wallet_self self, const std::string& what) {
  logging::error("wallet.invariant_broken", {{"wallet_id", self->state.id}, {"what", what}});
  auto err = make_error(engine_error::invariant_broken, what);
  fail_all(self, err);
  self->quit(err);
}

void arm_timer(wallet_self self) {
  auto& st = self->state;
  auto first = domain::next_timeout(st.book);
  if (first == 0 || (st.timer_at != 0 && st.timer_at <= first))
    return;
  st.timer_at = first;
  // A reservation already past its timeout (its void is queued, or failed)
  // is looked at again after a second, not in a loop. The timer may fire a
  // little early by the wall clock: a millisecond more.
  auto now = now_us();
  auto delay = first > now ? first - now + 1'000 : 1'000'000;
  self->delayed_send(self, std::chrono::microseconds{delay}, reservation_atom_v);
}

/// What the book knows of transfers found in storage.
void learn(domain::wallet_book& book, const std::vector<transfer_row>& found) {
  for (const auto& t : found) {
    switch (t.phase) {
      case transfer_phase::single: book.ended[t.id] = t; break;
      case transfer_phase::pending: break; // open ones come with the snapshot's `pending`
      case transfer_phase::post:
      case transfer_phase::void_pending:
        book.pending.erase(t.pending_id);
        book.ended[t.pending_id] = t;
        break;
    }
  }
}

/// Reads the wallet (and the transfers `named`) from storage, then goes on
/// with the queue. A failure ends the actor: its successor starts afresh.
void load(wallet_self self, std::vector<std::string> named) {
  auto& st = self->state;
  st.busy = true;
  timed_request(self, st.ctx.timer, st.ctx.writer, storage_timeout(self), wallet_atom_v, st.id, std::move(named))
    .then(
      [=](wallet_snapshot& s) {
        auto& st = self->state;
        st.busy = false;
        if (s.wallet.empty()) {
          // No such wallet: answer what is queued with not_found and go,
          // through the registry (which forgets this actor first).
          st.current = phase::missing;
          self->send(st.ctx.registry, idle_atom_v, st.id);
          pump(self);
          return;
        }
        st.book.wallet = std::move(s.wallet.front());
        st.book.pending.clear();
        for (auto& t : s.pending)
          st.book.pending[t.id] = std::move(t);
        learn(st.book, s.found);
        st.current = phase::live;
        arm_timer(self);
        pump(self);
      },
      [=](caf::error& err) {
        logging::warn("wallet.load_failed", {{"wallet_id", self->state.id}, {"error", to_string(err)}});
        fail_all(self, err);
        self->quit(err);
      });
}

/// The batch in flight: each operation with its answer, known once committed.
struct batch_entry {
  queued_op op;
  wallet_reply reply;
};

/// The book holds the batch's decisions already (applied in place, not
/// copied); `ended` is only a cache. Whatever went wrong, the book is read
/// again from storage before anything else is decided.
void forget_uncommitted(wallet_self self) {
  self->state.book.ended.clear();
}

/// Beyond this, the cache of ended transfers starts afresh.
constexpr size_t ended_cache_max = 20'000;

void write(wallet_self self, std::shared_ptr<std::vector<batch_entry>> batch, ledger_write w) {
  auto& st = self->state;
  st.busy = true;
  auto next_version = w.next.version;
  timed_request(self, st.ctx.timer, st.ctx.writer, storage_timeout(self), std::move(w))
    .then(
      [=](const ledger_result& r) mutable {
        auto& st = self->state;
        st.busy = false;
        if (!r.applied) {
          // Found done before, or moved by another writer: learn what
          // storage holds and decide the same operations again.
          st.ctx.counters->conflicts++;
          if (++st.reloads > 5) {
            stop_on_broken_invariant(self, "wallet " + st.id + " keeps conflicting");
            return;
          }
          for (auto i = batch->rbegin(); i != batch->rend(); ++i)
            st.queue.push_front(std::move(i->op));
          st.ctx.counters->queued += static_cast<int64_t>(batch->size());
          std::vector<std::string> named;
          for (const auto& t : r.existing)
            named.push_back(t.id);
          logging::info("wallet.conflict", {{"wallet_id", st.id}, {"found", named.size()}});
          forget_uncommitted(self);
          load(self, std::move(named));
          return;
        }
        st.reloads = 0;
        st.book.wallet.version = next_version;
        if (st.book.ended.size() > ended_cache_max)
          st.book.ended.clear();
        auto& c = *st.ctx.counters;
        c.writes++;
        auto n = static_cast<uint64_t>(batch->size());
        for (auto seen = c.max_batch.load(); n > seen && !c.max_batch.compare_exchange_weak(seen, n);) {
        }
        for (auto& e : *batch) {
          e.reply.wallet.version = st.book.wallet.version;
          answer(self, e.op, std::move(e.reply));
        }
        arm_timer(self);
        pump(self);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.busy = false;
        for (auto& e : *batch)
          fail(e.op, err);
        if (err == engine_error::invariant_broken) {
          stop_on_broken_invariant(self, to_string(err));
          return;
        }
        // Nothing was stored (unavailable, a full queue), or what is stored
        // is unknown (a timeout, a COMMIT in doubt): read it again.
        forget_uncommitted(self);
        load(self, {});
      });
}

void pump(wallet_self self) {
  auto& st = self->state;
  if (st.busy || st.current == phase::loading)
    return;
  auto& counters = *st.ctx.counters;
  if (st.current == phase::missing) {
    for (auto& q : st.queue)
      answer(self, q, wallet_reply{wallet_outcome::not_found, {}, {}});
    counters.queued -= static_cast<int64_t>(st.queue.size());
    st.queue.clear();
  }
  if (st.queue.empty()) {
    if (st.stopping)
      self->quit();
    return;
  }
  auto now = now_us();
  // Decided and applied in place: the book runs ahead of storage by this
  // batch until it commits (nothing else is decided meanwhile).
  auto& book = st.book;
  auto batch = std::make_shared<std::vector<batch_entry>>();
  ledger_write w;
  while (!st.queue.empty() && batch->size() < st.ctx.settings.batch_max) {
    auto& q = st.queue.front();
    auto d = domain::decide_wallet(book, q.op, now);
    if (!d.broken_invariant.empty()) {
      stop_on_broken_invariant(self, d.broken_invariant);
      return;
    }
    if (d.needs_lookup && !book.ended.count(q.op.transfer_id)) {
      // Only storage knows this reservation: ask it, unless asked already
      // (then it is unknown there too).
      auto id = q.op.transfer_id;
      if (!st.looked_up.count(id)) {
        if (!batch->empty())
          break; // write what is decided first
        st.looked_up.insert(id);
        load(self, {id});
        return;
      }
    }
    domain::apply_wallet(book, d);
    for (auto& t : d.transfers)
      w.transfers.push_back(std::move(t));
    for (auto& e : d.events)
      w.events.push_back(std::move(e));
    batch->push_back({std::move(q), wallet_reply{d.outcome, book.wallet, d.transfer}});
    st.queue.pop_front();
  }
  st.looked_up.clear();
  counters.queued -= static_cast<int64_t>(batch->size());
  if (w.transfers.empty()) { // nothing moves: answer now
    for (auto& e : *batch)
      answer(self, e.op, std::move(e.reply));
    pump(self);
    return;
  }
  w.expected_version = book.wallet.version;
  w.next = book.wallet;
  w.next.version = w.expected_version + 1;
  for (auto& t : w.transfers)
    t.wallet_seq = w.next.version;
  write(self, std::move(batch), std::move(w));
}

void on_idle_check(wallet_self self) {
  auto& st = self->state;
  auto idle = std::chrono::milliseconds{st.ctx.settings.idle_ms};
  auto since = std::chrono::steady_clock::now() - st.last_active;
  // Open reservations keep it: their timeouts are its to keep.
  if (since >= idle && st.queue.empty() && !st.busy && st.book.pending.empty()) {
    self->send(st.ctx.registry, idle_atom_v, st.id);
    return;
  }
  auto wait = since >= idle ? idle : idle - since;
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(wait), idle_atom_v);
}

void on_timeout(wallet_self self) {
  auto& st = self->state;
  st.timer_at = 0;
  if (st.current != phase::live)
    return;
  for (auto& op : domain::expired_reservations(st.book, now_us())) {
    bool queued = std::any_of(st.queue.begin(), st.queue.end(), [&](const queued_op& q) {
      return !q.promise && q.op.transfer_id == op.transfer_id;
    });
    if (queued)
      continue;
    logging::info("wallet.reservation_expired",
                  {{"wallet_id", st.id}, {"transfer_id", op.transfer_id}, {"order_id", op.order_id}});
    st.ctx.counters->expired_voids++;
    st.ctx.counters->queued++;
    st.queue.push_back({std::move(op), std::nullopt});
  }
  arm_timer(self); // the later ones (or these again, should their void fail)
  pump(self);
}

} // namespace

wallet_actor::behavior_type wallet_impl(wallet_self self, std::string id, wallet_context ctx) {
  auto& st = self->state;
  st.id = std::move(id);
  st.ctx = std::move(ctx);
  st.last_active = std::chrono::steady_clock::now();
  st.ctx.counters->activations++;
  self->delayed_send(self, std::chrono::milliseconds{st.ctx.settings.idle_ms}, idle_atom_v);
  load(self, {});
  self->set_exit_handler([=](caf::exit_msg& msg) {
    fail_all(self, make_error(engine_error::overloaded, "wallet actor stopped"));
    self->quit(msg.reason);
  });
  return {
    [=](wallet_op& op) -> caf::result<wallet_reply> {
      auto& st = self->state;
      st.last_active = std::chrono::steady_clock::now();
      if (st.queue.size() >= st.ctx.settings.queue_max)
        return make_error(engine_error::overloaded, "wallet queue full");
      auto rp = self->make_response_promise<wallet_reply>();
      st.queue.push_back({std::move(op), rp});
      st.ctx.counters->queued++;
      pump(self);
      return rp;
    },
    [=](passivate_atom) {
      self->state.stopping = true;
      pump(self);
    },
    [=](idle_atom) { on_idle_check(self); },
    [=](reservation_atom) { on_timeout(self); },
  };
}

} // namespace payengine
