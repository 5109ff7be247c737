#include "actors/expiry_sweeper.hpp"

#include "actors/fan_out.hpp"

#include "config/logging.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <memory>

namespace payengine {

namespace {

void schedule(expiry_sweeper_self self, uint32_t delay_ms) {
  self->delayed_send(self, std::chrono::milliseconds{delay_ms}, sweep_atom_v);
}

/// Sends expire_order to every due order; the next sweep starts once all
/// have answered, so one sweep's work is bounded by batch_max.
void expire_all(expiry_sweeper_self self, std::vector<std::string> ids) {
  auto& st = self->state;
  // A full batch: more may be due; come back soon, but never spin (the
  // batch may hold orders that are only due within the look-ahead).
  bool full = ids.size() >= st.settings.batch_max;
  auto next_delay = full ? std::min(50u, st.settings.interval_ms) : st.settings.interval_ms;
  if (st.settings.cluster) // the other nodes expire theirs
    ids.erase(std::remove_if(ids.begin(), ids.end(),
                             [&](const std::string& id) { return !st.settings.cluster->owns_order(id); }),
              ids.end());
  st.sent += ids.size();
  fan_out_to_orders(self, st.shards, std::move(ids), std::chrono::milliseconds{st.settings.request_timeout_ms},
                    "expiry.failed", [](const std::string& id) { return expire_order{id}; },
                    [self, next_delay] { schedule(self, next_delay); });
}

void sweep(expiry_sweeper_self self) {
  auto& st = self->state;
  st.sweeps++;
  // Look one interval ahead: those orders' actors arm precise timers.
  auto until = now_us() + int64_t{st.settings.interval_ms} * 1000;
  self->request(st.writer, std::chrono::milliseconds{st.settings.request_timeout_ms},
                due_atom_v, until, st.settings.batch_max)
    .then([self](std::vector<std::string>& ids) { expire_all(self, std::move(ids)); },
          [self](caf::error& err) {
            logging::warn("expiry.sweep_failed", {{"error", to_string(err)}});
            schedule(self, self->state.settings.interval_ms);
          });
}

} // namespace

expiry_sweeper_actor::behavior_type
expiry_sweeper_impl(expiry_sweeper_self self, sweeper_settings settings,
                    storage_writer_actor writer, std::vector<order_registry_actor> shards) {
  self->state.settings = settings;
  self->state.writer = std::move(writer);
  self->state.shards = std::move(shards);
  self->send(self, sweep_atom_v);
  return {
    [=](sweep_atom) { sweep(self); },
  };
}

} // namespace payengine
