#include "actors/reconciler.hpp"

#include "actors/fan_out.hpp"

#include "config/logging.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include <memory>

namespace payengine {

namespace {

void schedule(reconciler_self self, uint32_t delay_ms) {
  self->delayed_send(self, std::chrono::milliseconds{delay_ms}, sweep_atom_v);
}

/// Sends reconcile_order to each; the next sweep waits for every answer.
void reconcile_all(reconciler_self self, std::vector<std::string> ids) {
  auto& st = self->state;
  // A full page: the next one follows at once; otherwise start over later.
  bool full = ids.size() >= st.settings.batch_max;
  st.cursor = full ? ids.back() : std::string{};
  if (!full)
    st.first_sweep = false;
  auto next_delay = full ? 1u : st.settings.interval_ms;
  if (st.settings.cluster) // the other nodes reconcile theirs
    ids.erase(std::remove_if(ids.begin(), ids.end(),
                             [&](const std::string& id) { return !st.settings.cluster->owns_order(id); }),
              ids.end());
  if (!ids.empty())
    logging::info("reconciler.sweep", {{"orders", ids.size()}});
  st.reconciled += ids.size();
  fan_out_to_orders(self, st.shards, std::move(ids), std::chrono::milliseconds{st.settings.request_timeout_ms},
                    "reconciler.failed", [](const std::string& id) { return reconcile_order{id}; },
                    [self, next_delay] { schedule(self, next_delay); });
}

void sweep(reconciler_self self) {
  auto& st = self->state;
  st.sweeps++;
  // At start-up every unfinished order; later only those waiting too long.
  auto until = st.first_sweep ? now_us() : now_us() - int64_t{st.settings.stale_after_ms} * 1000;
  self->request(st.writer, std::chrono::milliseconds{st.settings.request_timeout_ms},
                unsettled_atom_v, until, st.settings.batch_max, st.cursor)
    .then([self](std::vector<std::string>& ids) { reconcile_all(self, std::move(ids)); },
          [self](caf::error& err) {
            logging::warn("reconciler.sweep_failed", {{"error", to_string(err)}});
            schedule(self, self->state.settings.interval_ms);
          });
}

} // namespace

reconciler_actor::behavior_type reconciler_impl(reconciler_self self, reconciler_settings settings,
                                                storage_writer_actor writer,
                                                std::vector<order_registry_actor> shards) {
  self->state.settings = settings;
  self->state.writer = std::move(writer);
  self->state.shards = std::move(shards);
  self->send(self, sweep_atom_v);
  return {
    [=](sweep_atom) { sweep(self); },
  };
}

} // namespace payengine
