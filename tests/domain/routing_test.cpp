// Routing between channels (API.md v1.1 "Channels: WeChat Pay v3, and
// routing"): the ranking (domain/routing.hpp) and what the decision core
// does with an `auto` order, by tables.
#include "domain/routing.hpp"
#include "tests/domain/order_book_fixture.hpp"

#include <gtest/gtest.h>

namespace payengine::domain::test {
namespace {

using s = order_status;
using circuit = route_health::circuit;

route_health health(std::string name, circuit c, uint32_t samples = 0, uint32_t ok = 0) {
  route_health h;
  h.channel = std::move(name);
  h.breaker = c;
  h.samples = samples;
  h.successes = ok;
  return h;
}

TEST(rank_routes, breaker_first_then_success_rate_then_configuration_order) {
  struct row {
    const char* name;
    std::vector<route_health> in;
    std::vector<std::string> out;
  };
  const std::vector<row> rows = {
    {"configuration order when equal",
     {health("alipay", circuit::closed), health("wechat", circuit::closed)}, {"alipay", "wechat"}},
    {"a closed breaker before an open one",
     {health("alipay", circuit::open), health("wechat", circuit::closed)}, {"wechat", "alipay"}},
    {"half-open between closed and open",
     {health("a", circuit::open), health("b", circuit::half_open), health("c", circuit::closed)},
     {"c", "b", "a"}},
    {"the higher recent success rate first",
     {health("alipay", circuit::closed, 64, 40), health("wechat", circuit::closed, 64, 63)},
     {"wechat", "alipay"}},
    {"too few samples count as healthy",
     {health("alipay", circuit::closed, 64, 60), health("wechat", circuit::closed, 3, 0)},
     {"wechat", "alipay"}},
    {"noise within an eighth keeps the configured order",
     {health("alipay", circuit::closed, 64, 60), health("wechat", circuit::closed, 64, 63)},
     {"alipay", "wechat"}},
    {"nothing configured", {}, {}},
  };
  for (const auto& r : rows)
    EXPECT_EQ(rank_routes(r.in), r.out) << r.name;
}

TEST(next_route, skips_the_current_and_the_tried) {
  EXPECT_EQ(next_route({"alipay", "wechat"}, "alipay", ""), "wechat");
  EXPECT_EQ(next_route({"alipay", "wechat"}, "wechat", ""), "alipay");
  EXPECT_EQ(next_route({"alipay", "wechat"}, "wechat", "alipay"), "");
  EXPECT_EQ(next_route({"wechat"}, "wechat", ""), "");
  EXPECT_EQ(next_route({}, "alipay", ""), "");
  EXPECT_EQ(next_route({"a", "b", "c"}, "a", "b"), "c");
  EXPECT_EQ(next_route({"ab", "b"}, "x", "a,b"), "ab"); // whole names only
}

order_book auto_book(s status, int32_t attempt, std::string payment_channel,
                     std::vector<std::string> routes) {
  order_book b;
  b.order = order_in(status, 1000, attempt);
  b.order.channel = "auto";
  if (attempt > 0) {
    b.order.payment.method = "channel";
    b.order.payment.channel = std::move(payment_channel);
  }
  b.routes = std::move(routes);
  return b;
}

const effect* find_effect(const decision& d, effect_kind k) {
  for (const auto& e : d.effects)
    if (e.kind == k)
      return &e;
  return nullptr;
}

TEST(auto_routing, a_payment_takes_the_best_channel_taking_payments) {
  auto b = auto_book(s::created, 0, "", {"wechat", "alipay"});
  auto d = decide(b, pay_requested{"r", "channel", {}, {}}, t0);
  ASSERT_TRUE(d.write);
  EXPECT_EQ(d.write->next.status, s::paying);
  EXPECT_EQ(d.write->next.payment.channel, "wechat");
  EXPECT_EQ(d.write->trades.at(0).channel, "wechat");
  const auto* open = find_effect(d, effect_kind::open_trade);
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->channel, "wechat");
}

TEST(auto_routing, no_channel_taking_payments_refuses_and_changes_nothing) {
  auto b = auto_book(s::created, 0, "", {});
  auto d = decide(b, pay_requested{"r", "channel", {}, {}}, t0);
  EXPECT_EQ(d.refused, refusal_code::no_channel);
  EXPECT_FALSE(d.write);
  EXPECT_TRUE(d.effects.empty());
}

TEST(auto_routing, a_fixed_channel_never_moves) {
  order_book b;
  b.order = order_in(s::paying, 1000, 1);
  b.order.payment.method = "channel";
  b.routes = {"alipay", "wechat"}; // ignored: the order named its channel
  auto otn = out_trade_no_of(b.order);
  auto rejected = decide(b, trade_open_answer{otn, answer(channel_outcome::rejected, "INVALID")}, t0);
  ASSERT_TRUE(rejected.write);
  EXPECT_EQ(rejected.write->next.status, s::failed);
  auto open = decide(b, trade_open_answer{otn, answer(channel_outcome::circuit_open)}, t0);
  EXPECT_FALSE(open.write);
  EXPECT_TRUE(has_effect(open, effect_kind::retry_later));
  auto unknown = decide(b, trade_open_answer{otn, answer(channel_outcome::unavailable)}, t0);
  EXPECT_FALSE(unknown.write);
  EXPECT_TRUE(has_effect(unknown, effect_kind::retry_later));
  EXPECT_FALSE(has_effect(unknown, effect_kind::query_trade));
}

TEST(auto_routing, a_definite_refusal_before_a_qr_code_moves_to_the_next_channel) {
  for (auto outcome : {channel_outcome::rejected, channel_outcome::circuit_open,
                       channel_outcome::rate_limited}) {
    auto b = auto_book(s::paying, 1, "alipay", {"alipay", "wechat"});
    auto otn = out_trade_no_of(b.order);
    auto d = decide(b, trade_open_answer{otn, answer(outcome, "REFUSED")}, t0);
    ASSERT_TRUE(d.write) << to_string(outcome);
    const auto& next = d.write->next;
    EXPECT_EQ(next.status, s::paying);
    EXPECT_EQ(next.payment.attempt, 2);
    EXPECT_EQ(next.payment.channel, "wechat");
    EXPECT_EQ(next.payment.tried, "alipay");
    EXPECT_EQ(d.write->events.at(0).type, "payment.rerouted");
    EXPECT_TRUE(d.write->merchant_events.empty()); // the merchant hears the outcome, not the route
    ASSERT_EQ(d.write->trades.size(), 2u);
    EXPECT_EQ(d.write->trades[0].out_trade_no, otn);
    EXPECT_EQ(d.write->trades[0].channel, "alipay");
    EXPECT_EQ(d.write->trades[0].state, stored_trade_state::rejected);
    EXPECT_EQ(d.write->trades[1].channel, "wechat");
    EXPECT_EQ(d.write->trades[1].state, stored_trade_state::opening);
    const auto* open = find_effect(d, effect_kind::open_trade);
    ASSERT_NE(open, nullptr);
    EXPECT_EQ(open->channel, "wechat");
    EXPECT_EQ(open->out_trade_no, out_trade_no_of(next));
  }
}

TEST(auto_routing, every_channel_tried_means_the_payment_fails) {
  auto b = auto_book(s::paying, 2, "wechat", {"alipay", "wechat"});
  b.order.payment.tried = "alipay";
  auto d = decide(b, trade_open_answer{out_trade_no_of(b.order),
                                       answer(channel_outcome::rejected, "INVALID")}, t0);
  ASSERT_TRUE(d.write);
  EXPECT_EQ(d.write->next.status, s::failed);
  EXPECT_FALSE(has_effect(d, effect_kind::open_trade));
}

TEST(auto_routing, an_unknown_outcome_is_queried_before_another_channel) {
  auto b = auto_book(s::paying, 1, "alipay", {"alipay", "wechat"});
  auto otn = out_trade_no_of(b.order);
  auto d = decide(b, trade_open_answer{otn, answer(channel_outcome::unavailable, "timeout")}, t0);
  EXPECT_FALSE(d.write); // nothing moves yet
  const auto* q = find_effect(d, effect_kind::query_trade);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->channel, "alipay");
  EXPECT_TRUE(q->before_switch);
  EXPECT_FALSE(has_effect(d, effect_kind::open_trade));
}

channel_event queried(const order_record& o, trade_state state) {
  channel_event ev;
  ev.order_id = o.id;
  ev.channel = "alipay";
  ev.out_trade_no = out_trade_no_of(o);
  ev.state = static_cast<uint8_t>(state);
  return ev;
}

TEST(auto_routing, the_query_decides_what_happens_to_the_first_trade) {
  auto b = auto_book(s::paying, 1, "alipay", {"alipay", "wechat"});
  // No such trade at the channel: nothing to close, move on.
  auto none = decide(b, trade_reported{queried(b.order, trade_state::unknown), true}, t0);
  ASSERT_TRUE(none.write);
  EXPECT_EQ(none.write->next.payment.channel, "wechat");
  EXPECT_EQ(none.write->trades.at(0).state, stored_trade_state::rejected);
  // Open there (the customer never saw its QR code): close it first.
  auto open = decide(b, trade_reported{queried(b.order, trade_state::waiting), true}, t0);
  EXPECT_FALSE(open.write);
  const auto* close = find_effect(open, effect_kind::close_trade);
  ASSERT_NE(close, nullptr);
  EXPECT_EQ(close->channel, "alipay");
  EXPECT_TRUE(close->before_switch);
  // Closed: move on.
  auto closed = decide(b, trade_reported{queried(b.order, trade_state::closed), true}, t0);
  ASSERT_TRUE(closed.write);
  EXPECT_EQ(closed.write->next.payment.channel, "wechat");
  EXPECT_EQ(closed.write->trades.at(0).state, stored_trade_state::closed);
  // The close we asked for went through: move on.
  auto after_close = decide(b, trade_closed{out_trade_no_of(b.order), true}, t0);
  ASSERT_TRUE(after_close.write);
  EXPECT_EQ(after_close.write->next.payment.channel, "wechat");
  EXPECT_EQ(after_close.write->next.payment.attempt, 2);
  // The same answers without the mark (the reconciler's query) move nothing.
  auto plain = decide(b, trade_reported{queried(b.order, trade_state::unknown), false}, t0);
  EXPECT_FALSE(plain.write && !plain.write->record_only);
  auto plain_close = decide(b, trade_closed{out_trade_no_of(b.order), false}, t0);
  ASSERT_TRUE(plain_close.write);
  EXPECT_TRUE(plain_close.write->record_only);
}

TEST(auto_routing, a_retry_asks_before_pressing_the_same_channel_again) {
  auto b = auto_book(s::paying, 1, "alipay", {"alipay", "wechat"});
  auto d = decide(b, work_due{false}, t0);
  const auto* q = find_effect(d, effect_kind::query_trade);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(q->before_switch);
  EXPECT_FALSE(has_effect(d, effect_kind::open_trade));
  // Nowhere else to go: the same trade is opened again (idempotent).
  b.routes = {"alipay"};
  auto same = decide(b, work_due{false}, t0);
  EXPECT_TRUE(has_effect(same, effect_kind::open_trade));
  EXPECT_FALSE(has_effect(same, effect_kind::query_trade));
}

TEST(auto_routing, once_a_qr_code_was_shown_the_next_attempt_stays_on_its_channel) {
  // awaiting_payment on wechat, QR code expired: a new attempt closes the
  // old trade and opens the next on the same channel, whatever ranks first.
  auto b = auto_book(s::awaiting_payment, 1, "wechat", {"alipay", "wechat"});
  auto d = decide(b, pay_requested{"r", "channel", {}, {}}, b.order.expires_at + 1);
  // (expired by time: the transition table may refuse; then use a valid time)
  if (d.is_refusal() || !d.write) {
    b.order.payment.qr_code.clear();
    d = decide(b, pay_requested{"r", "channel", {}, {}}, t0);
  }
  ASSERT_TRUE(d.write);
  EXPECT_EQ(d.write->next.payment.channel, "wechat");
  const auto* open = find_effect(d, effect_kind::open_trade);
  const auto* close = find_effect(d, effect_kind::close_trade);
  ASSERT_NE(open, nullptr);
  ASSERT_NE(close, nullptr);
  EXPECT_EQ(open->channel, "wechat");
  EXPECT_EQ(close->channel, "wechat");
  // And an open answer's refusal on a shown trade's order cannot switch:
  // the order is awaiting_payment, not paying.
  auto shown = auto_book(s::awaiting_payment, 1, "wechat", {"alipay", "wechat"});
  auto late = decide(shown, trade_open_answer{out_trade_no_of(shown.order),
                                              answer(channel_outcome::rejected)}, t0);
  EXPECT_FALSE(late.write);
}

TEST(auto_routing, refunds_name_the_channel_that_holds_the_money) {
  auto b = auto_book(s::paid, 2, "wechat", {"alipay", "wechat"});
  auto merchant = decide(b, refund_requested{100, "", "rfd_1", "r"}, t0);
  ASSERT_TRUE(merchant.write);
  EXPECT_EQ(merchant.write->refunds.at(0).channel, "wechat");
  // A second trade paid on alipay (attempt 1) is refunded on alipay.
  auto ev = paid_event(b.order, 1, 1000, "T-other");
  ev.channel = "alipay";
  auto dup = decide(b, trade_reported{ev}, t0);
  ASSERT_TRUE(dup.write);
  ASSERT_EQ(dup.write->refunds.size(), 1u);
  EXPECT_EQ(dup.write->refunds[0].channel, "alipay");
  EXPECT_EQ(dup.write->refunds[0].origin, refund_origin::duplicate_payment);
  EXPECT_EQ(dup.write->trades.at(0).channel, "alipay");
}

} // namespace
} // namespace payengine::domain::test
