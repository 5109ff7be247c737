// Money, currencies, ids and timestamps: the domain's small pieces.
#include "messages/ids.hpp"
#include "messages/money.hpp"
#include "messages/order.hpp"
#include "messages/timestamps.hpp"

#include <gtest/gtest.h>

#include <set>

namespace payengine {
namespace {

TEST(money, amounts_are_bounded_integers) {
  EXPECT_FALSE(valid_amount(0));
  EXPECT_FALSE(valid_amount(-1));
  EXPECT_TRUE(valid_amount(1));
  EXPECT_TRUE(valid_amount(1'000'000'000'000));
  EXPECT_FALSE(valid_amount(1'000'000'000'001));
}

TEST(money, currencies_know_their_minor_units) {
  ASSERT_NE(find_currency("CNY"), nullptr);
  EXPECT_EQ(find_currency("CNY")->exponent, 2);
  EXPECT_EQ(find_currency("JPY")->exponent, 0);
  EXPECT_EQ(find_currency("KWD")->exponent, 3);
  EXPECT_EQ(find_currency("cny"), nullptr);
  EXPECT_EQ(find_currency("XXX"), nullptr);
  EXPECT_EQ(find_currency(""), nullptr);
  EXPECT_EQ(find_currency("CNYY"), nullptr);
}

TEST(ids, are_prefixed_unique_and_well_formed) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_id("ord");
    EXPECT_EQ(id.size(), 4u + 24u);
    EXPECT_TRUE(well_formed_id(id, "ord")) << id;
    EXPECT_FALSE(well_formed_id(id, "rfd"));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(well_formed_id("ord_", "ord"));
  EXPECT_FALSE(well_formed_id("ord_abc/def", "ord"));
  EXPECT_FALSE(well_formed_id("ord_abc'--", "ord"));
  EXPECT_FALSE(well_formed_id("ordabc", "ord"));
  EXPECT_FALSE(well_formed_id("ord_" + std::string(65, 'a'), "ord"));
}

TEST(ids, shard_index_is_stable_and_spread) {
  EXPECT_EQ(shard_index("ord_abc", 4), shard_index("ord_abc", 4));
  std::vector<int> counts(4);
  for (int i = 0; i < 4000; ++i)
    counts[shard_index(new_id("ord"), 4)]++;
  for (auto c : counts)
    EXPECT_GT(c, 800);
}

TEST(ids, sha256_and_base64_match_known_vectors) {
  EXPECT_EQ(sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_TRUE(secrets_equal("abc", "abc"));
  EXPECT_FALSE(secrets_equal("abc", "abd"));
  EXPECT_FALSE(secrets_equal("abc", "abcd"));
}

TEST(timestamps, rfc3339_in_utc_with_milliseconds) {
  EXPECT_EQ(to_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(to_rfc3339(1'700'000'000'123'000), "2023-11-14T22:13:20.123Z");
  auto now = now_us();
  EXPECT_EQ(now % 1000, 0) << "now_us is truncated to milliseconds";
}

TEST(orders, invariants_catch_broken_records) {
  order_record o;
  o.id = "ord_x";
  o.merchant_id = "mch_x";
  o.amount = 100;
  o.currency = "CNY";
  o.version = 1;
  o.created_at = o.updated_at = 1'000'000;
  o.expires_at = 2'000'000;
  EXPECT_TRUE(order_invariants_hold(o));
  auto bad = o;
  bad.amount_refunded = 101;
  EXPECT_FALSE(order_invariants_hold(bad));
  bad = o;
  bad.currency = "ABC";
  EXPECT_FALSE(order_invariants_hold(bad));
  bad = o;
  bad.version = 0;
  EXPECT_FALSE(order_invariants_hold(bad));
}

} // namespace
} // namespace payengine
