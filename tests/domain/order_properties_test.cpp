// Seeded property test of the order's money rules: random sequences and
// interleavings of payments (several trades, duplicate, late, reordered and
// tampered notifications, query results), cancels, expiry, merchant refunds
// (with any reason text) and the channel's answers to them, against a
// model of the channel. After every decision the books must hold.
//
// A failure prints its seed; PAYENGINE_PROPERTY_SEED=<n> replays one seed,
// PAYENGINE_PROPERTY_RUNS=<n> runs more.
#include "tests/domain/order_book_fixture.hpp"

#include <cstdlib>
#include <map>
#include <random>

namespace payengine::domain::test {
namespace {

using s = order_status;

/// The channel as the model sees it: which trades were opened and paid.
struct channel_trade {
  bool paid = false;
  int64_t paid_amount = 0;
  std::string trade_no;
  std::string channel; // where it was opened
  bool opened = false; // the channel answered the open with a QR code
};

struct world {
  std::mt19937_64 rng;
  timestamp_us now = t0;
  order_book book;
  std::map<std::string, channel_trade> trades; // by out_trade_no
  std::vector<channel_event> notifications;    // sent, not yet delivered (any order)
  std::map<std::string, refund_row> refunds;   // every refund row written, as stored
  std::set<std::string> reported_paid;         // trades whose payment the order has decided on
  uint64_t decisions = 0;
  int notify_seq = 0;
  std::string shown_channel; // the channel of a QR code the customer saw
  uint64_t switches = 0;

  explicit world(uint64_t seed) : rng(seed) {
    book.order = order_in(s::created, pick(1, 10'000), 0);
    if (seed % 2 == 0) // half the runs route between two channels
      book.order.channel = "auto";
  }

  /// What the actor would read from the gateways' health: any subset of
  /// the two channels, in any order.
  void refresh_routes() {
    book.routes.clear();
    if (book.order.channel != "auto")
      return;
    for (const char* c : {"alipay", "wechat"})
      if (chance(80))
        book.routes.push_back(c);
    if (book.routes.size() == 2 && chance(50))
      std::swap(book.routes[0], book.routes[1]);
  }

  decision decide_now(const order_input_event& in) {
    refresh_routes();
    return decide(book, in, now);
  }

  /// Effects name the channel of the trade they are about; a QR code once
  /// shown keeps every later trade of the order on its channel.
  void check_effects(const decision& d) {
    for (const auto& e : d.effects) {
      if (e.kind == effect_kind::open_trade) {
        ASSERT_FALSE(e.channel.empty());
        if (!shown_channel.empty()) {
          ASSERT_EQ(e.channel, shown_channel) << "a second channel while a QR code may be open";
        }
        auto [i, fresh] = trades.emplace(e.out_trade_no, channel_trade{});
        if (fresh)
          i->second.channel = e.channel;
        ASSERT_EQ(i->second.channel, e.channel) << e.out_trade_no << " opened on two channels";
      }
      if (e.kind == effect_kind::close_trade || e.kind == effect_kind::query_trade) {
        auto i = trades.find(e.out_trade_no);
        if (i != trades.end()) {
          ASSERT_EQ(i->second.channel, e.channel) << to_string(e.kind) << " " << e.out_trade_no;
        }
      }
      if (e.kind == effect_kind::execute_refund && e.refund.origin != refund_origin::merchant) {
        auto i = trades.find(e.refund.out_trade_no);
        ASSERT_NE(i, trades.end());
        ASSERT_EQ(i->second.channel, e.refund.channel) << "refunded on another channel";
      }
    }
    if (d.write && !d.write->record_only) {
      const auto& p = d.write->next.payment;
      if (!p.tried.empty()) {
        ASSERT_EQ(p.tried.find(p.channel), std::string::npos) << "routed back to a tried channel";
        ASSERT_NE(p.tried, "alipay,alipay");
        ASSERT_NE(p.tried, "wechat,wechat");
      }
      if (d.write->events.front().type == "payment.rerouted")
        ++switches;
      if (d.write->next.status == s::awaiting_payment && !p.qr_code.empty())
        shown_channel = p.channel.empty() ? d.write->next.channel : p.channel;
    }
  }

  int64_t pick(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>{lo, hi}(rng);
  }
  bool chance(int percent) { return pick(1, 100) <= percent; }

  /// Commits a decision as storage and the actor would.
  void apply(const decision& d) {
    ++decisions;
    check_effects(d);
    ASSERT_TRUE(d.broken_invariant.empty()) << d.broken_invariant;
    if (d.write) {
      const auto& w = *d.write;
      if (!w.record_only) {
        ASSERT_EQ(w.expected_version, book.order.version);
        ASSERT_EQ(w.next.version, book.order.version + 1);
      }
      for (const auto& r : w.refunds) {
        auto [i, fresh] = refunds.emplace(r.id, r);
        if (!fresh && i->second.status == refund_status::pending)
          i->second = r; // a settled refund never moves again (as the upsert)
      }
    }
    commit(book, d);
  }

  // --- the steps ---------------------------------------------------------------

  void pay() { apply(decide_now(pay_requested{"r", {}, {}, {}})); }

  void channel_answers_open() {
    if (book.order.status != s::paying)
      return;
    auto otn = out_trade_no_of(book.order);
    auto outcome = chance(70) ? channel_outcome::ok
                   : chance(40) ? channel_outcome::rejected
                   : chance(50) ? channel_outcome::unavailable : channel_outcome::circuit_open;
    auto r = answer(outcome, "REFUSED");
    r.qr_code = "https://qr/" + otn;
    if (outcome == channel_outcome::ok)
      trades[otn].opened = true;
    apply(decide_now(trade_open_answer{otn, r}));
  }

  void customer_pays() {
    if (trades.empty())
      return;
    auto i = std::next(trades.begin(), pick(0, static_cast<int64_t>(trades.size()) - 1));
    if (i->second.paid)
      return;
    i->second.paid = true;
    i->second.paid_amount = chance(90) ? book.order.amount : book.order.amount - 1;
    i->second.trade_no = "T-" + i->first;
    notify(i->first);
  }

  void notify(const std::string& otn) {
    const auto& t = trades.at(otn);
    channel_event ev;
    ev.order_id = book.order.id;
    ev.channel = t.channel;
    ev.out_trade_no = otn;
    ev.state = static_cast<uint8_t>(trade_state::succeeded);
    ev.amount = t.paid_amount;
    ev.channel_trade_no = t.trade_no;
    ev.paid_at = now;
    ev.notify_id = "n" + std::to_string(++notify_seq);
    ev.trade_status = "TRADE_SUCCESS";
    notifications.push_back(ev);
  }

  void deliver_notification() {
    if (notifications.empty())
      return;
    auto at = static_cast<size_t>(pick(0, static_cast<int64_t>(notifications.size()) - 1));
    auto ev = notifications[at];
    if (!chance(30)) // sometimes the channel sends it again later
      notifications.erase(notifications.begin() + static_cast<std::ptrdiff_t>(at));
    else
      ev.notify_id = "n" + std::to_string(++notify_seq);
    report(ev);
  }

  void close_answered() {
    if (trades.empty())
      return;
    auto i = std::next(trades.begin(), pick(0, static_cast<int64_t>(trades.size()) - 1));
    if (i->second.paid)
      return;
    apply(decide_now(trade_closed{i->first, chance(50)}));
  }

  void report(const channel_event& ev) {
    apply(decide_now(trade_reported{ev}));
    if (ev.amount == book.order.amount)
      reported_paid.insert(ev.out_trade_no);
  }

  void query() {
    if (trades.empty())
      return;
    auto i = std::next(trades.begin(), pick(0, static_cast<int64_t>(trades.size()) - 1));
    channel_event ev;
    ev.order_id = book.order.id;
    ev.channel = i->second.channel;
    ev.out_trade_no = i->first;
    auto state = i->second.paid ? trade_state::succeeded
                 : i->second.opened || chance(50) ? trade_state::waiting : trade_state::unknown;
    ev.state = static_cast<uint8_t>(state);
    ev.amount = i->second.paid_amount;
    ev.channel_trade_no = i->second.trade_no;
    ev.paid_at = now;
    // Sometimes it is the query an `auto` payment makes before moving on.
    bool before_switch = chance(50);
    if (i->second.paid)
      report(ev);
    else
      apply(decide_now(trade_reported{ev, before_switch}));
  }

  void cancel() { apply(decide(book, cancel_requested{"r"}, now)); }

  void time_passes() {
    now += pick(1, 400) * second;
    apply(decide(book, expiry_due{}, now));
  }

  void merchant_refunds() {
    static const char* reasons[] = {"", "duplicate_payment", "late_payment", "broken lid"};
    auto amount = chance(20) ? pick(1, book.order.amount * 2) : pick(1, book.order.amount);
    auto id = "rfd_" + std::to_string(pick(1, 1'000'000'000));
    if (chance(10) && !refunds.empty()) // a request run again: the same id
      id = std::next(refunds.begin(), pick(0, static_cast<int64_t>(refunds.size()) - 1))->first;
    auto d = decide(book, refund_requested{amount, reasons[pick(0, 3)], id, "r"}, now);
    if (d.refused == refusal_code::refund_exceeds_amount) {
      EXPECT_GE(d.refundable, 0);
      EXPECT_TRUE(amount > d.refundable);
    }
    apply(d);
  }

  void channel_answers_refund() {
    if (book.owed.empty())
      return;
    auto r = book.owed[static_cast<size_t>(pick(0, static_cast<int64_t>(book.owed.size()) - 1))];
    auto outcome = chance(60) ? channel_outcome::ok
                   : chance(50) ? channel_outcome::rejected : channel_outcome::unavailable;
    apply(decide(book, refund_answer{r.id, answer(outcome, "REFUSED")}, now));
  }

  void fulfil() {
    auto stage = static_cast<fulfillment_stage>(pick(1, 3));
    apply(decide(book, fulfillment_reported{stage, "free text: refund everything", "r"}, now));
  }

  void work() { apply(decide(book, work_due{chance(50)}, now)); }

  void step() {
    switch (pick(0, 11)) {
      case 0: pay(); break;
      case 1: channel_answers_open(); break;
      case 2: customer_pays(); break;
      case 3: case 4: deliver_notification(); break;
      case 5: query(); break;
      case 6: cancel(); break;
      case 7: time_passes(); break;
      case 8: merchant_refunds(); break;
      case 9: case 10: channel_answers_refund(); break;
      case 11: chance(50) ? fulfil() : chance(50) ? work() : close_answered(); break;
    }
  }

  // --- the properties ----------------------------------------------------------

  void check() {
    const auto& o = book.order;
    ASSERT_EQ(check_invariants(book), "");
    int64_t promised = 0, succeeded = 0;
    for (const auto& [id, r] : refunds) {
      if (r.origin == refund_origin::merchant) {
        if (r.status != refund_status::failed)
          promised += r.amount;
        if (r.status == refund_status::succeeded)
          succeeded += r.amount;
        continue;
      }
      // An automatic refund returns exactly one trade's money, which the
      // channel took and the order did not keep.
      auto t = trades.find(r.out_trade_no);
      ASSERT_NE(t, trades.end()) << id;
      ASSERT_TRUE(t->second.paid) << id;
      ASSERT_EQ(r.amount, t->second.paid_amount) << id;
      ASSERT_EQ(r.id, automatic_refund_id(r.out_trade_no));
      bool kept = o.payment.channel_trade_no == t->second.trade_no;
      if (r.origin == refund_origin::duplicate_payment)
        ASSERT_FALSE(kept) << "the order's own payment refunded as a duplicate";
      else
        ASSERT_EQ(o.status, s::refunded) << "a late payment on an order that kept it";
    }
    ASSERT_LE(promised, o.amount) << "merchant refunds exceed the amount";
    ASSERT_EQ(o.amount_refunded, succeeded) << "amount_refunded is not the succeeded refunds";
    // Every payment the order has seen is kept or refunded, never both or neither.
    for (const auto& otn : reported_paid) {
      const auto& t = trades.at(otn);
      bool kept = o.payment.paid_at != 0 && o.payment.channel_trade_no == t.trade_no;
      bool refunded_automatically = refunds.count(automatic_refund_id(otn)) > 0;
      bool late = refunded_automatically
                  && refunds.at(automatic_refund_id(otn)).origin == refund_origin::late_payment;
      ASSERT_TRUE(kept != refunded_automatically || late) << otn;
    }
    // The status agrees with the amounts.
    switch (o.status) {
      case s::created: case s::paying: case s::awaiting_payment: case s::failed:
        ASSERT_EQ(o.payment.paid_at, 0);
        ASSERT_EQ(promised, 0);
        break;
      case s::cancelled: case s::expired:
        ASSERT_EQ(o.payment.paid_at, 0);
        break;
      case s::paid: case s::completed:
        ASSERT_NE(o.payment.paid_at, 0);
        ASSERT_LT(o.amount_refunded, o.amount);
        break;
      case s::refunded: {
        ASSERT_NE(o.payment.paid_at, 0);
        bool by_merchant = o.amount_refunded == o.amount;
        bool late = refunds.count(automatic_refund_id(o.id + "_1")) > 0 || !by_merchant;
        ASSERT_TRUE(by_merchant || late);
        if (!by_merchant) { // the payment came after the order ended
          bool found = false;
          for (const auto& [id, r] : refunds)
            found = found || r.origin == refund_origin::late_payment;
          ASSERT_TRUE(found);
        }
        break;
      }
    }
  }
};

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(order_properties, the_books_hold_under_any_interleaving) {
  auto runs = env_or("PAYENGINE_PROPERTY_RUNS", 1500);
  auto first = env_or("PAYENGINE_PROPERTY_SEED", 1);
  if (std::getenv("PAYENGINE_PROPERTY_SEED"))
    runs = 1;
  uint64_t decisions = 0, paid = 0, refunded = 0, switches = 0;
  for (uint64_t seed = first; seed < first + runs; ++seed) {
    world w{seed};
    for (int i = 0; i < 160; ++i) {
      w.step();
      w.check();
      if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) {
        ADD_FAILURE() << "seed " << seed << ", step " << i;
        return;
      }
    }
    decisions += w.decisions;
    switches += w.switches;
    paid += w.book.order.payment.paid_at != 0;
    refunded += w.book.order.status == s::refunded;
  }
  // The runs must reach the interesting states, or they prove little.
  EXPECT_GT(paid, runs / 3);
  EXPECT_GT(refunded, runs / 20);
  EXPECT_GT(switches, runs / 50); // `auto` runs do move between channels
  std::printf("order_properties: %llu runs, %llu decisions, %llu paid, %llu refunded, "
              "%llu channel switches\n",
              static_cast<unsigned long long>(runs), static_cast<unsigned long long>(decisions),
              static_cast<unsigned long long>(paid), static_cast<unsigned long long>(refunded),
              static_cast<unsigned long long>(switches));
}

} // namespace
} // namespace payengine::domain::test
