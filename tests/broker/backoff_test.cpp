// Reconnection back-off: doubling from the floor to the cap, reset by a success.
#include "broker/backoff.hpp"

#include <gtest/gtest.h>

namespace payengine::broker {
namespace {

TEST(backoff, doubles_up_to_its_cap_and_resets) {
  backoff b{100, 1'000};
  EXPECT_EQ(b.failed(), 100u);
  EXPECT_EQ(b.failed(), 200u);
  EXPECT_EQ(b.failed(), 400u);
  EXPECT_EQ(b.failed(), 800u);
  EXPECT_FALSE(b.at_cap());
  EXPECT_EQ(b.failed(), 1'000u);
  EXPECT_TRUE(b.at_cap());
  EXPECT_EQ(b.failed(), 1'000u);
  b.succeeded();
  EXPECT_FALSE(b.at_cap());
  EXPECT_EQ(b.failed(), 100u);
  backoff odd{500, 100};
  EXPECT_EQ(odd.failed(), 500u) << "a cap below the floor is the floor";
  EXPECT_TRUE(odd.at_cap());
}

} // namespace
} // namespace payengine::broker
