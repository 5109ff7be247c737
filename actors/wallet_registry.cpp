#include "actors/wallet_registry.hpp"

#include "config/logging.hpp"
#include "messages/errors.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

namespace payengine {

namespace {

wallet_actor activate(wallet_registry_self self, const std::string& id) {
  auto& st = self->state;
  if (auto i = st.live.find(id); i != st.live.end())
    return i->second;
  wallet_context ctx{st.writer, self, st.settings.wallet, st.counters, st.settings.timer};
  auto handle = self->spawn(wallet_impl, id, std::move(ctx));
  self->monitor(handle);
  st.live.emplace(id, handle);
  st.ids_by_addr.emplace(handle.address(), id);
  return handle;
}

void forget(wallet_registry_self self, const std::string& id) {
  auto& st = self->state;
  auto i = st.live.find(id);
  if (i == st.live.end())
    return;
  st.ids_by_addr.erase(i->second.address());
  st.live.erase(i);
}

void sweep(wallet_registry_self self) {
  auto& st = self->state;
  self->request(st.writer, std::chrono::milliseconds{st.settings.wallet.storage_timeout_ms},
                reservation_atom_v, now_us(), uint32_t{100})
    .then(
      [=](const std::vector<std::string>& ids) {
        for (const auto& id : ids) {
          wallet_op op;
          op.wallet_id = id;
          op.kind = wallet_op_kind::get;
          // Activation voids what is past its timeout (the actor's timer).
          caf::anon_send(activate(self, id), std::move(op));
        }
      },
      [](caf::error&) { /* the next sweep tries again */ });
  self->delayed_send(self, std::chrono::milliseconds{st.settings.sweep_ms}, sweep_atom_v);
}

} // namespace

wallet_registry_actor::behavior_type wallet_registry_impl(wallet_registry_self self,
                                                          wallet_registry_settings settings,
                                                          storage_writer_actor writer) {
  self->state.settings = settings;
  self->state.writer = std::move(writer);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.ids_by_addr.find(msg.source);
    if (i == st.ids_by_addr.end())
      return;
    if (msg.reason && msg.reason != caf::exit_reason::normal)
      logging::warn("wallet.stopped", {{"wallet_id", i->second}, {"reason", to_string(msg.reason)}});
    auto id = i->second;
    st.ids_by_addr.erase(i);
    auto j = st.live.find(id);
    if (j != st.live.end() && j->second.address() == msg.source)
      st.live.erase(j);
  });
  self->delayed_send(self, std::chrono::milliseconds{settings.sweep_ms}, sweep_atom_v);
  return {
    [=](wallet_op& op) -> caf::result<wallet_reply> {
      auto& st = self->state;
      if (st.live.size() >= st.settings.live_max && !st.live.count(op.wallet_id))
        return make_error(engine_error::overloaded, "live wallets at their bound");
      auto handle = activate(self, op.wallet_id);
      return self->delegate(handle, std::move(op));
    },
    [=](idle_atom, const std::string& id) {
      auto& st = self->state;
      auto i = st.live.find(id);
      if (i == st.live.end())
        return;
      auto handle = i->second;
      forget(self, id);
      // After every operation routed to it so far (same sender, in order).
      self->send(handle, passivate_atom_v);
    },
    [=](sweep_atom) { sweep(self); },
    [=](info_atom) {
      auto& st = self->state;
      const auto& c = *st.counters;
      wallets_info i;
      i.live = static_cast<uint32_t>(st.live.size());
      i.activations = c.activations;
      i.ops = c.ops;
      i.writes = c.writes;
      i.max_batch = c.max_batch;
      i.conflicts = c.conflicts;
      i.refused = c.refused;
      i.expired_voids = c.expired_voids;
      i.queued = static_cast<uint64_t>(std::max<int64_t>(0, c.queued.load()));
      return i;
    },
  };
}

} // namespace payengine
