// A registry shard takes only the orders that map to it: a command for an
// order of another shard is refused as a broken invariant and activates
// nothing (one actor per order needs one shard per order). Found when an
// argument list moved an order's id before the shard was chosen from it.
#include "actors/order_registry.hpp"
#include "messages/errors.hpp"
#include "messages/ids.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

namespace payengine {
namespace {

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::payengine>();
  cfg.set("scheduler.policy", caf::atom("sharing"));
  return cfg;
}

/// An order id that maps to `shard` of `count`.
std::string order_of_shard(uint32_t shard, uint32_t count) {
  for (int i = 0;; ++i) {
    auto id = "ord_routing" + std::to_string(i);
    if (shard_index(id, count) == shard)
      return id;
  }
}

TEST(registry_routing, a_command_for_another_shards_order_is_refused_and_activates_nothing) {
  caf::actor_system_config cfg;
  caf::actor_system sys{configure(cfg)};
  registry_settings settings;
  settings.index = 0;
  settings.count = 4;
  // No writer, channels or inspector: a refused command must not need them.
  auto shard = sys.spawn(order_registry_impl, settings, storage_writer_actor{},
                         std::shared_ptr<const channel_set>{}, inspector_actor{});
  caf::scoped_actor self{sys};
  for (uint32_t other = 1; other < 4; ++other) {
    auto id = order_of_shard(other, 4);
    create_order create;
    create.draft.id = id;
    get_order get{id, "mch_x"};
    for (int kind = 0; kind < 2; ++kind) {
      caf::error refused;
      auto on_error = [&](caf::error& err) { refused = err; };
      if (kind == 0)
        self->request(shard, std::chrono::seconds{5}, create)
          .receive([](const order_reply&) { FAIL() << "created in the wrong shard"; }, on_error);
      else
        self->request(shard, std::chrono::seconds{5}, get)
          .receive([](const order_reply&) { FAIL() << "read in the wrong shard"; }, on_error);
      EXPECT_EQ(refused, make_error(engine_error::invariant_broken)) << id << " " << to_string(refused);
    }
  }
  self->request(shard, std::chrono::seconds{5}, info_atom_v)
    .receive(
      [](const shard_info& info) {
        EXPECT_EQ(info.live, 0u);
        EXPECT_EQ(info.activations, 0u);
      },
      [](caf::error& err) { FAIL() << to_string(err); });
  self->send_exit(shard, caf::exit_reason::user_shutdown);
}

} // namespace
} // namespace payengine
