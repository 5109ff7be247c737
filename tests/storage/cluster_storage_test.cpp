// Shard leases and fencing in PostgreSQL (storage/cluster_table.cpp).
#include "storage/database.hpp"
#include "storage/tables.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

namespace payengine {
namespace {

using testing::test_database;

class cluster_storage : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    db_ = std::make_unique<test_database>("cluster");
    auto plain = storage::connect_for_migrations(db_->url());
    storage::migrate(*plain);
    conn_ = storage::connect(db_->url());
    pqxx::work tx{*conn_};
    ASSERT_EQ(storage::init_cluster(tx, 8), 8u);
    tx.commit();
  }
  std::unique_ptr<test_database> db_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(cluster_storage, the_shard_count_of_the_first_start_is_kept) {
  pqxx::work tx{*conn_};
  EXPECT_EQ(storage::init_cluster(tx, 64), 8u);
  EXPECT_EQ(storage::shard_leases(tx).size(), 8u);
}

TEST_F(cluster_storage, taking_bumps_the_epoch_and_a_live_lease_is_not_taken) {
  {
    pqxx::work tx{*conn_};
    storage::lock_leases(tx);
    auto taken = storage::take_leases(tx, "a", 60'000, {0, 1});
    ASSERT_EQ(taken.size(), 2u);
    EXPECT_EQ(taken[0].second, 1u);
    tx.commit();
  }
  {
    pqxx::work tx{*conn_};
    EXPECT_TRUE(storage::take_leases(tx, "b", 60'000, {0}).empty()); // a's, not expired
    // Renewal under a wrong epoch renews nothing.
    EXPECT_TRUE(storage::renew_leases(tx, "a", 60'000, {{0, 5}}).empty());
    EXPECT_EQ(storage::renew_leases(tx, "a", 60'000, {{0, 1}}).size(), 1u);
    tx.commit();
  }
  {
    // Expired: b takes it with a new epoch; a's renewal then fails.
    pqxx::work tx{*conn_};
    tx.exec("UPDATE shard_leases SET expires_at = now() - interval '1 s' WHERE shard = 0");
    auto taken = storage::take_leases(tx, "b", 60'000, {0});
    ASSERT_EQ(taken.size(), 1u);
    EXPECT_EQ(taken[0].second, 2u);
    EXPECT_TRUE(storage::renew_leases(tx, "a", 60'000, {{0, 1}}).empty());
    auto fenced = storage::fence_epochs(tx, {0, 1});
    ASSERT_EQ(fenced.size(), 2u);
    EXPECT_EQ(fenced[0], (std::pair<uint32_t, uint64_t>{0, 2}));
    storage::release_leases(tx, "b", {{0, 2}});
    tx.commit();
  }
  pqxx::work tx{*conn_};
  auto leases = storage::shard_leases(tx);
  EXPECT_EQ(leases[0].owner, "");
  EXPECT_EQ(leases[0].epoch, 2u); // epochs never go back
}

TEST_F(cluster_storage, a_fencing_check_holds_off_a_takeover_until_its_commit) {
  // The writer's check locks the lease row FOR SHARE: a concurrent epoch
  // bump waits (here: runs into its statement timeout) until the commit.
  {
    pqxx::work tx{*conn_};
    tx.exec("UPDATE shard_leases SET expires_at = 'epoch' WHERE shard = 3"); // free to take
    tx.commit();
  }
  pqxx::work writer{*conn_};
  auto epochs = storage::fence_epochs(writer, {3});
  ASSERT_EQ(epochs.size(), 1u);
  storage::session_limits quick;
  quick.statement_timeout_ms = 300;
  auto other = storage::connect(db_->url(), quick);
  {
    pqxx::work tx{*other};
    EXPECT_THROW(storage::take_leases(tx, "b", 60'000, {3}), pqxx::sql_error);
  }
  writer.commit();
  pqxx::work tx{*other};
  EXPECT_EQ(storage::take_leases(tx, "b", 60'000, {3}).size(), 1u);
}

TEST_F(cluster_storage, nodes_are_live_while_their_heartbeat_is_recent) {
  pqxx::work tx{*conn_};
  storage::heartbeat(tx, "a", "http://a");
  storage::heartbeat(tx, "b", "http://b");
  tx.exec("UPDATE cluster_nodes SET heartbeat_at = now() - interval '10 s' WHERE id = 'b'");
  auto nodes = storage::cluster_nodes(tx, 3'000);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_TRUE(nodes[0].live);
  EXPECT_FALSE(nodes[1].live);
  storage::leave_cluster(tx, "a");
  EXPECT_EQ(storage::cluster_nodes(tx, 3'000).size(), 1u);
}

} // namespace
} // namespace payengine
