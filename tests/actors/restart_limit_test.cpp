// How a registry shard counts an order actor's crashes: at most `max`
// eager restarts within the window; older crashes are forgotten, the total
// is kept for operators. Time is passed in, not waited for.
#include "actors/order_registry.hpp"

#include <gtest/gtest.h>

namespace payengine {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST(restart_limit, at_most_max_eager_restarts_within_the_window) {
  restart_record rec;
  auto t0 = clock_type::time_point{} + 1h;
  EXPECT_TRUE(note_crash(rec, t0, 600s, 3));
  EXPECT_TRUE(note_crash(rec, t0 + 1s, 600s, 3));
  EXPECT_TRUE(note_crash(rec, t0 + 2s, 600s, 3));
  EXPECT_FALSE(note_crash(rec, t0 + 3s, 600s, 3)); // the fourth within ten minutes
  EXPECT_FALSE(note_crash(rec, t0 + 500s, 600s, 3));
  EXPECT_EQ(rec.count, 5u);
}

TEST(restart_limit, crashes_older_than_the_window_are_forgotten) {
  restart_record rec;
  auto t0 = clock_type::time_point{} + 1h;
  for (int i = 0; i < 4; ++i)
    note_crash(rec, t0 + std::chrono::seconds{i}, 600s, 3);
  EXPECT_FALSE(note_crash(rec, t0 + 10s, 600s, 3));
  // Quiet for longer than the window since the last crash: restarted again.
  EXPECT_TRUE(note_crash(rec, t0 + 10s + 601s, 600s, 3));
  EXPECT_EQ(rec.recent, 1u);
  EXPECT_EQ(rec.count, 6u); // operators still see every crash
}

} // namespace
} // namespace payengine
