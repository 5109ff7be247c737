#include "channels/money_text.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace payengine::channels {
namespace {

TEST(channels_money_text, minor_to_decimal_formats_exactly) {
  EXPECT_EQ(minor_to_decimal(8888, 2), "88.88");
  EXPECT_EQ(minor_to_decimal(5, 2), "0.05");
  EXPECT_EQ(minor_to_decimal(0, 2), "0.00");
  EXPECT_EQ(minor_to_decimal(100, 2), "1.00");
  EXPECT_EQ(minor_to_decimal(8888, 0), "8888");
  EXPECT_EQ(minor_to_decimal(1234, 3), "1.234");
  EXPECT_EQ(minor_to_decimal(7, 3), "0.007");
  EXPECT_EQ(minor_to_decimal(std::numeric_limits<std::int64_t>::max(), 2), "92233720368547758.07");
}

TEST(channels_money_text, minor_to_decimal_refuses_negatives_and_odd_exponents) {
  EXPECT_FALSE(minor_to_decimal(-1, 2));
  EXPECT_FALSE(minor_to_decimal(1, -1));
  EXPECT_FALSE(minor_to_decimal(1, 10));
}

TEST(channels_money_text, decimal_to_minor_accepts_short_fractions) {
  EXPECT_EQ(decimal_to_minor("88.88", 2), 8888);
  EXPECT_EQ(decimal_to_minor("88.8", 2), 8880);
  EXPECT_EQ(decimal_to_minor("88", 2), 8800);
  EXPECT_EQ(decimal_to_minor("0.01", 2), 1);
  EXPECT_EQ(decimal_to_minor("0", 2), 0);
  EXPECT_EQ(decimal_to_minor("8888", 0), 8888);
  EXPECT_EQ(decimal_to_minor("1.234", 3), 1234);
  EXPECT_EQ(decimal_to_minor("1.2", 3), 1200);
  EXPECT_EQ(decimal_to_minor("92233720368547758.07", 2), std::numeric_limits<std::int64_t>::max());
}

TEST(channels_money_text, decimal_to_minor_rejects_malformed_text) {
  for (const char* text : {"", "1.", ".5", "-1", "+1", "1e3", " 1", "1 ", "1.234", "1,00", "01", "00.5", "1.2.3",
                           "0x10", "１", "1.-1", "1.+1", "."}) {
    EXPECT_FALSE(decimal_to_minor(text, 2)) << text;
  }
  EXPECT_FALSE(decimal_to_minor("1.5", 0));
  EXPECT_FALSE(decimal_to_minor("1", 10));
}

TEST(channels_money_text, decimal_to_minor_rejects_overflow) {
  EXPECT_FALSE(decimal_to_minor("92233720368547758.08", 2));
  EXPECT_FALSE(decimal_to_minor("9223372036854775808", 0));
  EXPECT_FALSE(decimal_to_minor(std::string(400, '9'), 2));
}

TEST(channels_money_text, round_trips) {
  for (std::int64_t minor : {0LL, 1LL, 9LL, 10LL, 99LL, 100LL, 8888LL, 1000000000000LL}) {
    for (int exponent : {0, 2, 3}) {
      const auto text = minor_to_decimal(minor, exponent);
      ASSERT_TRUE(text);
      EXPECT_EQ(decimal_to_minor(*text, exponent), minor) << *text;
    }
  }
}

}  // namespace
}  // namespace payengine::channels
