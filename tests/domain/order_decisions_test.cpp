// The order's money rules, case by case (tables where the rule is a
// table). The seeded property test beside it covers their combinations.
#include "tests/domain/order_book_fixture.hpp"

#include <nlohmann/json.hpp>

namespace payengine::domain::test {
namespace {

using s = order_status;
using v = std::vector<std::string>;

TEST(order_decisions, a_merchant_reason_never_decides_the_accounting) {
  // Symptom: a merchant refund with reason "duplicate_payment" was taken for
  // the engine's own refund and never counted. The reason is only text.
  for (std::string reason : {"duplicate_payment", "late_payment", "", "requested_by_merchant"}) {
    order_book b{order_in(s::paid, 1000), {}, {}, {}};
    auto first = decide(b, refund_requested{1000, reason, "rfd_a", "req"}, t0);
    ASSERT_TRUE(first.write) << reason;
    EXPECT_EQ(first.write->refunds.at(0).origin, refund_origin::merchant);
    commit(b, first);
    // The full amount is promised: a second and a third refund are refused.
    for (auto id : {"rfd_b", "rfd_c"}) {
      auto again = decide(b, refund_requested{1000, reason, id, "req"}, t0);
      EXPECT_EQ(again.refused, refusal_code::refund_exceeds_amount) << reason;
      EXPECT_EQ(again.refundable, 0);
      EXPECT_FALSE(again.write);
    }
    auto done = decide(b, refund_answer{"rfd_a", answer(channel_outcome::ok)}, t0 + second);
    ASSERT_TRUE(done.write);
    EXPECT_EQ(done.write->next.amount_refunded, 1000);
    EXPECT_EQ(done.write->next.status, s::refunded);
  }
}

TEST(order_decisions, the_full_amount_back_tells_refund_succeeded_and_order_refunded) {
  order_book b{order_in(s::paid, 1000), {}, {}, {}};
  commit(b, decide(b, refund_requested{400, "", "rfd_1", ""}, t0));
  auto part = decide(b, refund_answer{"rfd_1", answer(channel_outcome::ok)}, t0);
  EXPECT_EQ(merchant_event_types(part), (v{"refund.succeeded"}));
  EXPECT_EQ(part.write->next.status, s::paid);
  commit(b, part);
  commit(b, decide(b, refund_requested{600, "", "rfd_2", ""}, t0));
  auto rest = decide(b, refund_answer{"rfd_2", answer(channel_outcome::ok)}, t0);
  EXPECT_EQ(merchant_event_types(rest), (v{"refund.succeeded", "order.refunded"}));
  EXPECT_EQ(rest.write->next.status, s::refunded);
  EXPECT_EQ(rest.write->next.amount_refunded, 1000);
  // The customer hears of the refund (SMS), once.
  int sms = 0;
  for (const auto& m : rest.write->merchant_events)
    sms += m.sms_to.empty() ? 0 : 1;
  EXPECT_EQ(sms, 0); // no customer_phone on this order
}

TEST(order_decisions, refund_cap_table) {
  struct row {
    s status;
    int64_t refunded;       // amount_refunded before
    int64_t owed;           // merchant refunds pending
    int64_t owed_automatic; // automatic refunds pending (never count)
    int64_t ask;
    refusal_code want;
    int64_t refundable;
  };
  const row rows[] = {
    {s::paid, 0, 0, 0, 1000, refusal_code::none, 0},
    {s::paid, 0, 0, 0, 1001, refusal_code::refund_exceeds_amount, 1000},
    {s::paid, 300, 0, 0, 700, refusal_code::none, 0},
    {s::paid, 300, 200, 0, 501, refusal_code::refund_exceeds_amount, 500},
    {s::paid, 300, 200, 0, 500, refusal_code::none, 0},
    {s::paid, 0, 0, 1000, 1000, refusal_code::none, 0},
    {s::completed, 0, 0, 0, 1, refusal_code::none, 0},
    {s::paid, 0, 0, 0, 0, refusal_code::refund_exceeds_amount, 1000},
    {s::created, 0, 0, 0, 1, refusal_code::invalid_state, 0},
    {s::awaiting_payment, 0, 0, 0, 1, refusal_code::invalid_state, 0},
    {s::cancelled, 0, 0, 0, 1, refusal_code::invalid_state, 0},
    {s::refunded, 1000, 0, 0, 1, refusal_code::invalid_state, 0},
  };
  for (const auto& r : rows) {
    order_book b{order_in(r.status, 1000), {}, {}, {}};
    b.order.amount_refunded = r.refunded;
    if (r.owed) {
      refund_row p;
      p.id = "rfd_owed";
      p.order_id = b.order.id;
      p.amount = r.owed;
      b.owed.push_back(p);
    }
    if (r.owed_automatic) {
      refund_row p;
      p.id = "rfd_auto";
      p.order_id = b.order.id;
      p.amount = r.owed_automatic;
      p.origin = refund_origin::duplicate_payment;
      b.owed.push_back(p);
    }
    auto d = decide(b, refund_requested{r.ask, "", "rfd_new", ""}, t0);
    EXPECT_EQ(d.refused, r.want) << to_string(r.status) << " ask " << r.ask;
    EXPECT_EQ(d.refundable, r.refundable) << to_string(r.status) << " ask " << r.ask;
    EXPECT_EQ(d.write.has_value(), r.want == refusal_code::none);
  }
}

TEST(order_decisions, a_known_refund_id_answers_the_refund_instead_of_a_second_one) {
  order_book b{order_in(s::paid, 1000), {}, {"rfd_done"}, {}};
  auto d = decide(b, refund_requested{1000, "", "rfd_done", ""}, t0);
  EXPECT_FALSE(d.write);
  EXPECT_EQ(d.on_success, order_outcome::created);
  EXPECT_EQ(d.created_id, "rfd_done");
}

TEST(order_decisions, a_late_payment_is_refunded_with_its_origin_and_never_counted) {
  for (auto ended : {s::cancelled, s::expired}) {
    order_book b{order_in(ended, 1000), {}, {}, {}};
    auto d = decide(b, trade_reported{paid_event(b.order, 1, 1000, "T9")}, t0);
    ASSERT_TRUE(d.write);
    EXPECT_EQ(d.write->next.status, s::refunded);
    ASSERT_EQ(d.write->refunds.size(), 1u);
    EXPECT_EQ(d.write->refunds[0].origin, refund_origin::late_payment);
    EXPECT_EQ(d.write->refunds[0].id, automatic_refund_id(b.order.id + "_1"));
    EXPECT_TRUE(has_effect(d, effect_kind::execute_refund));
    commit(b, d);
    auto ok = decide(b, refund_answer{d.write->refunds[0].id, answer(channel_outcome::ok)}, t0);
    ASSERT_TRUE(ok.write);
    EXPECT_EQ(ok.write->next.amount_refunded, 0);
    EXPECT_EQ(ok.write->next.status, s::refunded);
    EXPECT_EQ(merchant_event_types(ok), (v{"refund.succeeded"}));
  }
}

TEST(order_decisions, a_second_trade_is_refunded_once_as_a_duplicate) {
  order_book b{order_in(s::paid, 1000, 2), {}, {}, {}};
  auto dup = paid_event(b.order, 1, 1000, "T-other");
  auto d = decide(b, trade_reported{dup}, t0);
  ASSERT_TRUE(d.write);
  EXPECT_EQ(d.write->next.status, s::paid);
  EXPECT_EQ(d.write->refunds.at(0).origin, refund_origin::duplicate_payment);
  commit(b, d);
  dup.notify_id = "n2"; // the channel tells it again
  auto again = decide(b, trade_reported{dup}, t0);
  ASSERT_TRUE(again.write);
  EXPECT_TRUE(again.write->record_only);
  EXPECT_TRUE(again.write->refunds.empty());
  // Settled meanwhile: still never a second refund.
  commit(b, decide(b, refund_answer{d.write->refunds[0].id, answer(channel_outcome::ok)}, t0));
  dup.notify_id = "n3";
  auto late = decide(b, trade_reported{dup}, t0);
  ASSERT_TRUE(late.write);
  EXPECT_TRUE(late.write->refunds.empty());
  EXPECT_EQ(b.order.amount_refunded, 0); // not the merchant's refund
}

TEST(order_decisions, amounts_that_differ_are_flagged_never_applied) {
  order_book b{order_in(s::awaiting_payment, 1000), {}, {}, {}};
  auto ev = paid_event(b.order, 1, 999, "T1");
  auto d = decide(b, trade_reported{ev}, t0);
  ASSERT_TRUE(d.write);
  EXPECT_EQ(d.write->next.status, s::awaiting_payment);
  EXPECT_EQ(d.write->events.at(0).type, "payment.amount_mismatch");
  ev.amount = 1000;
  ev.currency = "USD";
  EXPECT_EQ(decide(b, trade_reported{ev}, t0).write->events.at(0).type, "payment.amount_mismatch");
}

TEST(order_decisions, merchant_refund_refused_by_the_channel_fails_automatic_ones_never_do) {
  order_book b{order_in(s::paid, 1000), {}, {}, {}};
  commit(b, decide(b, refund_requested{100, "", "rfd_m", ""}, t0));
  auto failed = decide(b, refund_answer{"rfd_m", answer(channel_outcome::rejected, "NO")}, t0);
  ASSERT_TRUE(failed.write);
  EXPECT_EQ(failed.write->refunds.at(0).status, refund_status::failed);
  EXPECT_EQ(merchant_event_types(failed), (v{"refund.failed"}));
  commit(b, failed);
  EXPECT_TRUE(b.owed.empty());

  refund_row automatic;
  automatic.id = automatic_refund_id("x_1");
  automatic.order_id = b.order.id;
  automatic.amount = 1000;
  automatic.origin = refund_origin::duplicate_payment;
  b.owed.push_back(automatic);
  auto kept = decide(b, refund_answer{automatic.id, answer(channel_outcome::rejected, "NO")}, t0);
  EXPECT_FALSE(kept.write);
  EXPECT_TRUE(has_effect(kept, effect_kind::retry_later));
  EXPECT_TRUE(has_effect(kept, effect_kind::alert));
  auto unknown = decide(b, refund_answer{automatic.id, answer(channel_outcome::unavailable)}, t0);
  EXPECT_FALSE(unknown.write);
  EXPECT_TRUE(has_effect(unknown, effect_kind::retry_later));
  EXPECT_FALSE(has_effect(unknown, effect_kind::alert));
}

TEST(order_decisions, merchant_events_come_from_the_one_table) {
  struct row {
    s from;
    order_input_event input;
    v want;
  };
  auto paying = order_in(s::paying);
  const row rows[] = {
    {s::paying, trade_reported{paid_event(paying, 1, 1000, "T1")}, {"order.paid"}},
    {s::created, cancel_requested{"r"}, {"order.cancelled"}},
    {s::awaiting_payment, cancel_requested{"r"}, {"order.cancelled"}},
    {s::cancelled, trade_reported{paid_event(paying, 1, 1000, "T1")}, {"order.refunded"}},
    {s::paying, trade_open_answer{paying.id + "_1", answer(channel_outcome::rejected, "X")}, {"order.failed"}},
    {s::paying, trade_open_answer{paying.id + "_1", answer(channel_outcome::ok)}, {}},
    {s::created, pay_requested{"r", {}, {}, {}}, {}},
    {s::paid, fulfillment_reported{fulfillment_stage::produced, "", ""}, {}},
    {s::paid, fulfillment_reported{fulfillment_stage::delivered, "", ""}, {"order.completed"}},
  };
  for (const auto& r : rows) {
    order_book b{order_in(r.from), {}, {}, {}};
    if (r.from == s::created)
      b.order.payment.attempt = 0;
    auto d = decide(b, r.input, t0);
    ASSERT_TRUE(d.write) << to_string(r.from);
    EXPECT_EQ(merchant_event_types(d), r.want) << to_string(r.from);
  }
  auto expired = decide(order_book{order_in(s::awaiting_payment), {}, {}, {}}, expiry_due{},
                        t0 + 900 * second);
  EXPECT_EQ(merchant_event_types(expired), (v{"order.expired"}));
  EXPECT_TRUE(has_effect(expired, effect_kind::close_trade));
  EXPECT_FALSE(decide(order_book{order_in(s::awaiting_payment), {}, {}, {}}, expiry_due{}, t0).write);
}

TEST(order_decisions, event_ids_are_derived_so_a_replayed_decision_writes_the_same_events) {
  order_book b{order_in(s::paying), {}, {}, {}};
  auto ev = paid_event(b.order, 1, 1000, "T1");
  auto a = decide(b, trade_reported{ev}, t0);
  auto c = decide(b, trade_reported{ev}, t0);
  ASSERT_EQ(a.write->merchant_events.size(), 1u);
  EXPECT_EQ(a.write->merchant_events[0].id, c.write->merchant_events[0].id);
  EXPECT_EQ(a.write->merchant_events[0].id.rfind("evt_", 0), 0u);
}

TEST(order_decisions, fulfillment_moves_forward_only) {
  order_book b{order_in(s::paid), {}, {}, {}};
  b.order.fulfillment = fulfillment_stage::shipped;
  EXPECT_EQ(decide(b, fulfillment_reported{fulfillment_stage::produced, "", ""}, t0).refused,
            refusal_code::fulfillment_not_forward);
  EXPECT_EQ(decide(b, fulfillment_reported{fulfillment_stage::shipped, "", ""}, t0).refused,
            refusal_code::fulfillment_not_forward);
  EXPECT_FALSE(decide(b, fulfillment_reported{fulfillment_stage::delivered, "", ""}, t0).is_refusal());
  b.order.status = s::refunded;
  EXPECT_EQ(decide(b, fulfillment_reported{fulfillment_stage::delivered, "", ""}, t0).refused,
            refusal_code::invalid_state);
}

TEST(order_decisions, a_rule_that_would_break_an_invariant_stops_instead_of_writing) {
  // A book that owes more than the amount (a bug elsewhere): settling it is
  // refused as a broken invariant, never clamped.
  order_book b{order_in(s::paid, 1000), {}, {}, {}};
  b.order.amount_refunded = 900;
  refund_row r;
  r.id = "rfd_x";
  r.order_id = b.order.id;
  r.amount = 500;
  b.owed.push_back(r);
  auto d = decide(b, refund_answer{"rfd_x", answer(channel_outcome::ok)}, t0);
  EXPECT_FALSE(d.write);
  EXPECT_FALSE(d.broken_invariant.empty());
}

TEST(order_decisions, paying_again_closes_the_open_trade_and_opens_a_new_attempt) {
  order_book b{order_in(s::awaiting_payment), {}, {}, {}};
  // Still valid: the same trade, nothing written.
  EXPECT_FALSE(decide(b, pay_requested{"r", {}, {}, {}}, t0).write);
  b.order.payment.qr_code.clear();
  auto d = decide(b, pay_requested{"r", {}, {}, {}}, t0);
  ASSERT_TRUE(d.write);
  EXPECT_EQ(d.write->next.payment.attempt, 2);
  ASSERT_EQ(d.effects.size(), 2u);
  EXPECT_EQ(d.effects[0].kind, effect_kind::open_trade);
  EXPECT_EQ(d.effects[0].out_trade_no, b.order.id + "_2");
  EXPECT_EQ(d.effects[1].kind, effect_kind::close_trade);
  EXPECT_EQ(d.effects[1].out_trade_no, b.order.id + "_1");
  EXPECT_EQ(decide(order_book{order_in(s::paid), {}, {}, {}}, pay_requested{"r", {}, {}, {}}, t0).refused,
            refusal_code::invalid_state);
}

TEST(order_decisions, no_payment_starts_at_or_after_expires_at_even_before_the_expiry_is_recorded) {
  // The expiry is a timer, or the sweeper behind a burst of expiring
  // orders: until it is recorded the status still allows a payment, but
  // the order has expired. By balance or through a channel, nothing starts.
  struct row {
    order_status status;
    int32_t attempt;
  } rows[] = {{s::created, 0}, {s::failed, 1}, {s::awaiting_payment, 1}};
  const pay_requested by_channel{"r", "channel", {}, {}};
  const pay_requested by_balance{"r", "balance", "wal_1", "trf_res"};
  for (const auto& r : rows) {
    for (const auto* in : {&by_channel, &by_balance}) {
      SCOPED_TRACE(std::string{to_string(r.status)} + " " + in->method);
      order_book b{order_in(r.status, 1000, r.attempt), {}, {}, {}};
      b.order.payment.qr_code.clear(); // a new attempt, not the same open trade
      const auto due = b.order.expires_at;
      auto before = decide(b, *in, due - 1);
      EXPECT_NE(before.refused, refusal_code::past_expiry);
      EXPECT_TRUE(before.write) << "one microsecond before, it may still be paid";
      for (auto at : {due, due + 3600 * second}) {
        auto d = decide(b, *in, at);
        EXPECT_EQ(d.refused, refusal_code::past_expiry);
        EXPECT_FALSE(d.write);
        EXPECT_TRUE(d.effects.empty());
      }
    }
  }
  // A payment under way is refused as past expiry too (its own trade goes
  // on; a success reported after the expiry is refunded); a paid order is
  // not expirable and stays a plain refusal.
  order_book paying{order_in(s::paying), {}, {}, {}};
  EXPECT_EQ(decide(paying, by_channel, paying.order.expires_at).refused, refusal_code::past_expiry);
  order_book paid{order_in(s::paid), {}, {}, {}};
  EXPECT_EQ(decide(paid, by_channel, paid.order.expires_at + second).refused, refusal_code::invalid_state);
}

// --- balance payments and top-ups (API.md v1.1 "Wallets") ---------------------

transfer_row post_of(const std::string& reservation, int64_t amount) {
  transfer_row t;
  t.id = "trf_post";
  t.pending_id = reservation;
  t.phase = transfer_phase::post;
  t.amount = amount;
  t.currency = "CNY";
  t.created_at = t0 + 2 * second;
  return t;
}

TEST(order_decisions, a_balance_payment_commits_paying_with_its_reservation_then_paid) {
  order_book b{order_in(s::created, 1000, 0), {}, {}, {}};
  auto d = decide(b, pay_requested{"r", "balance", "wal_1", "trf_res"}, t0);
  ASSERT_TRUE(d.write);
  const auto& p = d.write->next.payment;
  EXPECT_EQ(d.write->next.status, s::paying);
  EXPECT_EQ(p.method, "balance");
  EXPECT_EQ(p.wallet, "wal_1");
  EXPECT_EQ(p.channel_trade_no, "trf_res");
  EXPECT_EQ(p.attempt, 1);
  EXPECT_TRUE(d.write->trades.empty()); // no channel trade
  ASSERT_EQ(d.effects.size(), 1u);
  EXPECT_EQ(d.effects[0].kind, effect_kind::post_reservation);
  commit(b, d);

  auto paid = decide(b, balance_settled{1, post_of("trf_res", 1000)}, t0 + second);
  ASSERT_TRUE(paid.write);
  EXPECT_EQ(paid.write->next.status, s::paid);
  EXPECT_NE(paid.write->next.payment.paid_at, 0);
  EXPECT_EQ(paid.write->next.payment.channel_trade_no, "trf_res");
  ASSERT_FALSE(paid.write->merchant_events.empty());
  EXPECT_EQ(paid.write->merchant_events[0].type, "order.paid");
  commit(b, paid);
  // The same post again (a retry after a crash) changes nothing.
  auto again = decide(b, balance_settled{1, post_of("trf_res", 1000)}, t0 + 3 * second);
  EXPECT_TRUE(!again.write || again.write->record_only);
}

TEST(order_decisions, balance_refusals_and_voided_reservations) {
  struct row {
    const char* name;
    order_record order;
    pay_requested in;
    refusal_code refused;
  };
  auto topup = order_in(s::created, 1000, 0);
  topup.topup_wallet = "wal_1";
  const row rows[] = {
    {"a top-up is not paid from a balance", topup, {"r", "balance", "wal_2", "trf_x"}, refusal_code::topup_by_balance},
    {"no wallet", order_in(s::created, 1000, 0), {"r", "balance", "", "trf_x"}, refusal_code::wallet_missing},
    {"paid already", order_in(s::paid), {"r", "balance", "wal_1", "trf_x"}, refusal_code::invalid_state},
  };
  for (const auto& r : rows) {
    auto d = decide(order_book{r.order, {}, {}, {}}, r.in, t0);
    EXPECT_EQ(d.refused, r.refused) << r.name;
    EXPECT_FALSE(d.write) << r.name;
  }
  // The wallet voided the reservation (its timeout): the attempt failed.
  order_book b{order_in(s::created, 1000, 0), {}, {}, {}};
  commit(b, decide(b, pay_requested{"r", "balance", "wal_1", "trf_res"}, t0));
  auto failed = decide(b, balance_refused{1, "reservation_voided"}, t0 + second);
  ASSERT_TRUE(failed.write);
  EXPECT_EQ(failed.write->next.status, s::failed);
  EXPECT_EQ(failed.write->next.payment.failure_reason, "reservation_voided");
  // A stale answer (another attempt) changes nothing.
  EXPECT_FALSE(decide(b, balance_refused{2, "x"}, t0).write);
}

TEST(order_decisions, a_paying_balance_order_ended_voids_and_a_late_post_is_refunded) {
  order_book b{order_in(s::created, 1000, 0), {}, {}, {}};
  commit(b, decide(b, pay_requested{"r", "balance", "wal_1", "trf_res"}, t0));
  // `paying` cannot be cancelled (the table); it expires.
  EXPECT_EQ(decide(b, cancel_requested{"c"}, t0 + second).refused, refusal_code::invalid_state);
  auto expired = decide(b, expiry_due{}, b.order.expires_at);
  ASSERT_TRUE(expired.write);
  EXPECT_EQ(expired.write->next.status, s::expired);
  ASSERT_EQ(expired.effects.size(), 1u);
  EXPECT_EQ(expired.effects[0].kind, effect_kind::void_reservation);
  commit(b, expired);
  // The reservation had been posted (by an incarnation that died): the
  // money came after the order ended, and goes back (to the wallet).
  auto late = decide(b, balance_settled{1, post_of("trf_res", 1000)}, b.order.expires_at + second);
  ASSERT_TRUE(late.write);
  EXPECT_EQ(late.write->next.status, s::refunded);
  ASSERT_EQ(late.write->refunds.size(), 1u);
  EXPECT_EQ(late.write->refunds[0].origin, refund_origin::late_payment);
  EXPECT_EQ(late.write->refunds[0].amount, 1000);
}

TEST(order_decisions, a_paid_top_up_credits_its_wallet_and_keeps_asking_until_done) {
  auto o = order_in(s::awaiting_payment, 5000, 1);
  o.topup_wallet = "wal_1";
  order_book b{o, {}, {}, {}};
  auto paid = decide(b, trade_reported{paid_event(o, 1, 5000, "T1")}, t0 + second);
  ASSERT_TRUE(paid.write);
  EXPECT_EQ(paid.write->next.status, s::paid);
  auto credits = std::count_if(paid.effects.begin(), paid.effects.end(),
                               [](const effect& e) { return e.kind == effect_kind::credit_topup; });
  EXPECT_EQ(credits, 1);
  commit(b, paid);
  // Owed work (retry, reconciler) asks again: the wallet finds it by id.
  auto due = decide(b, work_due{true}, t0 + 2 * second);
  EXPECT_EQ(std::count_if(due.effects.begin(), due.effects.end(),
                          [](const effect& e) { return e.kind == effect_kind::credit_topup; }),
            1);
  // A top-up paid after it was cancelled is refunded, never credited.
  auto late = order_in(s::cancelled, 5000, 1);
  late.topup_wallet = "wal_1";
  auto refunded = decide(order_book{late, {}, {}, {}}, trade_reported{paid_event(late, 1, 5000, "T9")}, t0 + second);
  ASSERT_TRUE(refunded.write);
  EXPECT_EQ(refunded.write->next.status, s::refunded);
  EXPECT_FALSE(topup_credit_owed(refunded.write->next));
  EXPECT_EQ(std::count_if(refunded.effects.begin(), refunded.effects.end(),
                          [](const effect& e) { return e.kind == effect_kind::credit_topup; }),
            0);
  // An order that is not a top-up never credits anything.
  order_book plain{order_in(s::paid), {}, {}, {}};
  auto nothing = decide(plain, work_due{true}, t0);
  EXPECT_EQ(std::count_if(nothing.effects.begin(), nothing.effects.end(),
                          [](const effect& e) { return e.kind == effect_kind::credit_topup; }),
            0);
}

} // namespace
} // namespace payengine::domain::test
