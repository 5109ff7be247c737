// A hibernating order actor keeps only its row's bytes (to_bytes) and
// reads them back before its next message (from_bytes): every field must
// come back exactly, whatever a merchant wrote into it.
#include "messages/order.hpp"

#include <gtest/gtest.h>

#include <iterator>
#include <random>

namespace payengine {
namespace {

/// Every field, in declaration order (a new field fails to compile here
/// until it is added: the inspector must carry it too).
auto fields(const order_record& o) {
  const auto& p = o.payment;
  return std::tie(o.id, o.merchant_id, o.merchant_order_no, o.amount, o.currency, o.subject,
                  o.channel, o.status, o.amount_refunded, o.notify_url, o.customer_phone,
                  o.metadata, p.attempt, p.channel_trade_no, p.qr_code, p.paid_at,
                  p.failure_reason, p.method, p.wallet, p.channel, p.tried, o.fulfillment,
                  o.topup_wallet, o.created_at, o.updated_at, o.expires_at, o.version);
}

static_assert(sizeof(order_record) == 640, "order_record changed: add its new field to fields()");

std::string any_text(std::mt19937_64& rng) {
  // Empty, short (in the string's own buffer), long; any byte, NUL and
  // invalid UTF-8 included: free text is stored, never interpreted.
  static const size_t lengths[] = {0, 1, 15, 16, 28, 200, 4096};
  std::string s(lengths[rng() % 7], '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

order_record any_order(std::mt19937_64& rng) {
  order_record o;
  o.id = any_text(rng);
  o.merchant_id = any_text(rng);
  o.merchant_order_no = any_text(rng);
  o.amount = static_cast<int64_t>(rng());
  o.currency = any_text(rng);
  o.subject = any_text(rng);
  o.channel = any_text(rng);
  o.status = all_order_statuses[rng() % std::size(all_order_statuses)];
  o.amount_refunded = static_cast<int64_t>(rng());
  o.notify_url = any_text(rng);
  o.customer_phone = any_text(rng);
  for (auto n = rng() % 4; n > 0; --n)
    o.metadata[any_text(rng)] = any_text(rng);
  o.payment.attempt = static_cast<int32_t>(rng());
  o.payment.channel_trade_no = any_text(rng);
  o.payment.qr_code = any_text(rng);
  o.payment.paid_at = static_cast<int64_t>(rng());
  o.payment.failure_reason = any_text(rng);
  o.payment.method = any_text(rng);
  o.payment.wallet = any_text(rng);
  o.payment.channel = any_text(rng);
  o.payment.tried = any_text(rng);
  o.fulfillment = static_cast<fulfillment_stage>(rng() % 4);
  o.topup_wallet = any_text(rng);
  o.created_at = static_cast<int64_t>(rng());
  o.updated_at = static_cast<int64_t>(rng());
  o.expires_at = static_cast<int64_t>(rng());
  o.version = static_cast<int64_t>(rng());
  return o;
}

TEST(order_bytes, every_field_reads_back_exactly) {
  std::mt19937_64 rng{20261202};
  for (int i = 0; i < 2000; ++i) {
    auto original = any_order(rng);
    auto bytes = to_bytes(original);
    ASSERT_FALSE(bytes.empty());
    order_record back;
    ASSERT_TRUE(from_bytes(bytes, back)) << "seed 20261202, case " << i;
    EXPECT_TRUE(fields(back) == fields(original)) << "seed 20261202, case " << i;
  }
}

TEST(order_bytes, a_new_order_is_about_200_bytes) {
  order_record o;
  o.id = "ord_JWbbrLriPKpynMNIJS4ol3ML";
  o.merchant_id = "mch_3marYjB0LbIpSnZj8MxhTkvX";
  o.merchant_order_no = "M-20261202-000001";
  o.amount = 8888;
  o.currency = "CNY";
  o.subject = "Annual plan";
  o.channel = "alipay";
  o.created_at = o.updated_at = 1'796'000'000'000'000;
  o.expires_at = o.created_at + 900'000'000;
  o.version = 1;
  auto bytes = to_bytes(o);
  EXPECT_LE(bytes.size(), 256u) << bytes.size();
  EXPECT_LT(bytes.size(), sizeof(order_record));
}

TEST(order_bytes, cut_or_padded_bytes_are_refused) {
  std::mt19937_64 rng{7};
  auto bytes = to_bytes(any_order(rng));
  order_record back;
  for (size_t cut : {size_t{0}, size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    std::vector<char> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(from_bytes(part, back)) << "cut at " << cut;
  }
  auto padded = bytes;
  padded.push_back('x');
  EXPECT_FALSE(from_bytes(padded, back));
}

} // namespace
} // namespace payengine
