#include "actors/order_registry.hpp"

#include "actors/read_cache.hpp"
#include "config/logging.hpp"
#include "messages/errors.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace payengine {

bool note_crash(restart_record& rec, std::chrono::steady_clock::time_point now,
                std::chrono::milliseconds window, uint32_t max) {
  if (rec.recent > 0 && now - rec.last_at > window)
    rec.recent = 0; // crashes long ago do not count against the limit
  rec.count++;
  rec.recent++;
  rec.last_at = now;
  return rec.recent <= max;
}

namespace {

using entry = order_registry_state::entry;

constexpr size_t restart_records_max = 10'000;

/// Tells the inspector of an order actor's lifecycle (fire and forget).
void report(order_registry_self self, actor_event_kind kind, const std::string& order_id,
            caf::actor_id actor, std::string reason = {}) {
  auto& st = self->state;
  if (!st.inspector)
    return;
  actor_event e;
  e.kind = kind;
  e.order_id = order_id;
  e.actor_id = std::to_string(actor);
  e.type = std::move(reason);
  e.shard = st.settings.index;
  e.at = now_us();
  self->send(st.inspector, std::move(e));
}

order_actor spawn_order(order_registry_self self, const std::string& id, bool load,
                        bool restart = false) {
  auto& st = self->state;
  if (!st.order_ctx) // one for all the shard's order actors
    st.order_ctx = std::make_shared<const order_context>(
      order_context{st.writer, caf::actor_cast<order_registry_actor>(self), st.channels,
                    st.settings.order, st.inspector, st.settings.index, st.settings.wallets,
                    st.settings.reads, st.settings.timer});
  auto handle = self->spawn<order_actor_impl>(id, st.order_ctx, load);
  self->monitor(handle);
  st.counters.activations++;
  report(self, restart ? actor_event_kind::restart : actor_event_kind::spawn, id, handle.id(),
         restart ? "restarted from storage" : load ? "loaded from storage" : "created");
  return handle;
}

/// Makes room for one more actor: asks the least recently used to passivate
/// while the shard is at its limit. Passivating actors are on their way out
/// and not counted (nor chosen again).
void make_room(order_registry_self self) {
  auto& st = self->state;
  while (st.lru.size() >= st.settings.live_max && !st.lru.empty()) {
    auto victim = st.live.find(*st.lru.front());
    st.lru.pop_front();
    victim->second.passivating = true;
    self->send(victim->second.handle, passivate_atom_v);
    st.counters.evictions++;
  }
}

entry& activate(order_registry_self self, const std::string& id, bool load,
                bool restart = false) {
  auto& st = self->state;
  auto i = st.live.find(id);
  if (i == st.live.end()) {
    make_room(self); // before the newcomer joins: it must never be the victim
    i = st.live.emplace(id, entry{}).first;
    i->second.handle = spawn_order(self, id, load, restart);
    st.ids_by_actor.emplace(i->second.handle.id(), &i->first);
    i->second.lru_pos = st.lru.insert(st.lru.end(), &i->first);
  } else if (!i->second.passivating) {
    st.lru.splice(st.lru.end(), st.lru, i->second.lru_pos);
  }
  i->second.last_routed = std::chrono::steady_clock::now();
  return i->second;
}

/// Delegates `cmd` to the order's actor: the actor answers the original
/// requester directly. While the actor passivates, the command waits here.
const std::string& order_id_of(const create_order& x) { return x.draft.id; }
const std::string& order_id_of(const get_order& x) { return x.order_id; }
const std::string& order_id_of(const watch_order& x) { return x.order_id; }
const std::string& order_id_of(const cancel_order& x) { return x.order_id; }
const std::string& order_id_of(const expire_order& x) { return x.order_id; }
const std::string& order_id_of(const pay_order& x) { return x.order_id; }
const std::string& order_id_of(const channel_event& x) { return x.order_id; }
const std::string& order_id_of(const reconcile_order& x) { return x.order_id; }
const std::string& order_id_of(const refund_order& x) { return x.order_id; }
const std::string& order_id_of(const fulfill_order& x) { return x.order_id; }

/// Whether this node owns the order's shard now (always, alone).
bool owned(order_registry_self self, const std::string& id) {
  const auto& cluster = self->state.settings.cluster;
  return !cluster || cluster->owns_order(id);
}

template <class Command>
caf::result<order_reply> route(order_registry_self self, Command cmd) {
  // One actor per order needs one shard per order: a command sent to
  // another shard would activate a second writer (a caller's bug).
  const auto& settings = self->state.settings;
  if (shard_index(order_id_of(cmd), settings.count) != settings.index)
    return make_error(engine_error::invariant_broken,
                      "order " + order_id_of(cmd) + " sent to registry shard " + std::to_string(settings.index));
  if (!owned(self, order_id_of(cmd)))
    return make_error(engine_error::shard_moved, order_id_of(cmd));
  // A create spawns a fresh actor; anything else activates from storage.
  constexpr bool load = !std::is_same<Command, create_order>::value;
  auto& e = activate(self, order_id_of(cmd), load);
  if (!e.passivating)
    return self->delegate(e.handle, std::move(cmd));
  auto rp = self->make_response_promise<order_reply>();
  e.held.emplace_back([rp, cmd](const order_actor& successor) mutable {
    rp.delegate(successor, std::move(cmd));
  });
  return rp;
}

/// Counts the crash of `id`; true if it may be restarted at once.
bool remember_crash(order_registry_self self, const std::string& id, const caf::error& reason) {
  auto& st = self->state;
  if (st.restarts.size() >= restart_records_max && !st.restarts.count(id))
    st.restarts.erase(st.restarts.begin());
  auto& rec = st.restarts[id];
  rec.last_reason = to_string(reason);
  return note_crash(rec, std::chrono::steady_clock::now(),
                    std::chrono::milliseconds{st.settings.restart_window_ms},
                    st.settings.restarts_max);
}

void on_order_down(order_registry_self self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto a = st.ids_by_actor.find(msg.source.id());
  if (a == st.ids_by_actor.end())
    return;
  std::string id = *a->second; // the key goes with its entry, below
  st.ids_by_actor.erase(a);
  // What it kept for reads goes with it (a successor's entry stays).
  if (st.settings.reads)
    st.settings.reads->forget(id, msg.source.id());
  auto i = st.live.find(id);
  if (i == st.live.end() || i->second.handle.address() != msg.source)
    return;
  auto held = std::move(i->second.held);
  if (!i->second.passivating)
    st.lru.erase(i->second.lru_pos);
  st.live.erase(i);
  // Stopped because its shard left this node: not a crash.
  bool crashed = static_cast<bool>(msg.reason) && msg.reason != engine_error::shard_moved;
  auto actor = msg.source.id();
  if (!crashed) {
    st.counters.passivations++;
    report(self, actor_event_kind::passivate, id, actor);
  }
  bool restart = false;
  if (crashed) {
    report(self, actor_event_kind::crash, id, actor, to_string(msg.reason));
    restart = remember_crash(self, id, msg.reason);
    st.counters.restarts++;
    if (msg.reason == engine_error::invariant_broken)
      st.counters.invariant_stops++;
    logging::warn("order.crashed", {{"order_id", id},
                                    {"reason", to_string(msg.reason)},
                                    {"restarts", st.restarts[id].count}});
  }
  if (held.empty() && !restart)
    return;
  if (!owned(self, id)) {
    // The shard left this node: what waited is refused (by route, here).
    for (auto& replay : held)
      replay(caf::actor_cast<order_actor>(self));
    return;
  }
  auto& successor = activate(self, id, true, crashed);
  for (auto& replay : held)
    replay(successor.handle);
}

/// The cluster shard `shard` is no longer this node's: its live order
/// actors stop (they are activated from storage by the next owner).
void on_shard_lost(order_registry_self self, uint32_t shard) {
  auto& st = self->state;
  if (!st.settings.cluster)
    return;
  std::vector<std::string> ids;
  for (const auto& kv : st.live)
    if (st.settings.cluster->shard_of(kv.first) == shard)
      ids.push_back(kv.first);
  for (const auto& id : ids) {
    auto& e = st.live.at(id);
    if (!e.passivating) {
      e.passivating = true;
      st.lru.erase(e.lru_pos);
    }
    self->send_exit(e.handle, make_error(engine_error::shard_moved));
  }
  if (!ids.empty())
    logging::info("registry.shard_stopped", {{"registry", st.settings.index},
                                             {"shard", shard}, {"orders", ids.size()}});
}

/// An order actor is idle and may go, or is stopping on its own (then it
/// quits without waiting for passivate_atom): from now on, what comes for
/// its id waits here for the successor.
void on_idle(order_registry_self self, const std::string& id) {
  auto& st = self->state;
  auto i = st.live.find(id);
  if (i == st.live.end() || i->second.passivating
      || i->second.handle.address() != self->current_sender())
    return;
  i->second.passivating = true;
  st.lru.erase(i->second.lru_pos);
  self->send(i->second.handle, passivate_atom_v);
}

/// Asks the order actors not routed to for an idle time whether they may
/// passivate (each starts the idle handshake, or stays quiet if it owes
/// work), least recently routed first, at most a batch per tick
/// (plan_idle_sweep); each one asked goes to the back of the LRU, to be
/// asked again an idle time later. One timer per shard, not one per order
/// actor (a pending timer costs about 200 bytes, issue 15).
void on_idle_sweep(order_registry_self self) {
  auto& st = self->state;
  auto idle = std::chrono::milliseconds{st.settings.order.idle_ms};
  auto now = std::chrono::steady_clock::now();
  auto plan = plan_idle_sweep(
    st.lru.begin(), st.lru.end(),
    [&](const std::string* id) { return now - st.live.at(*id).last_routed >= idle; }, st.settings);
  for (size_t n = 0; n < plan.ask; ++n) {
    auto& e = st.live.at(*st.lru.front());
    e.last_routed = now;
    st.lru.splice(st.lru.end(), st.lru, e.lru_pos);
    self->send(e.handle, idle_atom_v);
  }
  st.counters.idle_asks += plan.ask;
  self->delayed_send(self, plan.next, sweep_atom_v);
}

/// The actor refused to passivate (it owes work): it is live again, and
/// what arrived meanwhile goes to it.
void on_keep(order_registry_self self, const std::string& id) {
  auto& st = self->state;
  auto i = st.live.find(id);
  if (i == st.live.end() || !i->second.passivating
      || i->second.handle.address() != self->current_sender())
    return;
  i->second.passivating = false;
  i->second.lru_pos = st.lru.insert(st.lru.end(), &i->first);
  i->second.last_routed = std::chrono::steady_clock::now();
  auto held = std::move(i->second.held);
  i->second.held.clear();
  for (auto& replay : held)
    replay(i->second.handle);
}

/// The live order actors, most recently used first (what an operator wants
/// to see): the registry's facts, completed by each actor's own answer
/// (status, version, mailbox depth). An actor busy beyond the deadline is
/// listed with the registry's facts only.
caf::result<std::vector<order_actor_info>> list_live(order_registry_self self, uint32_t limit) {
  auto& st = self->state;
  auto out = std::make_shared<std::vector<order_actor_info>>();
  std::vector<order_actor> handles;
  auto now = std::chrono::steady_clock::now();
  for (auto i = st.lru.rbegin(); i != st.lru.rend() && out->size() < limit; ++i) {
    const auto& e = st.live.at(**i);
    order_actor_info info;
    info.order_id = **i;
    info.live = true;
    info.actor_id = std::to_string(e.handle.id());
    info.idle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     now - e.last_routed).count();
    if (auto r = st.restarts.find(**i); r != st.restarts.end()) {
      info.restarts = r->second.count;
      info.last_restart_reason = r->second.last_reason;
    }
    out->push_back(std::move(info));
    handles.push_back(e.handle);
  }
  if (handles.empty())
    return *out;
  auto rp = self->make_response_promise<std::vector<order_actor_info>>();
  auto pending = std::make_shared<size_t>(handles.size());
  for (size_t k = 0; k < handles.size(); ++k) {
    auto finish = [rp, out, pending]() mutable {
      if (--*pending == 0)
        rp.deliver(std::move(*out));
    };
    self->request(handles[k], std::chrono::milliseconds{500}, inspect_order{(*out)[k].order_id})
      .then(
        [out, k, finish](const order_actor_info& live) mutable {
          auto& mine = (*out)[k];
          mine.loaded = live.loaded;
          mine.status = live.status;
          mine.version = live.version;
          mine.mailbox_depth = live.mailbox_depth;
          mine.watchers = live.watchers;
          finish();
        },
        [finish](caf::error&) mutable { finish(); });
  }
  return rp;
}

caf::result<order_actor_info> inspect_one(order_registry_self self,
                                          const inspect_order& cmd) {
  auto& st = self->state;
  auto i = st.live.find(cmd.order_id);
  order_actor_info info;
  info.order_id = cmd.order_id;
  if (auto r = st.restarts.find(cmd.order_id); r != st.restarts.end()) {
    info.restarts = r->second.count;
    info.last_restart_reason = r->second.last_reason;
  }
  if (i == st.live.end() || i->second.passivating)
    return info; // not live: the stored row is the whole truth
  auto rp = self->make_response_promise<order_actor_info>();
  self->request(i->second.handle, std::chrono::seconds{2}, cmd)
    .then([rp, info](order_actor_info live) mutable {
            live.restarts = info.restarts;
            live.last_restart_reason = info.last_restart_reason;
            rp.deliver(std::move(live));
          },
          [rp, info](caf::error&) mutable { rp.deliver(info); });
  return rp;
}

} // namespace

order_registry_actor::behavior_type
order_registry_impl(order_registry_self self, registry_settings settings,
                    storage_writer_actor writer, std::shared_ptr<const channel_set> channels,
                    inspector_actor inspector) {
  self->state.settings = settings;
  self->state.inspector = std::move(inspector);
  self->state.writer = std::move(writer);
  self->state.channels = std::move(channels);
  self->state.counters.index = settings.index;
  self->state.counters.live_max = settings.live_max;
  self->state.counters.idle_sweep_batch = std::max<uint32_t>(1, settings.idle_sweep_batch);
  self->set_down_handler([=](caf::down_msg& msg) { on_order_down(self, msg); });
  self->delayed_send(self, idle_sweep_interval(settings), sweep_atom_v);
  // Order actors are not linked (a crash must not take the shard down), so
  // the shard stops them itself when it stops or crashes: none is left
  // behind, and the shard's successor activates them again from storage.
  auto stop_orders = [=](const caf::error& reason) {
    for (auto& kv : self->state.live)
      self->send_exit(kv.second.handle, reason);
  };
  self->set_exit_handler([=](caf::exit_msg& msg) {
    stop_orders(msg.reason);
    self->quit(msg.reason);
  });
  self->set_exception_handler([=](std::exception_ptr& ep) -> caf::error {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    logging::error("registry.crashed", {{"shard", self->state.settings.index}, {"error", what}});
    stop_orders(caf::exit_reason::user_shutdown);
    return caf::make_error(caf::sec::runtime_error, what);
  });
  return {
    [=](create_order& cmd) { return route(self, std::move(cmd)); },
    [=](get_order& cmd) { return route(self, std::move(cmd)); },
    [=](watch_order& cmd) { return route(self, std::move(cmd)); },
    [=](cancel_order& cmd) { return route(self, std::move(cmd)); },
    [=](expire_order& cmd) { return route(self, std::move(cmd)); },
    [=](pay_order& cmd) { return route(self, std::move(cmd)); },
    [=](channel_event& cmd) { return route(self, std::move(cmd)); },
    [=](reconcile_order& cmd) { return route(self, std::move(cmd)); },
    [=](refund_order& cmd) { return route(self, std::move(cmd)); },
    [=](fulfill_order& cmd) { return route(self, std::move(cmd)); },
    [=](const inspect_order& cmd) { return inspect_one(self, cmd); },
    [=](list_atom, uint32_t limit) { return list_live(self, limit); },
    [=](info_atom) {
      auto info = self->state.counters;
      info.live = self->state.live.size();
      info.mailbox_depth = self->mailbox().size();
      return info;
    },
    [=](kill_atom, const std::string& id) {
      auto& st = self->state;
      auto i = st.live.find(id);
      if (i == st.live.end())
        return false;
      // Like a passivation: what arrives until the actor is gone waits here
      // and goes to its successor, restarted from storage.
      if (!i->second.passivating) {
        i->second.passivating = true;
        st.lru.erase(i->second.lru_pos);
      }
      self->send_exit(i->second.handle, caf::exit_reason::kill);
      return true;
    },
    [=](lost_atom, uint32_t shard) { on_shard_lost(self, shard); },
    [=](idle_atom, const std::string& id) { on_idle(self, id); },
    [=](keep_atom, const std::string& id) { on_keep(self, id); },
    [=](sweep_atom) { on_idle_sweep(self); },
  };
}

} // namespace payengine
