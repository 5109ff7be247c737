#include "messages/interfaces.hpp"

#include "messages/ids.hpp"

#include <caf/actor_cast.hpp>

namespace payengine {

const order_registry_actor& engine_handles::shard_for(const std::string& order_id) const {
  return shards[shard_index(order_id, static_cast<uint32_t>(shards.size()))];
}

const storage_writer_actor& engine_handles::writer_for(const std::string& key) const {
  return writers[shard_index(key, static_cast<uint32_t>(writers.size()))];
}

caf::actor engine_handles::child(const std::string& name) const {
  for (auto& [n, a] : children())
    if (n == name)
      return a;
  return {};
}

std::vector<std::pair<std::string, caf::actor>> engine_handles::children() const {
  std::vector<std::pair<std::string, caf::actor>> out;
  auto add = [&out](std::string name, const auto& handle) {
    if (handle)
      out.emplace_back(std::move(name), caf::actor_cast<caf::actor>(handle));
  };
  for (size_t i = 0; i < shards.size(); ++i)
    add("order_registry-" + std::to_string(i), shards[i]);
  for (size_t i = 0; i < writers.size(); ++i)
    add("storage_writer-" + std::to_string(i), writers[i]);
  add("storage_writer-ledger", ledger_writer);
  for (const auto& [channel, gateway] : gateways)
    add("gateway-" + channel, gateway);
  add("notifier", notifier);
  add("reconciler", reconciler);
  add("expiry_sweeper", sweeper);
  add("inspector", inspector);
  add("wallet_registry", wallets);
  add("event_relay", relay);
  add("fulfillment_consumer", fulfillment);
  return out;
}

std::shared_ptr<const engine_handles> engine_directory::current() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return current_;
}

void engine_directory::replace(std::shared_ptr<const engine_handles> handles) {
  std::lock_guard<std::mutex> guard{mtx_};
  current_ = std::move(handles);
}

engine_directory::restart_record engine_directory::restarts() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return record_;
}

void engine_directory::record_restart(const std::string& child, const std::string& reason,
                                      int64_t at_us, bool gave_up) {
  std::lock_guard<std::mutex> guard{mtx_};
  record_.restarts += gave_up ? 0 : 1;
  record_.last_child = child;
  record_.last_reason = reason;
  record_.last_at_us = at_us;
  record_.gave_up = record_.gave_up || gave_up;
}

} // namespace payengine
