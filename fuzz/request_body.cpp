// A request body as POST /v1/orders, POST /v1/orders/{id}/refund,
// POST /v1/orders/{id}/pay, POST /v1/wallets and POST|PATCH /admin/merchants
// read it (http/validation.hpp): parse_json_object, then each field parser on
// the same object.
#include "fuzz/fuzz_check.hpp"
#include "http/validation.hpp"
#include "messages/money.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace payengine;
using namespace payengine::http;
using json = nlohmann::json;

namespace {

void check_error(const api_error& e) {
  FUZZ_CHECK(e.status >= 400 && e.status < 500);
  FUZZ_CHECK(!e.message.empty());
  FUZZ_CHECK(e.param.size() <= 64);
}

bool valid_order_no_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

void check_order(const json& body, const std::set<std::string>& channels) {
  auto r = parse_new_order(body, channels);
  if (auto* e = std::get_if<api_error>(&r))
    return check_error(*e);
  const auto& f = std::get<new_order_fields>(r);
  FUZZ_CHECK(valid_amount(f.amount));
  FUZZ_CHECK(find_currency(f.currency) != nullptr);
  FUZZ_CHECK(f.expires_in_s >= 60 && f.expires_in_s <= 86400);
  FUZZ_CHECK(!f.merchant_order_no.empty() && f.merchant_order_no.size() <= 64);
  FUZZ_CHECK(std::all_of(f.merchant_order_no.begin(), f.merchant_order_no.end(), valid_order_no_char));
  FUZZ_CHECK(!f.subject.empty() && utf8_length(f.subject) <= 256);
  FUZZ_CHECK(channels.count(f.channel) == 1);
  FUZZ_CHECK(f.notify_url.empty() || plausible_url(f.notify_url));
  FUZZ_CHECK(f.customer_phone.empty() || (f.customer_phone.size() >= 3 && f.customer_phone.size() <= 16
                                          && f.customer_phone[0] == '+'));
  FUZZ_CHECK(f.metadata.size() <= 20);
  for (const auto& [k, v] : f.metadata)
    FUZZ_CHECK(!k.empty() && utf8_length(k) <= 40 && acceptable_text(v, 500));
  // What was accepted is what was sent.
  FUZZ_CHECK(body.at("amount").get<int64_t>() == f.amount);
  FUZZ_CHECK(body.at("merchant_order_no").get<std::string>() == f.merchant_order_no);
}

void check_refund(const json& body) {
  auto r = parse_refund_fields(body);
  if (auto* e = std::get_if<api_error>(&r))
    return check_error(*e);
  const auto& f = std::get<refund_fields>(r);
  FUZZ_CHECK(valid_amount(f.amount));
  FUZZ_CHECK(acceptable_text(f.reason, 256));
}

void check_merchant(const json& body, const net::address_policy& policy) {
  auto r = parse_merchant_fields(body, policy);
  if (auto* e = std::get_if<api_error>(&r))
    return check_error(*e);
  const auto& f = std::get<merchant_fields>(r);
  FUZZ_CHECK(!f.rate_per_s || *f.rate_per_s <= merchant_rate_max);
  FUZZ_CHECK(!f.burst || *f.burst <= merchant_rate_max);
  FUZZ_CHECK(!f.name || (!f.name->empty() && acceptable_text(*f.name, 200)));
  FUZZ_CHECK(!f.notify_url || f.notify_url->empty()
             || (plausible_url(*f.notify_url) && !check_notify_url_target(*f.notify_url, policy)));
}

/// The object's string members as a query string would give them.
void check_list_params(const json& body) {
  std::multimap<std::string, std::string> query;
  for (const auto& [k, v] : body.items())
    if (v.is_string())
      query.emplace(k, v.get<std::string>());
  auto r = parse_list_params(query);
  if (auto* e = std::get_if<api_error>(&r))
    return check_error(*e);
  const auto& p = std::get<list_params>(r);
  FUZZ_CHECK(p.limit >= 1 && p.limit <= 100);
}

/// POST /v1/orders/{id}/pay reads the raw body itself (empty: the channel).
void check_pay(std::string_view body) {
  auto r = parse_pay_fields(body);
  if (auto* e = std::get_if<api_error>(&r))
    return check_error(*e);
  const auto& f = std::get<pay_fields>(r);
  FUZZ_CHECK(f.method == "channel" || f.method == "balance");
  FUZZ_CHECK((f.method == "balance") == !f.wallet.empty());
  FUZZ_CHECK(f.wallet.empty() || f.wallet.rfind("wal_", 0) == 0);
}

void check_wallet(const json& body) {
  auto r = parse_wallet_fields(body);
  if (auto* e = std::get_if<api_error>(&r))
    return check_error(*e);
  const auto& f = std::get<wallet_fields>(r);
  FUZZ_CHECK(!f.customer_ref.empty() && f.customer_ref.size() <= 64);
  FUZZ_CHECK(find_currency(f.currency) != nullptr);
  FUZZ_CHECK(f.customer_phone.empty() || (f.customer_phone.size() >= 3 && f.customer_phone[0] == '+'));
}

void check_wallet_list_params(const json& body) {
  std::multimap<std::string, std::string> query;
  for (const auto& [k, v] : body.items())
    if (v.is_string())
      query.emplace(k, v.get<std::string>());
  for (bool by_customer : {true, false}) {
    auto r = parse_wallet_list_params(query, by_customer);
    if (auto* e = std::get_if<api_error>(&r)) {
      check_error(*e);
      continue;
    }
    const auto& p = std::get<wallet_list_params>(r);
    FUZZ_CHECK(p.limit >= 1 && p.limit <= 100);
    FUZZ_CHECK(by_customer || p.customer_ref.empty());
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::set<std::string> channels = {"alipay", "wechat"};
  static const net::address_policy policy{};
  std::string_view body(reinterpret_cast<const char*>(data), size);
  check_pay(body);
  auto parsed = parse_json_object(body);
  if (auto* e = std::get_if<api_error>(&parsed)) {
    check_error(*e);
    return 0;
  }
  const auto& object = std::get<json>(parsed);
  FUZZ_CHECK(object.is_object());
  // A parsed body's serialization parses again, to the same serialization
  // (not always to an equal value: 1e999 is read as infinity, written as null).
  auto text = object.dump();
  auto again = parse_json_object(text);
  FUZZ_CHECK(std::holds_alternative<json>(again) && std::get<json>(again).dump() == text);
  check_order(object, channels);
  check_refund(object);
  check_merchant(object, policy);
  check_list_params(object);
  check_wallet(object);
  check_wallet_list_params(object);
  return 0;
}
