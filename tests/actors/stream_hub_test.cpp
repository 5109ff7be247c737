// The stream hub: every client gets every frame in order; a client that
// does not read loses its oldest frames (counted), never slows publishing
// nor the other clients; close wakes everyone.
#include "actors/stream_hub.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace payengine {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> drain(stream_hub::client& c, uint64_t& dropped) {
  std::vector<stream_hub::frame> frames;
  c.next(frames, dropped, 0ms);
  std::vector<std::string> out;
  for (const auto& f : frames)
    out.push_back(*f);
  return out;
}

TEST(stream_hub, frames_are_server_sent_events_in_order) {
  stream_hub hub{4, 100};
  auto c = hub.subscribe();
  ASSERT_TRUE(c);
  hub.publish("transition", R"({"n":1})");
  hub.publish("lifecycle", R"({"n":2})");
  uint64_t dropped = 99;
  auto got = drain(*c, dropped);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "id: 1\nevent: transition\ndata: {\"n\":1}\n\n");
  EXPECT_EQ(got[1], "id: 2\nevent: lifecycle\ndata: {\"n\":2}\n\n");
  EXPECT_EQ(dropped, 0u);
}

TEST(stream_hub, a_client_that_does_not_read_loses_its_oldest_frames_only) {
  stream_hub hub{4, 16};
  auto slow = hub.subscribe();
  auto fast = hub.subscribe();
  uint64_t dropped = 0;
  size_t fast_seen = 0;
  for (int i = 0; i < 1000; ++i) {
    hub.publish("transition", std::to_string(i));
    if (i % 10 == 9)
      fast_seen += drain(*fast, dropped).size();
  }
  fast_seen += drain(*fast, dropped).size();
  EXPECT_EQ(fast_seen, 1000u); // the fast client saw everything
  EXPECT_EQ(dropped, 0u);
  auto kept = drain(*slow, dropped);
  ASSERT_EQ(kept.size(), 16u); // its buffer bound
  EXPECT_EQ(dropped, 984u);    // and it is told what it lost
  EXPECT_NE(kept.front().find("data: 984\n"), std::string::npos); // the newest survive
  EXPECT_NE(kept.back().find("data: 999\n"), std::string::npos);
  EXPECT_EQ(hub.dropped(), 984u);
}

TEST(stream_hub, bounded_number_of_clients) {
  stream_hub hub{2, 16};
  auto a = hub.subscribe();
  auto b = hub.subscribe();
  EXPECT_TRUE(a && b);
  EXPECT_FALSE(hub.subscribe());
  EXPECT_EQ(hub.clients(), 2u);
  hub.unsubscribe(a);
  EXPECT_EQ(hub.clients(), 1u);
  EXPECT_TRUE(hub.subscribe());
}

TEST(stream_hub, close_wakes_a_waiting_client) {
  stream_hub hub{2, 16};
  auto c = hub.subscribe();
  bool open = true;
  std::thread waiter{[&] {
    std::vector<stream_hub::frame> frames;
    uint64_t dropped = 0;
    open = c->next(frames, dropped, 60s); // would wait a minute without close()
  }};
  hub.close();
  waiter.join();
  EXPECT_FALSE(open);
  EXPECT_FALSE(hub.subscribe());
}

} // namespace
} // namespace payengine
