#include "channels/form.hpp"

#include <gtest/gtest.h>

#include <random>

#include "channels/limits.hpp"

namespace payengine::channels {
namespace {

TEST(channels_form, encodes_reserved_and_utf8_bytes) {
  EXPECT_EQ(percent_encode("a b&c=d+e/f"), "a+b%26c%3Dd%2Be%2Ff");
  EXPECT_EQ(percent_encode("语"), "%E8%AF%AD");
  EXPECT_EQ(percent_encode("A-z_0.9*"), "A-z_0.9*");
}

TEST(channels_form, decodes_plus_as_space_only_in_forms) {
  EXPECT_EQ(percent_decode("a+b%20c", true), "a b c");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("%e8%af%ad", true), "语");
}

TEST(channels_form, rejects_malformed_escapes) {
  for (const char* text : {"%", "%4", "a%", "%G1", "%1G", "%%41", "abc%2"}) {
    EXPECT_FALSE(percent_decode(text, true)) << text;
  }
}

TEST(channels_form, round_trips_any_bytes) {
  params fields{{"biz_content", R"({"subject":"年费 & more","n":"a=b"})"}, {"sign", "ab+/=="}, {"empty", ""}};
  std::string binary;
  for (int byte = 0; byte < 256; ++byte) binary += static_cast<char>(byte);
  fields["binary"] = binary;
  const auto decoded = form_decode(form_encode(fields));
  ASSERT_TRUE(decoded) << decoded.error().detail;
  EXPECT_EQ(*decoded, fields);
}

TEST(channels_form, skips_empty_segments_and_allows_missing_value) {
  const auto decoded = form_decode("&a=1&&b&c=");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, (params{{"a", "1"}, {"b", ""}, {"c", ""}}));
}

TEST(channels_form, refuses_ambiguous_or_oversized_forms) {
  EXPECT_EQ(form_decode("a=1&a=2").error().code, errc::malformed_form);
  EXPECT_EQ(form_decode("=1").error().code, errc::malformed_form);
  EXPECT_EQ(form_decode("a=%zz").error().code, errc::malformed_form);
  EXPECT_EQ(form_decode("a=%4").error().code, errc::malformed_form);
  EXPECT_EQ(form_decode(std::string(limits::form_bytes_max + 1, 'a')).error().code, errc::too_large);
  std::string many;
  for (std::size_t i = 0; i <= limits::form_params_max; ++i) many += "k" + std::to_string(i) + "=v&";
  EXPECT_EQ(form_decode(many).error().code, errc::too_large);
}

// Hostile input never crashes: random bytes biased towards '%', '&', '='.
TEST(channels_form, survives_random_input) {
  std::mt19937 random(12345);
  const std::string alphabet("%&=+aF0\xff\0", 9);
  for (int round = 0; round < 2000; ++round) {
    std::string text(random() % 64, '\0');
    for (char& c : text) c = alphabet[random() % alphabet.size()];
    const auto decoded = form_decode(text);
    if (decoded) {
      EXPECT_LE(decoded->size(), limits::form_params_max);
    }
  }
  const std::string huge(limits::form_bytes_max, '%');
  EXPECT_FALSE(form_decode(huge));
  EXPECT_FALSE(percent_decode(std::string(1 << 20, '%'), true));
}

}  // namespace
}  // namespace payengine::channels
