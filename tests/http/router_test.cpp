// Route matching without a regular-expression engine: the patterns' two
// kinds of segment (literal, `([^/]+)`), the 404/405 answers, and the
// order id a cluster node reads from a path to find the order's shard.

#include "http/forward.hpp"
#include "http/routes.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace payengine::http {
namespace {

using groups = std::vector<std::string>;

TEST(path_pattern, matches_literal_segments_and_captures) {
  struct row {
    const char* pattern;
    const char* path;
    bool matches;
    groups expected;
  };
  const row rows[] = {
    {"/healthz", "/healthz", true, {"/healthz"}},
    {"/healthz", "/healthz/", false, {}},
    {"/healthz", "/health", false, {}},
    {"/healthz", "/healthzz", false, {}},
    {"/healthz", "", false, {}},
    {"/v1/orders/([^/]+)", "/v1/orders/ord_1", true, {"/v1/orders/ord_1", "ord_1"}},
    {"/v1/orders/([^/]+)", "/v1/orders/", false, {}},
    {"/v1/orders/([^/]+)", "/v1/orders", false, {}},
    {"/v1/orders/([^/]+)", "/v1/orders/ord_1/pay", false, {}},
    {"/v1/orders/([^/]+)", "/v1/orders//", false, {}},
    {"/v1/orders/([^/]+)/pay", "/v1/orders/ord_1/pay", true, {"/v1/orders/ord_1/pay", "ord_1"}},
    {"/v1/orders/([^/]+)/pay", "/v1/orders/ord_1/pay/", false, {}},
    {"/v1/orders/([^/]+)/pay", "/v1/orders//pay", false, {}},
    {"/v1/orders/([^/]+)/pay", "/v1/ORDERS/ord_1/pay", false, {}},
    {"/admin/notifications/([^/]+)/redeliver", "/admin/notifications/n 1?x/redeliver", true,
     {"/admin/notifications/n 1?x/redeliver", "n 1?x"}},
    {"/v1/([^/]+)/([^/]+)", "/v1/a/b", true, {"/v1/a/b", "a", "b"}},
    {"/([^/]+)/([^/]+)/([^/]+)/([^/]+)", "/a/b/c/d", true, {"/a/b/c/d", "a", "b", "c", "d"}},
  };
  for (const auto& r : rows) {
    path_pattern p{r.pattern};
    groups got{"untouched"};
    EXPECT_EQ(p.match(r.path, got), r.matches) << r.pattern << " vs " << r.path;
    if (r.matches)
      EXPECT_EQ(got, r.expected) << r.pattern << " vs " << r.path;
    else
      EXPECT_EQ(got, groups{"untouched"}) << "a miss leaves the groups alone";
  }
}

TEST(path_pattern, refuses_patterns_it_cannot_match_exactly) {
  for (const char* bad : {"", "healthz", "/v1/orders/(ord_.*)", "/v1//x", "/v1/orders/[a-z]+", "/a.b",
                          "/([^/]+)/([^/]+)/([^/]+)/([^/]+)/([^/]+)"})
    EXPECT_THROW(path_pattern{bad}, std::invalid_argument) << bad;
}

TEST(router, answers_404_for_an_unknown_path_and_405_with_allow_for_another_method) {
  router r;
  r.get("/v1/orders/([^/]+)", [](const request&, response& res) { res.status = 200; });
  r.post("/v1/orders/([^/]+)/cancel", [](const request&, response& res) { res.status = 200; });
  r.post("/v1/orders/([^/]+)", [](const request&, response& res) { res.status = 201; });

  request get;
  get.method = "GET";
  get.path = "/v1/orders/ord_9";
  response res;
  auto* found = r.match(get, res);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->method, "GET");
  EXPECT_EQ(get.matches, (groups{"/v1/orders/ord_9", "ord_9"}));

  request head = get;
  head.method = "HEAD";
  ASSERT_NE(r.match(head, res), nullptr);

  request patch = get;
  patch.method = "PATCH";
  response refused;
  EXPECT_EQ(r.match(patch, refused), nullptr);
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(refused.get_header_value("Allow"), "GET, HEAD, POST");

  request unknown = get;
  unknown.path = "/v1/orders/ord_9/explode";
  response missing;
  EXPECT_EQ(r.match(unknown, missing), nullptr);
  EXPECT_EQ(missing.status, 404);
}

TEST(order_in_path, reads_the_order_id_of_order_routes_only) {
  const std::string max_id = "ord_" + std::string(64, 'a');
  struct row {
    std::string path;
    std::string id;
  };
  const row rows[] = {
    {"/v1/orders/ord_Ab9", "ord_Ab9"},
    {"/v1/orders/ord_Ab9/pay", "ord_Ab9"},
    {"/v1/orders/ord_Ab9/refunds/x", "ord_Ab9"},
    {"/admin/orders/ord_1", "ord_1"},
    {"/v1/orders/" + max_id, max_id},
    {"/v1/orders/" + max_id + "a", ""},
    {"/v1/orders/ord_", ""},
    {"/v1/orders/ord_a-b", ""},
    {"/v1/orders/ord_é", ""},
    {"/v1/orders/xrd_1", ""},
    {"/v1/orders", ""},
    {"/v1/orders/", ""},
    {"/v1/wallets/ord_1", ""},
    {"/v2/orders/ord_1", ""},
    {"//v1/orders/ord_1", ""},
  };
  for (const auto& r : rows)
    EXPECT_EQ(order_in_path(r.path), r.id) << r.path;
}

} // namespace
} // namespace payengine::http
