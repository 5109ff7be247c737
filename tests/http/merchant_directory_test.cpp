// The merchant cache: entries expire after the TTL (so that a change made
// on another node shows), an update replaces a cached record at once, and
// expired entries do not pile up.
#include "http/context.hpp"

#include <gtest/gtest.h>

namespace payengine::http {
namespace {

using namespace std::chrono_literals;

const merchant_directory::time_point t0{std::chrono::hours{1}};

merchant_record merchant(const std::string& id, uint32_t rate) {
  merchant_record m;
  m.id = id;
  m.name = "m";
  m.rate_per_s = rate;
  return m;
}

TEST(merchant_directory, an_entry_is_served_until_its_ttl) {
  merchant_directory d{5s};
  d.remember("h1", merchant("mch_a", 1), t0);
  EXPECT_TRUE(d.cached("h1", t0 + 4999ms));
  EXPECT_FALSE(d.cached("h1", t0 + 5s));
  EXPECT_FALSE(d.cached("h2", t0));
  d.remember("h1", merchant("mch_a", 2), t0 + 6s); // read again from storage
  EXPECT_EQ(d.cached("h1", t0 + 6s)->rate_per_s, 2u);
}

TEST(merchant_directory, an_update_replaces_the_cached_record_and_refreshes_it) {
  merchant_directory d{5s};
  d.remember("h1", merchant("mch_a", 1), t0);
  d.update(merchant("mch_a", 9), t0 + 4s);
  EXPECT_EQ(d.cached("h1", t0 + 8s)->rate_per_s, 9u);
  d.update(merchant("mch_unknown", 9), t0 + 4s); // not cached here: nothing to do
  EXPECT_FALSE(d.cached("mch_unknown", t0 + 4s));
}

TEST(merchant_directory, expired_entries_are_dropped_as_the_map_grows) {
  merchant_directory d{1s};
  for (int i = 0; i < 10'000; ++i) { // a millisecond apart: a second's worth is fresh
    d.remember("h" + std::to_string(i), merchant("mch_" + std::to_string(i), 0),
               t0 + std::chrono::milliseconds{i});
    ASSERT_LE(d.size(), 2'048u);
  }
  EXPECT_TRUE(d.cached("h9999", t0 + 9999ms));
}

} // namespace
} // namespace payengine::http
