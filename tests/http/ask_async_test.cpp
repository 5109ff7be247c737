// The event loop's asks (http/bridge.hpp): a few long-lived askers make the
// requests, with their deadlines on the engine's request timer instead of
// CAF's clock. A reply completes the ask and cancels its deadline; a reply
// that never comes is answered request_timeout exactly once, and a late one
// is dropped; the same asker serves the next request (no actor per request,
// so no clock wake-up when one ends); a handler that throws does not take
// the asker down; a bounce is sent once more; an asker that dies, or a
// stop, answers what it held (request_timeout: the outcome is unknown) and
// a dead asker is replaced; a stopped pool sends nothing. The blocking ask
// times out on its own receive.

#include "http/bridge.hpp"

#include "tests/support/actor_system_fixture.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace payengine::http {
namespace {

using namespace std::chrono_literals;
using clock_type = request_timer::clock_type;
using testing::actor_system_fixture;
using testing::adder;
using testing::black_hole;
using testing::held_requests;

/// Sends its first request to `first` and every later one to `later`, as a
/// registry does with an order actor that stopped and its successor.
caf::behavior router(caf::event_based_actor* self, caf::actor first, caf::actor later,
                     std::shared_ptr<std::atomic<int>> seen) {
  return {[=](int x) { return self->delegate(seen->fetch_add(1) == 0 ? first : later, x); }};
}

/// An actor that has ended, for requests that must bounce.
caf::actor gone_actor(caf::actor_system& sys) {
  auto gone = sys.spawn(adder, 1);
  caf::scoped_actor self{sys};
  self->monitor(gone);
  caf::anon_send_exit(gone, caf::exit_reason::kill);
  self->receive([](const caf::down_msg&) {});
  return gone;
}

/// Every answer an ask got, in order.
struct answers {
  std::mutex mx;
  std::vector<caf::expected<int>> got;
  std::promise<void> first;
  void add(caf::expected<int> r) {
    std::lock_guard<std::mutex> guard{mx};
    got.push_back(std::move(r));
    if (got.size() == 1)
      first.set_value();
  }
  size_t size() {
    std::lock_guard<std::mutex> guard{mx};
    return got.size();
  }
};

template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 10'000 && !pred(); ++i)
    std::this_thread::sleep_for(1ms);
  return pred();
}

/// A black hole to ask, a timer without a thread (fire_due drives time)
/// and the answers heard.
struct ask_async_actors : actor_system_fixture {
  std::shared_ptr<request_timer> timer = std::make_shared<request_timer>(0ms);
  std::shared_ptr<held_requests> held = std::make_shared<held_requests>();
  std::shared_ptr<answers> log = std::make_shared<answers>();
  caf::actor hole;
  void SetUp() override {
    actor_system_fixture::SetUp();
    hole = sys->spawn(black_hole, held);
  }
  void TearDown() override {
    caf::anon_send_exit(hole, caf::exit_reason::user_shutdown);
    hole = nullptr;
  }
  /// Asks `dest` about `x` through `askers`; the answer goes to `log`.
  void ask_via(const std::shared_ptr<asker_pool>& askers, const caf::actor& dest, int x) {
    ask_async<int>(askers, timer, dest, 10s, [log = log](caf::expected<int> r) { log->add(r); }, x);
  }
  /// The pool still serves: a new ask is answered, and its answer is the
  /// `n`th this log sees.
  void expect_served_as_answer(const std::shared_ptr<asker_pool>& askers, size_t n) {
    ask_via(askers, sys->spawn(adder, 1), 1);
    ASSERT_TRUE(eventually([&] { return log->size() == n; }));
    ASSERT_TRUE(log->got.back());
    EXPECT_EQ(*log->got.back(), 2);
  }
};

TEST_F(ask_async_actors, a_reply_completes_the_ask_and_cancels_its_deadline) {
  auto askers = asker_pool::make(*sys, 2);
  ask_via(askers, sys->spawn(adder, 1), 41);
  ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_TRUE(log->got.front());
  EXPECT_EQ(*log->got.front(), 42);
  EXPECT_EQ(timer->pending(), 0u) << "the reply's handler cancelled the deadline";
  EXPECT_EQ(timer->fire_due(clock_type::now() + 1h), 0u);
  EXPECT_EQ(askers->pending(), 0);
  EXPECT_EQ(log->size(), 1u);
}

TEST_F(ask_async_actors, a_reply_that_never_comes_times_out_once_and_a_late_one_is_dropped) {
  auto askers = asker_pool::make(*sys, 1);
  ask_via(askers, hole, 1);
  ASSERT_TRUE(eventually([&] { return held->size() == 1 && timer->pending() == 1; }));
  EXPECT_EQ(askers->pending(), 1);
  EXPECT_EQ(timer->fire_due(clock_type::now()), 0u) << "not due yet";
  EXPECT_EQ(timer->fire_due(clock_type::now() + 11s), 1u);
  ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_FALSE(log->got.front());
  EXPECT_EQ(log->got.front().error(), caf::sec::request_timeout);
  EXPECT_EQ(askers->pending(), 0);
  // The reply comes after all: its handler is gone, nothing is called again.
  {
    std::lock_guard<std::mutex> guard{held->mx};
    held->promises.front().deliver(7);
  }
  // The same asker serves the next ask (it lives on), and its answer is
  // the next one this log sees: the late reply went nowhere.
  expect_served_as_answer(askers, 2);
  // One asker handles its mailbox in order: a wrong answer from the late
  // reply would have come before this one's (no sleep needed to see it).
  expect_served_as_answer(askers, 3);
}

TEST_F(ask_async_actors, every_ask_goes_through_the_same_few_askers) {
  auto askers = asker_pool::make(*sys, 2);
  for (int i = 0; i < 20; ++i)
    ask_via(askers, hole, i);
  ASSERT_TRUE(eventually([&] { return held->size() == 20; }));
  std::set<caf::actor_addr> senders;
  {
    std::lock_guard<std::mutex> guard{held->mx};
    senders.insert(held->senders.begin(), held->senders.end());
  }
  EXPECT_EQ(senders.size(), 2u) << "no actor per request";
  EXPECT_EQ(askers->pending(), 20);
  ASSERT_TRUE(eventually([&] { return timer->pending() == 20; }));
  EXPECT_EQ(timer->fire_due(clock_type::now() + 11s), 20u);
  ASSERT_TRUE(eventually([&] { return log->size() == 20; }));
  EXPECT_EQ(askers->pending(), 0);
}

TEST_F(ask_async_actors, a_handler_that_throws_leaves_the_asker_serving) {
  auto askers = asker_pool::make(*sys, 1);
  std::atomic<int> calls{0};
  ask_async<int>(askers, timer, sys->spawn(adder, 1), 10s,
                 [&](caf::expected<int>) {
                   calls++;
                   throw std::runtime_error("a route's bug");
                 },
                 1);
  ASSERT_TRUE(eventually([&] { return calls.load() == 1; }));
  ask_via(askers, sys->spawn(adder, 2), 1);
  ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_TRUE(log->got.front());
  EXPECT_EQ(*log->got.front(), 3);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(ask_async_actors, a_bounced_request_is_sent_once_more_and_its_reply_answers) {
  auto askers = asker_pool::make(*sys, 1);
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto via = sys->spawn(router, gone_actor(*sys), sys->spawn(adder, 1), seen);
  ask_via(askers, via, 41);
  ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_TRUE(log->got.front()) << caf::to_string(log->got.front().error());
  EXPECT_EQ(*log->got.front(), 42);
  EXPECT_EQ(seen->load(), 2) << "the first try bounced, the second was answered";
  ASSERT_TRUE(eventually([&] { return timer->pending() == 0; })) << "both tries' deadlines cancelled";
  EXPECT_EQ(timer->fire_due(clock_type::now() + 1h), 0u);
  // In order behind both tries' replies on the one asker: a second answer
  // would have come before this one.
  expect_served_as_answer(askers, 2);
  caf::anon_send_exit(via, caf::exit_reason::user_shutdown);
}

TEST_F(ask_async_actors, a_second_bounce_is_answered_as_it_is_once) {
  auto askers = asker_pool::make(*sys, 1);
  ask_via(askers, gone_actor(*sys), 1);
  ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_FALSE(log->got.front());
  EXPECT_EQ(log->got.front().error(), caf::sec::request_receiver_down);
  ASSERT_TRUE(eventually([&] { return timer->pending() == 0; }));
  EXPECT_EQ(timer->fire_due(clock_type::now() + 1h), 0u);
  expect_served_as_answer(askers, 2); // behind the bounces: no second answer to the first ask
  EXPECT_EQ(askers->pending(), 0);
}

TEST_F(ask_async_actors, an_asker_that_dies_answers_what_it_held_and_is_replaced) {
  auto askers = asker_pool::make(*sys, 1);
  ask_via(askers, hole, 1);
  ASSERT_TRUE(eventually([&] { return held->size() == 1; }));
  caf::actor asker;
  {
    std::lock_guard<std::mutex> guard{held->mx};
    asker = caf::actor_cast<caf::actor>(held->senders.front());
  }
  ASSERT_TRUE(asker);
  caf::anon_send_exit(asker, caf::exit_reason::kill);
  ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_FALSE(log->got.front());
  EXPECT_EQ(log->got.front().error(), caf::sec::request_timeout) << "the outcome is unknown";
  EXPECT_EQ(askers->pending(), 0);
  ASSERT_TRUE(eventually([&] { return askers->replaced() == 1; }));
  EXPECT_EQ(askers->size(), 1u);
  expect_served_as_answer(askers, 2); // the replacement serves the next ask
}

TEST_F(ask_async_actors, stopping_answers_the_asks_in_flight_before_it_returns) {
  auto askers = asker_pool::make(*sys, 2);
  for (int i = 0; i < 4; ++i)
    ask_via(askers, hole, i);
  ASSERT_TRUE(eventually([&] { return held->size() == 4; }));
  askers->stop(10s);
  EXPECT_EQ(log->size(), 4u) << "every ask answered when stop() returns";
  for (auto& r : log->got) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), caf::sec::request_timeout);
  }
  EXPECT_EQ(askers->pending(), 0);
  EXPECT_EQ(askers->replaced(), 0u) << "a stop is no death";
}

TEST_F(ask_async_actors, a_stopped_pool_sends_nothing_and_says_so_at_once) {
  auto askers = asker_pool::make(*sys, 2);
  askers->stop();
  EXPECT_EQ(askers->size(), 0u);
  ask_via(askers, hole, 1);
  ASSERT_EQ(log->size(), 1u) << "answered on the caller's thread";
  ASSERT_FALSE(log->got.front());
  EXPECT_EQ(log->got.front().error(), caf::sec::request_receiver_down);
  EXPECT_EQ(timer->pending(), 0u);
  EXPECT_EQ(askers->pending(), 0);
  // No asker is left to send later; a request of the test's own is the
  // first and only one the hole gets.
  caf::scoped_actor probe{*sys};
  probe->send(hole, 2);
  ASSERT_TRUE(eventually([&] { return held->size() >= 1; }));
  EXPECT_EQ(held->size(), 1u);
  std::lock_guard<std::mutex> guard{held->mx};
  EXPECT_EQ(held->senders.front(), probe->address());
}

TEST_F(ask_async_actors, the_blocking_ask_times_out_on_its_own_receive) {
  auto r = ask<int>(*sys, hole, 30ms, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), caf::sec::request_timeout);
  auto ok = ask<int>(*sys, sys->spawn(adder, 1), 10s, 1);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 2);
}

} // namespace
} // namespace payengine::http
