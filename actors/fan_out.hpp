#pragma once
// Shared by the sweeping actors (expiry sweeper, reconciler): one command to
// each of many orders, each through its registry shard, and one callback
// once every order has answered or failed. Keeps a sweep's work bounded:
// the next sweep starts only after the last answer.

#include "config/logging.hpp"
#include "messages/ids.hpp"
#include "messages/interfaces.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace payengine {

/// `make(id)` builds the command; `done()` runs after the last answer.
template <class Self, class Make>
void fan_out_to_orders(Self self, const std::vector<order_registry_actor>& shards,
                       const std::vector<std::string>& ids, std::chrono::milliseconds timeout,
                       const char* what, Make make, std::function<void()> done) {
  if (ids.empty()) {
    done();
    return;
  }
  auto pending = std::make_shared<size_t>(ids.size());
  auto one_done = [pending, done] {
    if (--*pending == 0)
      done();
  };
  for (const auto& id : ids) {
    const auto& shard = shards[shard_index(id, static_cast<uint32_t>(shards.size()))];
    self->request(shard, timeout, make(id))
      .then([one_done](const order_reply&) { one_done(); },
            [one_done, id, what](caf::error& err) {
              logging::warn(what, {{"order_id", id}, {"error", to_string(err)}});
              one_done();
            });
  }
}

} // namespace payengine
