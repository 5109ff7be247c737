// The relay's window: one event per order in flight, confirms (single and
// multiple), a nack or a lost connection voids what is in flight and
// rewinds the scan, confirmed events wait for their mark.
#include "broker/publish_window.hpp"

#include <gtest/gtest.h>

namespace payengine::broker {
namespace {

const auto t0 = publish_window::clock::now();

TEST(publish_window, one_event_per_order_in_flight) {
  publish_window w{8};
  ASSERT_TRUE(w.admits("evt_1", "ord_a"));
  w.sent(1, "evt_1", "ord_a", 10, t0);
  EXPECT_FALSE(w.admits("evt_1", "ord_a")) << "in flight";
  EXPECT_FALSE(w.admits("evt_3", "ord_a")) << "its order has an event in flight";
  EXPECT_TRUE(w.admits("evt_2", "ord_b"));
  w.sent(2, "evt_2", "ord_b", 20, t0);
  EXPECT_EQ(w.confirmed(1, false), 1u);
  EXPECT_TRUE(w.admits("evt_3", "ord_a")) << "the previous one is confirmed";
  EXPECT_FALSE(w.admits("evt_1", "ord_a")) << "confirmed, awaiting its mark";
  EXPECT_EQ(w.in_flight(), 1u);
  EXPECT_EQ(w.awaiting_mark(), 1u);
}

TEST(publish_window, multiple_confirms_every_tag_up_to_it) {
  publish_window w{8};
  for (uint64_t tag = 1; tag <= 5; ++tag)
    w.sent(tag, "evt_" + std::to_string(tag), "ord_" + std::to_string(tag), int64_t(tag), t0);
  EXPECT_EQ(w.confirmed(3, true), 3u);
  EXPECT_EQ(w.in_flight(), 2u);
  EXPECT_EQ(w.confirmed(3, true), 0u) << "already confirmed";
  EXPECT_EQ(w.confirmed(5, false), 1u);
  EXPECT_EQ(w.confirmed(4, false), 1u) << "confirms may come out of order";
  EXPECT_EQ(w.in_flight(), 0u);
  EXPECT_EQ(w.awaiting_mark(), 5u);
}

TEST(publish_window, bounded_by_sent_and_awaiting_mark) {
  publish_window w{2};
  w.sent(1, "evt_1", "ord_a", 10, t0);
  w.sent(2, "evt_2", "ord_b", 20, t0);
  EXPECT_TRUE(w.full());
  EXPECT_FALSE(w.admits("evt_3", "ord_c"));
  w.confirmed(2, true);
  EXPECT_TRUE(w.full()) << "confirmed events still count until they are marked";
  auto ids = w.to_mark(10);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(w.to_mark(1).size(), 1u);
  w.marked(ids);
  EXPECT_FALSE(w.full());
  EXPECT_EQ(w.awaiting_mark(), 0u);
}

TEST(publish_window, a_lost_connection_voids_what_is_in_flight_and_rewinds) {
  publish_window w{8};
  w.scanned(40);
  w.sent(1, "evt_1", "ord_a", 10, t0);
  w.sent(2, "evt_2", "ord_b", 20, t0 + std::chrono::seconds{1});
  w.confirmed(2, false);
  ASSERT_EQ(w.oldest_sent(), t0);
  w.void_in_flight();
  EXPECT_EQ(w.in_flight(), 0u);
  EXPECT_EQ(w.scan_after(), 0) << "the backlog is scanned again from its start";
  EXPECT_TRUE(w.admits("evt_1", "ord_a")) << "sent again";
  EXPECT_FALSE(w.admits("evt_2", "ord_b")) << "confirmed stays confirmed";
  EXPECT_FALSE(w.oldest_sent());
  w.sent(1, "evt_1", "ord_a", 10, t0); // tags start over on a new connection
}

TEST(publish_window, the_scan_goes_back_to_what_may_be_ready) {
  publish_window w{8};
  EXPECT_FALSE(w.at_tail()) << "nothing passed over: wait at the tail";
  w.scanned(10);
  w.sent(1, "evt_1", "ord_a", 10, t0);
  w.scanned(30);
  w.passed_over(30); // ord_a's next event: its order is busy
  w.scanned(50);
  EXPECT_TRUE(w.holds("evt_1"));
  EXPECT_TRUE(w.at_tail());
  EXPECT_EQ(w.scan_after(), 29) << "back to the event passed over";
  EXPECT_FALSE(w.at_tail()) << "once";
  w.scanned(50);
  w.confirmed(1, false);
  w.marked(w.to_mark(8));
  EXPECT_FALSE(w.holds("evt_1"));
  EXPECT_TRUE(w.at_tail()) << "a recorded event: the next of its order may be offered now";
  EXPECT_EQ(w.scan_after(), 9);
  w.rewind();
  EXPECT_EQ(w.scan_after(), 0);
  EXPECT_FALSE(w.at_tail());
}

TEST(publish_window, breaking_its_rules_is_a_bug) {
  publish_window w{8};
  w.sent(5, "evt_1", "ord_a", 10, t0);
  EXPECT_THROW(w.sent(6, "evt_2", "ord_a", 11, t0), std::logic_error) << "a second event of the order";
  EXPECT_THROW(w.sent(4, "evt_3", "ord_c", 12, t0), std::logic_error) << "a tag that went back";
}

} // namespace
} // namespace payengine::broker
