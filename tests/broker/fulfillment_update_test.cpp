// Fulfillment updates from the queue: what applies, and the reason code of
// everything that cannot (API.md "Events on RabbitMQ").
#include "broker/fulfillment_update.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace payengine::broker {
namespace {

using json = nlohmann::json;

std::string refusal(std::string_view body) {
  auto r = parse_fulfillment_update(body);
  auto* refused = std::get_if<update_refused>(&r);
  return refused ? refused->code : "applies";
}

TEST(fulfillment_update, a_good_update) {
  auto r = parse_fulfillment_update(
    R"({"order_id":"ord_abc123","merchant_id":"mch_xyz9","stage":"shipped","detail":"DHL 42"})");
  ASSERT_TRUE(std::holds_alternative<fulfillment_update>(r));
  auto u = std::get<fulfillment_update>(r);
  EXPECT_EQ(u.order_id, "ord_abc123");
  EXPECT_EQ(u.merchant_id, "mch_xyz9");
  EXPECT_EQ(u.stage, fulfillment_stage::shipped);
  EXPECT_EQ(u.detail, "DHL 42");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a","merchant_id":"mch_b","stage":"produced"})"), "applies");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a","merchant_id":"mch_b","stage":"delivered","detail":null})"), "applies");
}

TEST(fulfillment_update, what_can_never_apply_has_its_reason) {
  EXPECT_EQ(refusal(""), "bad_json");
  EXPECT_EQ(refusal("{not json"), "bad_json");
  EXPECT_EQ(refusal("[1,2]"), "bad_json");
  EXPECT_EQ(refusal("\"ord_a\""), "bad_json");
  EXPECT_EQ(refusal("{\"order_id\":\"ord_\xff\"}"), "bad_json") << "not UTF-8";
  EXPECT_EQ(refusal(std::string(100'000, '[')), "too_large");
  EXPECT_EQ(refusal(std::string(1'000, '[') + std::string(1'000, ']')), "bad_json");
  EXPECT_EQ(refusal(R"({"merchant_id":"mch_b","stage":"produced"})"), "invalid_order_id");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a; DROP","merchant_id":"mch_b","stage":"produced"})"), "invalid_order_id");
  EXPECT_EQ(refusal(R"({"order_id":42,"merchant_id":"mch_b","stage":"produced"})"), "invalid_order_id");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a","stage":"produced"})"), "invalid_merchant_id");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a","merchant_id":"ord_b","stage":"produced"})"), "invalid_merchant_id");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a","merchant_id":"mch_b","stage":"none"})"), "invalid_stage");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a","merchant_id":"mch_b","stage":"Shipped"})"), "invalid_stage");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a","merchant_id":"mch_b"})"), "invalid_stage");
  EXPECT_EQ(refusal(R"({"order_id":"ord_a","merchant_id":"mch_b","stage":"shipped","detail":7})"), "invalid_detail");
  json long_detail = {{"order_id", "ord_a"}, {"merchant_id", "mch_b"}, {"stage", "shipped"},
                      {"detail", std::string(501, 'x')}};
  EXPECT_EQ(refusal(long_detail.dump()), "invalid_detail");
  long_detail["detail"] = std::string(500, 'x');
  EXPECT_EQ(refusal(long_detail.dump()), "applies");
  json with_nul = {{"order_id", "ord_a"}, {"merchant_id", "mch_b"}, {"stage", "shipped"},
                   {"detail", std::string("a\0b", 3)}};
  EXPECT_EQ(refusal(with_nul.dump()), "invalid_detail");
}

} // namespace
} // namespace payengine::broker
