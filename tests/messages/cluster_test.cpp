// Shards and their owners (messages/cluster.cpp), pure.
#include "messages/cluster.hpp"
#include "messages/ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>

namespace payengine {
namespace {

TEST(cluster_shards, an_order_id_maps_to_the_same_shard_in_every_version) {
  // Stored orders keep their shard forever: these values must never change.
  EXPECT_EQ(cluster_shard_of("", 64), 1469598103934665603ull % 64);
  EXPECT_EQ(cluster_shard_of("ord_0123456789abcdefABCDEFGH", 64), 11u);
  EXPECT_EQ(cluster_shard_of("ord_x", 64), 29u);
  EXPECT_EQ(cluster_shard_of("ord_x", 64) % 4, shard_index("ord_x", 4));
}

TEST(cluster_shards, random_ids_spread_over_every_shard) {
  std::vector<int> count(64);
  for (int i = 0; i < 64'000; ++i)
    count[cluster_shard_of(new_id("ord"), 64)]++;
  for (int c : count) {
    EXPECT_GT(c, 700);
    EXPECT_LT(c, 1300);
  }
}

std::map<std::string, int> shares(const std::vector<std::string>& owners) {
  std::map<std::string, int> out;
  for (const auto& o : owners)
    out[o]++;
  return out;
}

TEST(cluster_shard_owners, three_nodes_own_an_even_share_each) {
  auto owners = shard_owners(64, {"node-1", "node-2", "node-3"});
  ASSERT_EQ(owners.size(), 64u);
  EXPECT_EQ(shares(owners), (std::map<std::string, int>{{"node-1", 21}, {"node-2", 22}, {"node-3", 21}}));
  EXPECT_EQ(shard_owners(64, {"node-3", "node-1", "node-2"}), owners) << "order of the list";
  EXPECT_EQ(shard_owners(64, {"node-3", "node-1", "node-2", "node-1"}), owners) << "a node listed twice";
  EXPECT_EQ(shares(shard_owners(64, {"node-1", "node-2"})),
            (std::map<std::string, int>{{"node-1", 32}, {"node-2", 32}}));
  EXPECT_EQ(shares(shard_owners(64, {"only"})), (std::map<std::string, int>{{"only", 64}}));
  EXPECT_EQ(shard_owners(3, {}), std::vector<std::string>(3));
  EXPECT_TRUE(shard_owners(0, {"only"}).empty());
  // More nodes than shards: one each, the rest none.
  EXPECT_EQ(shares(shard_owners(2, {"a", "b", "c"})).size(), 2u);
}

TEST(cluster_shard_owners, hold_for_seeded_sets_of_nodes) {
  std::mt19937_64 rng{20261204};
  for (uint32_t shards : {1u, 7u, 64u, 256u})
    for (size_t n = 1; n <= 7; ++n)
      for (int trial = 0; trial < 30; ++trial) {
        std::vector<std::string> nodes;
        for (size_t i = 0; i < n; ++i)
          nodes.push_back("node-" + std::to_string(rng() % 100'000));
        std::sort(nodes.begin(), nodes.end());
        nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
        const auto k = nodes.size();
        const auto owners = shard_owners(shards, nodes);
        const auto where = testing::Message() << shards << " shards, nodes " << ::testing::PrintToString(nodes);
        ASSERT_EQ(owners.size(), shards) << where;
        // Every shard has a listed owner, and the shares are even give or take one.
        for (const auto& o : owners)
          ASSERT_TRUE(std::find(nodes.begin(), nodes.end(), o) != nodes.end()) << where;
        for (const auto& node : nodes) {
          auto held = std::count(owners.begin(), owners.end(), node);
          EXPECT_GE(held, shards / k) << node << " " << where;
          EXPECT_LE(held, (shards + k - 1) / k) << node << " " << where;
        }
        // The same owners whatever the order of the list.
        auto shuffled = nodes;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        ASSERT_EQ(shard_owners(shards, shuffled), owners) << where;
        if (k < 2)
          continue;
        // A node leaves: its shards move, and of the others (with many
        // shards a node, as the engine's 64) fewer than one node's share.
        const auto gone = nodes[rng() % k];
        auto rest = nodes;
        rest.erase(std::find(rest.begin(), rest.end(), gone));
        const auto after = shard_owners(shards, rest);
        size_t moved = 0;
        for (uint32_t s = 0; s < shards; ++s) {
          EXPECT_NE(after[s], gone) << where;
          moved += owners[s] != gone && after[s] != owners[s] ? 1 : 0;
        }
        if (shards >= 64) {
          EXPECT_LE(moved, shards / k) << "left: " << gone << " " << where;
        }
      }
}

TEST(cluster_shard_map, ownership_ends_at_its_deadline_or_when_revoked) {
  shard_map map{"n1", "http://n1", 8};
  auto now = shard_map::clock::now();
  EXPECT_FALSE(map.owns(3));
  map.grant(3, 7, now + std::chrono::hours{1});
  map.grant(4, 2, now - std::chrono::milliseconds{1}); // already past
  EXPECT_EQ(map.epoch(3), 7u);
  EXPECT_EQ(map.epoch(4), 0u);
  EXPECT_EQ(map.held().size(), 1u);
  EXPECT_EQ(map.revoke_expired(), std::vector<uint32_t>{4});
  EXPECT_FALSE(map.revoke_if(3, 6)); // another epoch: kept
  EXPECT_TRUE(map.revoke_if(3, 7));
  EXPECT_FALSE(map.owns(3));
  EXPECT_EQ(map.take_revoked(), (std::vector<uint32_t>{4, 3}));
  EXPECT_TRUE(map.take_revoked().empty());
  EXPECT_EQ(map.epoch(99), 0u);
}

// A node paused past its lease takes the shard back in its first round,
// before it noticed the loss: the old epoch's actors must still stop.
TEST(cluster_shard_map, taking_a_shard_back_under_a_new_epoch_revokes_the_old_one) {
  shard_map map{"n1", "http://n1", 8};
  auto now = shard_map::clock::now();
  map.grant(5, 3, now - std::chrono::milliseconds{1}); // ran out while paused
  map.grant(5, 4, now + std::chrono::hours{1});        // taken back
  EXPECT_EQ(map.epoch(5), 4u);
  EXPECT_EQ(map.take_revoked(), std::vector<uint32_t>{5});
  map.grant(5, 4, now + std::chrono::hours{2}); // a renewal: same epoch
  map.grant(6, 9, now + std::chrono::hours{1}); // a first take
  EXPECT_TRUE(map.take_revoked().empty());
}

} // namespace
} // namespace payengine
