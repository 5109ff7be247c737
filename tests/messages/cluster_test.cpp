// Shards and rendezvous hashing (messages/cluster.cpp), pure.
#include "messages/cluster.hpp"
#include "messages/ids.hpp"

#include <gtest/gtest.h>

#include <map>
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

std::map<std::string, int> shares(const std::vector<std::string>& nodes, uint32_t shards = 64) {
  std::map<std::string, int> out;
  for (uint32_t s = 0; s < shards; ++s)
    out[rendezvous_owner(s, nodes)]++;
  return out;
}

TEST(cluster_rendezvous, three_nodes_own_about_a_third_each) {
  auto s = shares({"node-a", "node-b", "node-c"});
  ASSERT_EQ(s.size(), 3u);
  for (auto& [node, n] : s) {
    EXPECT_GE(n, 12) << node;
    EXPECT_LE(n, 32) << node;
  }
  EXPECT_EQ(rendezvous_owner(5, {}), "");
  EXPECT_EQ(rendezvous_owner(5, {"only"}), "only");
}

TEST(cluster_rendezvous, a_node_leaving_moves_only_its_own_shards_and_gets_them_back) {
  std::vector<std::string> all{"node-a", "node-b", "node-c"};
  std::vector<std::string> two{"node-a", "node-c"};
  for (uint32_t s = 0; s < 64; ++s) {
    auto before = rendezvous_owner(s, all);
    auto after = rendezvous_owner(s, two);
    if (before != "node-b") {
      EXPECT_EQ(after, before) << s;
    }
    EXPECT_EQ(rendezvous_owner(s, {"node-c", "node-b", "node-a"}), before) << "order of the list";
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
