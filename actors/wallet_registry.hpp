#pragma once
// The wallet registry: maps wallet ids to live wallet actors on this node,
// activating a wallet from storage on its first operation and forgetting
// it when it is idle (the actor then drains its queue and quits). A
// periodic sweep finds wallets whose reservations are past their timeout
// (their order actor died before posting or voiding them) and activates
// them, so that the reserved money comes back.

#include "actors/wallet.hpp"

#include <caf/actor_addr.hpp>

#include <memory>
#include <string>
#include <unordered_map>

namespace payengine {

struct wallet_registry_settings {
  wallet_settings wallet;
  uint32_t live_max = 100'000;
  uint32_t sweep_ms = 5'000;
  std::shared_ptr<request_timer> timer; // deadlines of the wallets' requests (null: CAF's)
};

struct wallet_registry_state {
  static inline const char* name = "wallet_registry";
  wallet_registry_settings settings;
  storage_writer_actor writer;
  std::shared_ptr<wallet_counters> counters = std::make_shared<wallet_counters>();
  std::unordered_map<std::string, wallet_actor> live;
  std::unordered_map<caf::actor_addr, std::string> ids_by_addr;
};

using wallet_registry_self = wallet_registry_actor::stateful_pointer<wallet_registry_state>;

wallet_registry_actor::behavior_type wallet_registry_impl(wallet_registry_self self,
                                                          wallet_registry_settings settings,
                                                          storage_writer_actor writer);

} // namespace payengine
