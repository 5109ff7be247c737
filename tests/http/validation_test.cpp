// Everything a client can send to POST /v1/orders, and hostile bodies.
#include "http/validation.hpp"

#include <gtest/gtest.h>

#include <random>

namespace payengine::http {
namespace {

using json = nlohmann::json;

const std::set<std::string> channels = {"alipay"};

json valid_body() {
  return {{"merchant_order_no", "M-1001"}, {"amount", 8888}, {"currency", "CNY"},
          {"subject", "Annual plan"}, {"channel", "alipay"}};
}

/// The error a body gets, or "" if it is valid.
std::string error_param(const json& body) {
  auto r = parse_new_order(body, channels);
  if (auto* e = std::get_if<api_error>(&r)) {
    EXPECT_GE(e->status, 400);
    EXPECT_LT(e->status, 500);
    EXPECT_EQ(e->type, "invalid_request_error");
    EXPECT_FALSE(e->message.empty());
    return e->param.empty() ? "<none>" : e->param;
  }
  return "";
}

TEST(validation, a_valid_order_passes_with_defaults) {
  auto r = parse_new_order(valid_body(), channels);
  ASSERT_TRUE(std::holds_alternative<new_order_fields>(r));
  auto& f = std::get<new_order_fields>(r);
  EXPECT_EQ(f.amount, 8888);
  EXPECT_EQ(f.expires_in_s, 900);
  EXPECT_TRUE(f.metadata.empty());
}

TEST(validation, every_optional_field_is_checked) {
  auto b = valid_body();
  b["notify_url"] = "https://merchant.example/hook";
  b["customer_phone"] = "+8613800000000";
  b["expires_in"] = 60;
  b["metadata"] = {{"k", "v"}};
  EXPECT_EQ(error_param(b), "");
  for (auto [field, value] : std::vector<std::pair<std::string, json>>{
         {"notify_url", "ftp://x"}, {"notify_url", "http://a b"}, {"notify_url", 5},
         {"customer_phone", "13800000000"}, {"customer_phone", "+0123"},
         {"customer_phone", "+86 138"}, {"customer_phone", "+1234567890123456"},
         {"expires_in", 59}, {"expires_in", 86401}, {"expires_in", 900.0},
         {"expires_in", "900"}, {"metadata", "x"}, {"metadata", {{"k", 1}}},
         {"metadata", {{"", "v"}}}, {"metadata", {{"k", std::string(501, 'v')}}}}) {
    auto bad = valid_body();
    bad[field] = value;
    EXPECT_EQ(error_param(bad), field) << field << " = " << value.dump();
  }
  auto many = valid_body();
  for (int i = 0; i < 21; ++i)
    many["metadata"]["k" + std::to_string(i)] = "v";
  EXPECT_EQ(error_param(many), "metadata");
}

TEST(validation, amounts_must_be_integers_in_range) {
  for (json amount : {json(0), json(-1), json(1'000'000'000'001LL), json(88.88),
                      json(8888.0), json("8888"), json(true), json(nullptr),
                      json::array({1}), json(18446744073709551615ULL)}) {
    auto b = valid_body();
    b["amount"] = amount;
    EXPECT_EQ(error_param(b), "amount") << amount.dump();
  }
  auto b = valid_body();
  b["amount"] = 1'000'000'000'000LL;
  EXPECT_EQ(error_param(b), "");
  b["amount"] = 1;
  EXPECT_EQ(error_param(b), "");
}

TEST(validation, strings_are_typed_bounded_and_clean) {
  for (auto [field, value] : std::vector<std::pair<std::string, json>>{
         {"currency", "cny"}, {"currency", "XXX"}, {"currency", "CNYY"}, {"currency", 156},
         {"merchant_order_no", ""}, {"merchant_order_no", std::string(65, 'a')},
         {"merchant_order_no", "M 1"}, {"merchant_order_no", "M/1"},
         {"merchant_order_no", "M-1'; DROP TABLE orders;--"},
         {"subject", ""}, {"subject", std::string(257, 's')}, {"subject", "a\nb"},
         {"subject", 42}, {"channel", "wechat"}, {"channel", ""}}) {
    auto b = valid_body();
    b[field] = value;
    EXPECT_EQ(error_param(b), field) << field << " = " << value.dump();
  }
  // 256 characters is the limit, counted in code points, not bytes.
  auto b = valid_body();
  std::string han;
  for (int i = 0; i < 256; ++i)
    han += "\xE5\xB9\xB4"; // 年
  b["subject"] = han;
  EXPECT_EQ(error_param(b), "");
}

TEST(validation, missing_and_unknown_parameters_are_named) {
  for (auto field : {"merchant_order_no", "amount", "currency", "subject", "channel"}) {
    auto b = valid_body();
    b.erase(field);
    EXPECT_EQ(error_param(b), field);
  }
  auto b = valid_body();
  b["amount_in_yuan"] = 88.88;
  EXPECT_EQ(error_param(b), "amount_in_yuan");
}

TEST(validation, bodies_must_be_json_objects) {
  for (std::string body : std::vector<std::string>{"", "nope", "[1,2]", "42", "\"x\"", "{\"a\":", "{'a':1}",
                           "{\"a\":\"\xff\"}", std::string(40, '[') + std::string(40, ']'),
                           std::string(100000, '{')}) {
    auto r = parse_json_object(body);
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << body.substr(0, 40);
    EXPECT_EQ(std::get<api_error>(r).status, 400);
  }
  EXPECT_TRUE(std::holds_alternative<json>(parse_json_object(R"({"a":[[1]]})")));
}

TEST(validation, list_parameters) {
  using q = std::multimap<std::string, std::string>;
  EXPECT_TRUE(std::holds_alternative<list_params>(parse_list_params(q{{"limit", "100"}})));
  for (auto bad : {q{{"limit", "0"}}, q{{"limit", "101"}}, q{{"limit", "1x"}},
                   q{{"status", "pending"}}, q{{"starting_after", "x"}}, q{{"sort", "asc"}}})
    EXPECT_TRUE(std::holds_alternative<api_error>(parse_list_params(bad)));
}

// A deterministic fuzz loop: random mutations of valid bodies never crash
// and always end in a valid order or a 4xx.
TEST(validation, mutated_bodies_never_crash) {
  std::mt19937 rng{20261122};
  auto base = valid_body();
  base["metadata"] = {{"a", "b"}};
  base["customer_phone"] = "+8613800000000";
  auto text = base.dump();
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    auto t = text;
    auto mutations = 1 + rng() % 4;
    for (unsigned m = 0; m < mutations; ++m) {
      auto pos = rng() % t.size();
      switch (rng() % 4) {
        case 0: t[pos] = static_cast<char>(rng() % 256); break;
        case 1: t.erase(pos, 1 + rng() % 3); break;
        case 2: t.insert(pos, 1, "{}[]\",:0-9.e\\u"[rng() % 15]); break;
        case 3: t.insert(pos, t.substr(rng() % t.size(), rng() % 8)); break;
      }
      if (t.empty())
        t = "{";
    }
    auto parsed = parse_json_object(t);
    if (auto* e = std::get_if<api_error>(&parsed)) {
      EXPECT_EQ(e->status, 400);
      continue;
    }
    auto r = parse_new_order(std::get<json>(parsed), channels);
    if (std::holds_alternative<new_order_fields>(r))
      ++valid;
    else
      EXPECT_EQ(std::get<api_error>(r).status, 400);
  }
  EXPECT_GT(valid, 0);
}

} // namespace
} // namespace payengine::http

namespace payengine::http {
namespace {

TEST(plausible_url, takes_http_urls_with_sane_hosts_and_ports) {
  for (const char* ok : {"http://127.0.0.1:8090/merchant/webhooks", "https://shop.example.com/hook",
                         "http://h", "http://h:1/", "http://h:65535/x?y#z", "http://[::1]:8080/hook",
                         "http://[::1]/hook"})
    EXPECT_TRUE(plausible_url(ok)) << ok;
  for (const char* bad : {"ftp://h/", "http://", "http:///path", "http://h:99999999999/", "http://h:0/",
                          "http://h:65536/", "http://h:/", "http://h:8x/", "http://u:p@h/", "http://[::1/",
                          "http://h /", "http://h\x7f/"})
    EXPECT_FALSE(plausible_url(bad)) << bad;
}

/// The error param of a merchant body, or "" if it is valid.
std::string merchant_error(const json& body) {
  auto r = parse_merchant_fields(body, net::address_policy{});
  if (auto* e = std::get_if<api_error>(&r)) {
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->type, "invalid_request_error");
    return e->param;
  }
  return "";
}

TEST(merchant_fields, rate_and_burst_are_integers_within_bounds) {
  struct row {
    json body;
    std::string param; // "" = valid
  };
  const row table[] = {
    {{{"rate_per_s", 0}}, ""},
    {{{"rate_per_s", 5}, {"burst", 10}}, ""},
    {{{"rate_per_s", 1'000'000}, {"burst", 1'000'000}}, ""},
    {{{"rate_per_s", 1'000'001}}, "rate_per_s"},
    {{{"burst", -1}}, "burst"},
    {{{"rate_per_s", 5.0}}, "rate_per_s"},
    {{{"rate_per_s", 2.5}}, "rate_per_s"},
    {{{"rate_per_s", "5"}}, "rate_per_s"},
    {{{"burst", nullptr}}, "burst"},
    {{{"burst", true}}, "burst"},
    {{{"rate_per_s", json::array({5})}}, "rate_per_s"},
    {{{"rate_per_s", 18446744073709551615ull}}, "rate_per_s"},
    {{{"rate_per_s", -9223372036854775807ll}}, "rate_per_s"},
    {{{"name", ""}}, "name"},
    {{{"name", std::string(201, 'x')}}, "name"},
    {{{"notify_url", "ftp://x"}}, "notify_url"},
    {{{"notify_url", "http://127.0.0.1/hook"}}, "notify_url"}, // loopback, not allowed
    {{{"notify_url", nullptr}}, ""},
    {{{"rate", 5}}, "rate"},
    {{{"burst", -1}, {"zz_typo", 1}}, "zz_typo"}, // unknown named first
  };
  for (const auto& r : table)
    EXPECT_EQ(merchant_error(r.body), r.param) << r.body.dump();
}

TEST(merchant_fields, present_fields_are_set_absent_ones_not) {
  auto r = parse_merchant_fields({{"rate_per_s", 7}, {"notify_url", nullptr}}, net::address_policy{});
  ASSERT_TRUE(std::holds_alternative<merchant_fields>(r));
  auto& f = std::get<merchant_fields>(r);
  EXPECT_EQ(f.rate_per_s, std::optional<uint32_t>{7});
  EXPECT_FALSE(f.burst);
  EXPECT_FALSE(f.name);
  EXPECT_EQ(f.notify_url, std::optional<std::string>{""});
}

TEST(validation, refund_fields_are_checked) {
  auto ok = parse_refund_fields({{"amount", 100}, {"reason", "damaged"}});
  ASSERT_TRUE(std::holds_alternative<refund_fields>(ok));
  EXPECT_EQ(std::get<refund_fields>(ok).amount, 100);
  EXPECT_EQ(std::get<refund_fields>(ok).reason, "damaged");
  EXPECT_EQ(std::get<refund_fields>(parse_refund_fields({{"amount", 1}, {"reason", nullptr}})).reason, "");
  for (const json& bad : {json{{"amount", 0}}, json{{"amount", 1.0}}, json{{"amount", "1"}},
                          json{{"amount", 1000000000001}}, json{{"amount", uint64_t(1) << 63}}, json::object()}) {
    auto r = parse_refund_fields(bad);
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << bad.dump();
    EXPECT_EQ(std::get<api_error>(r).param, "amount");
  }
  for (const json& reason : {json(5), json(std::string(257, 'r')), json(std::string("a\0b", 3))}) {
    auto r = parse_refund_fields({{"amount", 1}, {"reason", reason}});
    ASSERT_TRUE(std::holds_alternative<api_error>(r)) << reason.dump();
    EXPECT_EQ(std::get<api_error>(r).param, "reason");
  }
}

} // namespace
} // namespace payengine::http
