#include "channels/alipay_notification.hpp"

#include <gtest/gtest.h>

#include "channels/alipay_sign.hpp"
#include "tests/channels/test_keys.hpp"

namespace payengine::channels::alipay {
namespace {

using test::channel_private;
using test::channel_public;

constexpr std::string_view app_id = "2021000000000001";

notification sample() {
  notification n;
  n.notify_id = "ntf-1";
  n.notify_time = "2024-05-01 12:00:05";
  n.notify_type = "trade_status_sync";
  n.app_id = std::string(app_id);
  n.out_trade_no = "ord_1001";
  n.trade_no = "2024050122001400000001";
  n.status = trade_status::trade_success;
  n.total_amount = 8888;
  n.receipt_amount = 8888;
  n.gmt_payment = "2024-05-01 12:00:04";
  n.subject = "年费 & more";
  return n;
}

TEST(channels_alipay_notification, round_trips) {
  const auto body = make_notification(sample(), channel_private());
  ASSERT_TRUE(body) << body.error().detail;
  const auto n = verify_notification(*body, channel_public(), app_id);
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(n->out_trade_no, "ord_1001");
  EXPECT_EQ(n->status, trade_status::trade_success);
  EXPECT_EQ(n->total_amount, 8888);
  EXPECT_EQ(n->receipt_amount, 8888);
  EXPECT_EQ(n->gmt_payment, "2024-05-01 12:00:04");
  EXPECT_EQ(n->subject, "年费 & more");
  EXPECT_FALSE(n->refund_fee);
  const auto fields = form_decode(*body).value();
  EXPECT_EQ(fields.at("sign_type"), "RSA2");
  EXPECT_EQ(fields.count("refund_fee"), 0u);  // no empty parameters are sent
}

TEST(channels_alipay_notification, tampering_with_any_parameter_fails) {
  const auto fields = form_decode(make_notification(sample(), channel_private()).value()).value();
  for (const auto& [name, value] : fields) {
    if (name == "sign") continue;
    auto tampered = fields;
    tampered[name] = name == "total_amount" ? "1.00" : value + "x";
    const auto result = verify_notification(form_encode(tampered), channel_public(), app_id);
    ASSERT_FALSE(result) << name;
    EXPECT_TRUE(result.error().code == errc::bad_signature || result.error().code == errc::unsupported_sign_type)
        << name;
  }
  auto added = fields;
  added["refund_fee"] = "88.88";
  EXPECT_EQ(verify_notification(form_encode(added), channel_public(), app_id).error().code, errc::bad_signature);
}

TEST(channels_alipay_notification, unsigned_forged_and_foreign_are_refused) {
  auto fields = form_decode(make_notification(sample(), channel_private()).value()).value();
  auto unsigned_fields = fields;
  unsigned_fields.erase("sign");
  EXPECT_EQ(verify_notification(form_encode(unsigned_fields), channel_public(), app_id).error().code,
            errc::missing_signature);
  const auto& app_key = test::app_private();
  const auto forged = make_notification(sample(), app_key).value();
  EXPECT_EQ(verify_notification(forged, channel_public(), app_id).error().code, errc::bad_signature);
  EXPECT_EQ(verify_notification(form_encode(fields), channel_public(), "2021000000000002").error().code,
            errc::app_id_mismatch);
  EXPECT_EQ(verify_notification("sign=%zz", channel_public(), app_id).error().code, errc::malformed_form);
  EXPECT_EQ(verify_notification("", channel_public(), app_id).error().code, errc::missing_signature);
}

TEST(channels_alipay_notification, signed_but_malformed_is_refused) {
  auto missing = sample();
  missing.notify_id.clear();
  const auto body = make_notification(missing, channel_private()).value();
  EXPECT_EQ(verify_notification(body, channel_public(), app_id).error().code, errc::missing_field);
  // A correctly signed, badly formatted amount.
  auto fields = form_decode(make_notification(sample(), channel_private()).value()).value();
  fields["total_amount"] = "88.888";
  fields.erase("sign_type");
  fields["sign"] = channel_private().sign(canonical_string(fields, false)).value();
  EXPECT_EQ(verify_notification(form_encode(fields), channel_public(), app_id).error().code, errc::bad_amount);
  fields["total_amount"] = "88.88";
  fields["trade_status"] = "PAID";
  fields["sign"] = channel_private().sign(canonical_string(fields, false)).value();
  EXPECT_EQ(verify_notification(form_encode(fields), channel_public(), app_id).error().code, errc::bad_field);
  EXPECT_EQ(make_notification([] { auto n = sample(); n.total_amount = -1; return n; }(), channel_private())
                .error()
                .code,
            errc::bad_amount);
}

TEST(channels_alipay_notification, accepts_signatures_with_sign_type_included) {
  auto fields = form_decode(make_notification(sample(), channel_private()).value()).value();
  fields["sign"] = channel_private().sign(canonical_string(fields, true)).value();
  EXPECT_TRUE(verify_notification(form_encode(fields), channel_public(), app_id));
}

// Published vectors: real notifications from the test suite of Alipay's
// official Node SDK (alipay-sdk-nodejs-all, test/alipay.test.js,
// "checkNotifySign"). This one is signed without sign_type.
TEST(channels_alipay_notification, published_trade_notification_verifies) {
  const auto alipay_public = public_key::from_pem(
      "-----BEGIN PUBLIC KEY-----\n"
      "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv\n"
      "3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXIofVHkA/tAlBAd5DrY7Yp\n"
      "vI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcO\n"
      "rxFYRlFilvVLTXg4LWjR1tdPkO6+i7wQZAIVMClPkwVRZEbaERRHlKqTzv2gGv5r\n"
      "DU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV\n"
      "5/FdcWIt+L8SR1ss7EXTjYDFtxcKVv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5\n"
      "JwIDAQAB\n"
      "-----END PUBLIC KEY-----\n");
  ASSERT_TRUE(alipay_public);
  const params fields{
      {"gmt_create", "2019-08-15 15:37:55"},
      {"charset", "utf-8"},
      {"seller_email", "z97-yuquerevenue@service.aliyun.com"},
      {"subject", "语雀空间 500人规模"},
      {"sign",
       "QUxj7MQ0NQT++AyDbykzTw6iWflrgfY7EIssTaNfJaDkOHqZAFv3hbr97h+z/LCkmnqkBq+V81uHtb3q+i19W1B7FlMNfJB8XPSFD3xdHXEzv"
       "j9ccFTE9gxCEG+3oub4TeNe+rrOCt+3cfOFRh5jZzAiZbEZQem3ZMdhIHz/I6TVGNWuPOL4Wr56/Vjq57BLZUPKYpDo7DVfNEYeu0dZ76irM"
       "hE4a5FJ26c6qQu9gnG6NmKhtn+tSI6859RKF9bzptbM49klrliVnjBI4m6y7f329Ur9lecC/UlbIo3vKDFmcsLlADKu64FT5jjyRVaVQcP6"
       "4khZdJwRdzrJ5QxxxQ=="},
      {"buyer_id", "2088102534368455"},
      {"invoice_amount", "0.10"},
      {"notify_id", "2019081500222153759068450559621257"},
      {"fund_bill_list", R"([{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}])"},
      {"notify_type", "trade_status_sync"},
      {"trade_status", "TRADE_SUCCESS"},
      {"receipt_amount", "0.10"},
      {"buyer_pay_amount", "0.10"},
      {"app_id", "2019073166072302"},
      {"sign_type", "RSA2"},
      {"seller_id", "2088531891668739"},
      {"gmt_payment", "2019-08-15 15:37:58"},
      {"notify_time", "2019-08-15 15:37:59"},
      {"version", "1.0"},
      {"out_trade_no", "20190815153750722-564-55"},
      {"total_amount", "0.10"},
      {"trade_no", "2019081522001468450509133591"},
      {"auth_app_id", "2019073166072302"},
      {"buyer_logon_id", "xud***@126.com"},
      {"point_amount", "0.00"}};
  const auto n = verify_notification(form_encode(fields), *alipay_public, "2019073166072302");
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(n->status, trade_status::trade_success);
  EXPECT_EQ(n->total_amount, 10);
  EXPECT_EQ(n->trade_no, "2019081522001468450509133591");
  auto tampered = fields;
  tampered["total_amount"] = "0.11";
  EXPECT_EQ(verify_notification(form_encode(tampered), *alipay_public, "2019073166072302").error().code,
            errc::bad_signature);
}

// The same suite's servicemarket notification, signed with sign_type kept.
TEST(channels_alipay_notification, published_notification_with_sign_type_verifies) {
  const auto alipay_public = public_key::from_pem(
      "-----BEGIN PUBLIC KEY-----\n"
      "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk6DCsBIUhWriFohzRV8F\n"
      "ic6oQWNnLKKILNk97VU5qcHEuxYzCujKoyva5gy1170mFJw4IcgJF8AyS7iDUwzA\n"
      "wF4Pp9CpWxDhUhe7mdQJhjBmvTcPLGFFrzlj6unO5lAcbdwaxPUtSxOaNxPJGrTK\n"
      "/wnKQSbjTMMltp1J68q2Tfgrsn/NdZ6lrxO9rvmky8kowqaH5NjntyHO59jCGabM\n"
      "j5sI14z8N61wB/QuIJrDuzIPMPrSNbq0cOWcSCDG09oUHTp9fk7suDB8UiFcmVTX\n"
      "OvK3d4HbeX8V9YsEMxrwxEoYgRRj6K2qrC6oxw480cqf2ueumCmHg6xrcgkyXK81\n"
      "hwIDAQAB\n"
      "-----END PUBLIC KEY-----\n");
  ASSERT_TRUE(alipay_public);
  params fields{
      {"app_id", "2017122801303261"},
      {"charset", "UTF-8"},
      {"commodity_order_id", "2019030800000018079639"},
      {"contactor", "技术支持测试的公司"},
      {"merchant_pid", "2088721996721370"},
      {"method", "alipay.open.servicemarket.order.notify"},
      {"name", "技术支持测试的公司"},
      {"notify_id", "2019030800222102023008121054923345"},
      {"notify_time", "2019-03-08 10:20:23"},
      {"notify_type", "servicemarket_order_notify"},
      {"order_item_num", "1"},
      {"order_ticket", "29b1c37d99ab48c5bd5bdaeaeaefbB37"},
      {"order_time", "2019-03-08 10:20:08"},
      {"phone", "17826894615"},
      {"service_code", "58621634"},
      {"sign",
       "MsK5SCw8oqLw4f0hiNSd5OVGXxBY3wnQeT8vn5PklJSZFWSZbK4hQbNvkp4ZezeXQH514cEv0ul6Qow8yh6e6yM06LfEL+EZjcpZ0nxzFGRNQ"
       "5qq2AUc1OaXQdk92AGvxh+Iq4NGpPQFBd4D8EBJa3NJd8+czMfQskceosOQFqUtLQMYa5DPs+VpN7VM5BdXjaVIuKn5d9Wm2B9dI9ObIM+Y"
       "RySDkZZPv14DVmUvcrcqJfOR8aHvtSd7B4l92wUQPQgQKNcOQho7xOHS/Bk+Y74AZL2y7TkNmdDoq9OGsThuF5tDW9rI9nVwXxOtsuB+bst"
       "ra+W7aw9x9DvkKgdSRw=="},
      {"sign_type", "RSA2"},
      {"timestamp", "2019-03-08 10:20:23"},
      {"title", "麦禾商城模版"},
      {"total_price", "0.00"},
      {"version", "1.0"}};
  EXPECT_TRUE(verify_notification_signature(fields, *alipay_public));
  fields["service_code"] = "58621634111";
  EXPECT_FALSE(verify_notification_signature(fields, *alipay_public));
}

}  // namespace
}  // namespace payengine::channels::alipay
