// Request deadlines off CAF's clock thread (actors/request_timer.hpp): a
// request whose reply never comes gets sec::request_timeout as its response,
// once, through the same handlers CAF's own timeout would reach; a reply that
// comes first cancels its deadline, so nothing fires later; a delayed message
// arrives when due and not before. Time is driven with fire_due (a timer
// without a thread), except in the one test of the thread itself.

#include "actors/request_timer.hpp"

#include "tests/support/actor_system_fixture.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <vector>

namespace payengine {
namespace {

using namespace std::chrono_literals;
using clock_type = request_timer::clock_type;

using testing::actor_system_fixture;

using testing::adder;
using testing::black_hole;
using testing::held_requests;

/// What an asking actor heard, in order: "ok:<n>", "error:<text>", "tick:<n>".
struct heard {
  std::mutex mx;
  std::vector<std::string> items;
  std::promise<void> first;
  bool told = false;
  void add(std::string s) {
    std::lock_guard<std::mutex> guard{mx};
    items.push_back(std::move(s));
    if (!told) {
      told = true;
      first.set_value();
    }
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> guard{mx};
    return items;
  }
};

/// Asks `dest` once with the timer's deadline (`then` or `await`), and
/// records ticks sent to it later.
caf::behavior asker(caf::event_based_actor* self, std::shared_ptr<request_timer> timer,
                    caf::actor dest, std::chrono::milliseconds timeout, bool awaited,
                    std::shared_ptr<heard> log) {
  auto ok = [log](int x) { log->add("ok:" + std::to_string(x)); };
  auto fail = [log](caf::error& err) {
    log->add(err == caf::sec::request_timeout ? "error:request_timeout" : "error:" + caf::to_string(err));
  };
  if (awaited)
    timed_request(self, timer, dest, timeout, 41).await(ok, fail);
  else
    timed_request(self, timer, dest, timeout, 41).then(ok, fail);
  return {[log](caf::atom_value, int n) { log->add("tick:" + std::to_string(n)); }};
}

/// Waits (up to 10 s) until `n` deadlines are on the timer.
bool armed(const request_timer& timer, size_t n) {
  for (int i = 0; i < 10'000 && timer.pending() < n; ++i)
    std::this_thread::sleep_for(1ms);
  return timer.pending() == n;
}

TEST_F(actor_system_fixture, a_reply_that_never_comes_times_out_once_through_the_timer) {
  for (bool awaited : {false, true}) {
    auto timer = std::make_shared<request_timer>(0ms); // no thread: fire_due drives time
    auto held = std::make_shared<held_requests>();
    auto hole = sys->spawn(black_hole, held);
    auto log = std::make_shared<heard>();
    auto a = sys->spawn(asker, timer, hole, 5s, awaited, log);
    // The request is out and its deadline is on the board, not CAF's clock.
    ASSERT_TRUE(armed(*timer, 1));
    EXPECT_EQ(timer->fire_due(clock_type::now()), 0u) << "not due yet";
    EXPECT_EQ(timer->fire_due(clock_type::now() + 6s), 1u);
    ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_EQ(log->snapshot(), (std::vector<std::string>{"error:request_timeout"}));
    EXPECT_EQ(timer->pending(), 0u);
    EXPECT_EQ(timer->fired(), 1u);
    EXPECT_EQ(timer->fire_due(clock_type::now() + 1h), 0u) << "fired once";
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(hole, caf::exit_reason::user_shutdown);
  }
}

TEST_F(actor_system_fixture, a_reply_cancels_its_deadline_so_nothing_fires_later) {
  for (bool awaited : {false, true}) {
    auto timer = std::make_shared<request_timer>(0ms);
    auto log = std::make_shared<heard>();
    auto a = sys->spawn(asker, timer, sys->spawn(adder, 1), 5s, awaited, log);
    ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
    EXPECT_EQ(timer->pending(), 0u) << "the reply's handler cancelled the deadline";
    EXPECT_EQ(timer->fire_due(clock_type::now() + 1h), 0u);
    caf::scoped_actor self{*sys};
    self->send(a, caf::atom("tick"), 1); // anything after the reply is ordinary traffic
    for (int i = 0; i < 1000 && log->snapshot().size() < 2; ++i)
      std::this_thread::sleep_for(1ms);
    EXPECT_EQ(log->snapshot(), (std::vector<std::string>{"ok:42", "tick:1"}));
    EXPECT_EQ(timer->fired(), 0u);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
}

TEST_F(actor_system_fixture, a_delayed_message_arrives_when_due_and_not_before) {
  auto timer = std::make_shared<request_timer>(0ms);
  auto log = std::make_shared<heard>();
  auto a = sys->spawn(asker, timer, sys->spawn(adder, 1), 5s, false, log);
  ASSERT_EQ(log->first.get_future().wait_for(10s), std::future_status::ready);
  auto t0 = clock_type::now();
  timer->send_later(200ms, a.address(), caf::make_message(caf::atom("tick"), 7));
  timer->send_later(100ms, a.address(), caf::make_message(caf::atom("tick"), 6));
  EXPECT_EQ(timer->pending(), 2u);
  EXPECT_EQ(timer->fire_due(t0), 0u);
  EXPECT_EQ(timer->fire_due(t0 + 150ms), 1u);
  EXPECT_EQ(timer->fire_due(t0 + 250ms), 1u);
  for (int i = 0; i < 1000 && log->snapshot().size() < 3; ++i)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(log->snapshot(), (std::vector<std::string>{"ok:42", "tick:6", "tick:7"}));
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST_F(actor_system_fixture, a_deadline_for_an_actor_that_is_gone_is_dropped) {
  auto timer = std::make_shared<request_timer>(0ms);
  auto held = std::make_shared<held_requests>();
  auto hole = sys->spawn(black_hole, held);
  auto log = std::make_shared<heard>();
  // Not awaited: in CAF 0.17 an actor awaiting a reply takes no exit message.
  auto a = sys->spawn(asker, timer, hole, 5s, false, log);
  ASSERT_TRUE(armed(*timer, 1));
  // Both end; the promise the hole kept (a reference to the asker) goes too.
  caf::scoped_actor self{*sys};
  self->monitor(a);
  self->monitor(hole);
  caf::anon_send_exit(a, caf::exit_reason::kill);
  caf::anon_send_exit(hole, caf::exit_reason::kill);
  self->receive([](const caf::down_msg&) {});
  self->receive([](const caf::down_msg&) {});
  held->clear();
  auto addr = a.address();
  a = nullptr;
  hole = nullptr;
  // CAF sends the down message before its scheduler lets go of the actor.
  for (int i = 0; i < 10'000 && caf::actor_cast<caf::strong_actor_ptr>(addr); ++i)
    std::this_thread::sleep_for(1ms);
  ASSERT_FALSE(caf::actor_cast<caf::strong_actor_ptr>(addr)) << "the asker is gone";
  EXPECT_EQ(timer->fire_due(clock_type::now() + 1h), 1u) << "taken off the board";
  EXPECT_EQ(timer->pending(), 0u);
  EXPECT_EQ(timer->fired(), 0u) << "nothing delivered to an actor that is gone";
  EXPECT_TRUE(log->snapshot().empty());
}

// The thread sleeps while nothing is armed and then until the earliest
// deadline: a deadline sooner than every armed one must wake it.
TEST_F(actor_system_fixture, the_timer_thread_fires_without_being_driven) {
  auto timer = std::make_shared<request_timer>(5ms);
  auto held = std::make_shared<held_requests>();
  auto hole = sys->spawn(black_hole, held);
  auto log = std::make_shared<heard>();
  std::this_thread::sleep_for(20ms); // the thread is asleep with nothing armed
  timer->send_later(1h, hole.address(), caf::make_message(1)); // it now sleeps for an hour
  auto a = sys->spawn(asker, timer, hole, 20ms, false, log);
  ASSERT_EQ(log->first.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_EQ(log->snapshot(), (std::vector<std::string>{"error:request_timeout"}));
  EXPECT_EQ(timer->pending(), 1u) << "the hour-long one waits";
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(hole, caf::exit_reason::user_shutdown);
  timer.reset(); // joins its thread
}

} // namespace
} // namespace payengine
