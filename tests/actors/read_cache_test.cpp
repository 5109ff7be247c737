// The read cache (actors/read_cache.hpp): it answers only what the order's
// live actor last committed, to that order's merchant, while this node holds
// the order's shard under the epoch the entry was kept under; it stays within
// its capacity. Tables for each rule, then a seeded property: random reads,
// commits, actor stops (their forget arriving late, after a successor
// started), evictions and shard moves with foreign writes, checked against a
// model of what storage holds.
#include "actors/read_cache.hpp"

#include "messages/cluster.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace payengine {
namespace {

order_record order(const std::string& id, int64_t version, const std::string& merchant = "mch_a") {
  order_record o;
  o.id = id;
  o.merchant_id = merchant;
  o.amount = 100 * version;
  o.currency = "CNY";
  o.status = version > 1 ? order_status::cancelled : order_status::created;
  o.version = version;
  return o;
}

std::string body_of(const order_read_cache::body& b) {
  return b ? *b : std::string{"(none)"};
}

TEST(read_cache, nothing_is_kept_until_the_actor_answers_a_read) {
  order_read_cache cache{8, nullptr};
  cache.refresh(order("ord_a1", 1), 7); // a commit of an order nobody read
  EXPECT_EQ(cache.find("ord_a1", "mch_a"), nullptr);
  cache.offer(order("ord_a1", 1), 7);
  EXPECT_EQ(body_of(cache.find("ord_a1", "mch_a")), order_read_cache::render(order("ord_a1", 1)));
  auto s = cache.snapshot();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
}

TEST(read_cache, a_commit_replaces_what_is_kept) {
  order_read_cache cache{8, nullptr};
  cache.offer(order("ord_a1", 1), 7);
  cache.refresh(order("ord_a1", 2), 7);
  EXPECT_EQ(body_of(cache.find("ord_a1", "mch_a")), order_read_cache::render(order("ord_a1", 2)));
  // The same actor offering an older row (it cannot, but) never moves it back.
  cache.offer(order("ord_a1", 1), 7);
  EXPECT_EQ(body_of(cache.find("ord_a1", "mch_a")), order_read_cache::render(order("ord_a1", 2)));
}

TEST(read_cache, another_merchant_is_not_answered_from_it) {
  order_read_cache cache{8, nullptr};
  cache.offer(order("ord_a1", 1), 7);
  EXPECT_EQ(cache.find("ord_a1", "mch_b"), nullptr);
  EXPECT_EQ(cache.find("ord_a1", ""), nullptr); // not the operator either: the actor answers
  EXPECT_NE(cache.find("ord_a1", "mch_a"), nullptr);
}

TEST(read_cache, a_stopped_actor_takes_its_entry_but_not_its_successors) {
  order_read_cache cache{8, nullptr};
  cache.offer(order("ord_a1", 1), 7);
  cache.forget("ord_a1", 7);
  EXPECT_EQ(cache.find("ord_a1", "mch_a"), nullptr);
  // The successor (actor 8) loaded and was read before 7's stop was seen.
  cache.offer(order("ord_a1", 1), 7);
  cache.refresh(order("ord_a1", 1), 8);
  cache.refresh(order("ord_a1", 2), 8);
  cache.forget("ord_a1", 7);
  EXPECT_EQ(body_of(cache.find("ord_a1", "mch_a")), order_read_cache::render(order("ord_a1", 2)));
  cache.forget("ord_a1", 8);
  EXPECT_EQ(cache.find("ord_a1", "mch_a"), nullptr);
}

TEST(read_cache, the_least_recently_read_go_beyond_the_capacity) {
  order_read_cache cache{2, nullptr};
  cache.offer(order("ord_a1", 1), 1);
  cache.offer(order("ord_a2", 1), 2);
  EXPECT_NE(cache.find("ord_a1", "mch_a"), nullptr); // a2 is now the least recent
  cache.offer(order("ord_a3", 1), 3);
  EXPECT_NE(cache.find("ord_a1", "mch_a"), nullptr);
  EXPECT_EQ(cache.find("ord_a2", "mch_a"), nullptr);
  EXPECT_NE(cache.find("ord_a3", "mch_a"), nullptr);
  auto s = cache.snapshot();
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.evictions, 1u);
}

TEST(read_cache, capacity_zero_keeps_nothing) {
  order_read_cache cache{0, nullptr};
  cache.offer(order("ord_a1", 1), 1);
  EXPECT_EQ(cache.find("ord_a1", "mch_a"), nullptr);
  EXPECT_EQ(cache.snapshot().entries, 0u);
}

TEST(read_cache, only_while_this_node_holds_the_shard_under_the_same_epoch) {
  auto map = std::make_shared<shard_map>("node-a", "http://127.0.0.1:1", 4);
  order_read_cache cache{8, map};
  std::string id = "ord_epoch1";
  auto shard = map->shard_of(id);
  auto later = shard_map::clock::now() + std::chrono::hours{1};
  cache.offer(order(id, 1), 1); // not held: not kept
  map->grant(shard, 5, later);
  EXPECT_EQ(cache.find(id, "mch_a"), nullptr);
  cache.offer(order(id, 1), 1);
  EXPECT_NE(cache.find(id, "mch_a"), nullptr);
  map->revoke(shard);
  EXPECT_EQ(cache.find(id, "mch_a"), nullptr);
  // Taken back under a new epoch: another node may have written meanwhile.
  map->grant(shard, 6, later);
  EXPECT_EQ(cache.find(id, "mch_a"), nullptr);
  EXPECT_EQ(cache.snapshot().entries, 0u); // dropped when found stale
  // A lease that ran out by this node's clock counts as not held.
  cache.offer(order(id, 1), 2);
  map->grant(shard, 6, shard_map::clock::now() - std::chrono::milliseconds{1});
  EXPECT_EQ(cache.find(id, "mch_a"), nullptr);
}

// --- the property ------------------------------------------------------------

struct model_order {
  std::string id;
  int64_t committed = 1; // what storage holds
  uint64_t actor = 0;    // the live actor (0: none)
};

TEST(read_cache, property_a_hit_is_always_what_storage_holds_now) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng{seed};
    auto map = std::make_shared<shard_map>("node-a", "http://127.0.0.1:1", 4);
    auto later = shard_map::clock::now() + std::chrono::hours{1};
    std::vector<uint64_t> epochs(4, 1);
    for (uint32_t s = 0; s < 4; ++s)
      map->grant(s, epochs[s], later);
    const size_t capacity = 1 + rng() % 6;
    order_read_cache cache{capacity, map};
    std::vector<model_order> orders;
    for (int i = 0; i < 10; ++i)
      orders.push_back({"ord_p" + std::to_string(seed) + "x" + std::to_string(i)});
    uint64_t next_actor = 1;
    std::vector<std::pair<std::string, uint64_t>> late_forgets; // stops not yet seen by the registry
    uint64_t hits = 0;
    for (int step = 0; step < 2'000; ++step) {
      auto& o = orders[rng() % orders.size()];
      auto shard = map->shard_of(o.id);
      bool held = map->owns(shard);
      switch (rng() % 8) {
        case 0: // a read reaches the actor (activating it if needed)
          if (!held)
            break;
          if (o.actor == 0) {
            o.actor = next_actor++;
            cache.refresh(order(o.id, o.committed), o.actor); // loaded
          }
          cache.offer(order(o.id, o.committed), o.actor);
          break;
        case 1: // a commit
          if (!held || o.actor == 0)
            break;
          o.committed++;
          cache.refresh(order(o.id, o.committed), o.actor);
          break;
        case 2: // the actor stops; the registry may see it later
          if (o.actor == 0)
            break;
          late_forgets.emplace_back(o.id, o.actor);
          o.actor = 0;
          break;
        case 3: // the registry handles a stop it was told of
          if (!late_forgets.empty()) {
            auto i = rng() % late_forgets.size();
            cache.forget(late_forgets[i].first, late_forgets[i].second);
            late_forgets.erase(late_forgets.begin() + static_cast<long>(i));
          }
          break;
        case 4: { // the shard leaves; another node writes its orders; it comes back
          if (rng() % 8 != 0)
            break;
          map->revoke(shard);
          for (auto& x : orders)
            if (map->shard_of(x.id) == shard) {
              if (x.actor != 0)
                late_forgets.emplace_back(x.id, x.actor);
              x.actor = 0;
              x.committed += static_cast<int64_t>(rng() % 2);
            }
          if (rng() % 2 == 0)
            map->grant(shard, ++epochs[shard], later);
          break;
        }
        case 5: // the shard comes back if it left
          if (!held)
            map->grant(shard, ++epochs[shard], later);
          break;
        default: { // a merchant reads
          bool mine = rng() % 8 != 0;
          auto got = cache.find(o.id, mine ? "mch_a" : "mch_b");
          if (!got)
            break;
          ASSERT_TRUE(mine) << "seed " << seed << " step " << step;
          ASSERT_TRUE(held) << "seed " << seed << " step " << step;
          ASSERT_EQ(*got, order_read_cache::render(order(o.id, o.committed)))
            << "seed " << seed << " step " << step << " " << o.id;
          hits++;
          break;
        }
      }
      ASSERT_LE(cache.snapshot().entries, capacity);
    }
    EXPECT_GT(hits, 0u) << "seed " << seed; // the property was exercised
  }
}

} // namespace
} // namespace payengine
