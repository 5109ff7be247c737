// The event loop's asks without CAF request timeouts: a deadline board
// (expired by the loop's probe) answers a request whose reply never comes
// with request_timeout, exactly once, and kills the asking actor; a reply
// that comes first removes its deadline. The blocking ask times out on its
// own receive.

#include "http/ask_deadlines.hpp"
#include "http/bridge.hpp"

#include "tests/support/actor_system_fixture.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <future>
#include <mutex>

namespace payengine::http {
namespace {

using namespace std::chrono_literals;
using clock_type = ask_deadlines::clock_type;

TEST(ask_deadlines, expires_in_due_order_and_forgets_what_was_removed) {
  ask_deadlines board;
  std::vector<int> ran;
  auto t0 = clock_type::now();
  board.add(t0 + 30ms, [&] { ran.push_back(30); });
  auto removed = board.add(t0 + 10ms, [&] { ran.push_back(10); });
  board.add(t0 + 20ms, [&] { ran.push_back(20); });
  board.add(t0 + 20ms, [&] { ran.push_back(21); }); // same instant: both kept
  board.remove(removed);
  EXPECT_EQ(board.size(), 3u);
  EXPECT_EQ(board.expire_due(t0 + 5ms), 0u);
  EXPECT_EQ(board.expire_due(t0 + 20ms), 2u);
  EXPECT_EQ(ran, (std::vector<int>{20, 21}));
  EXPECT_EQ(board.expire_due(t0 + 1h), 1u);
  EXPECT_EQ(ran, (std::vector<int>{20, 21, 30}));
  EXPECT_EQ(board.size(), 0u);
}

TEST(ask_deadlines, an_expiring_function_may_add_deadlines) {
  ask_deadlines board; // functions run outside the lock
  auto t0 = clock_type::now();
  board.add(t0, [&] { board.add(t0 + 1h, [] {}); });
  EXPECT_EQ(board.expire_due(t0), 1u);
  EXPECT_EQ(board.size(), 1u);
}

using testing::actor_system_fixture;

// Each spawned function takes an argument: CAF 0.17 binds a reference to a
// null tuple for one without (UBSan reports it; http/bridge.hpp says the same).
caf::behavior adder(int step) {
  return {[step](int x) { return x + step; }};
}

/// What a black hole holds: the requests it will never answer, and who
/// sent the first one.
struct held_requests {
  std::mutex mx;
  std::vector<caf::response_promise> promises;
  std::promise<caf::actor> first_sender;
};

/// Takes every request and never answers it.
caf::behavior black_hole(caf::event_based_actor* self, std::shared_ptr<held_requests> held) {
  return {[self, held](int) {
    std::lock_guard<std::mutex> guard{held->mx};
    if (held->promises.empty())
      held->first_sender.set_value(caf::actor_cast<caf::actor>(self->current_sender()));
    held->promises.push_back(self->make_response_promise());
  }};
}

using ask_deadlines_actors = actor_system_fixture;

TEST_F(ask_deadlines_actors, a_reply_completes_the_ask_and_removes_its_deadline) {
  auto board = std::make_shared<ask_deadlines>();
  std::promise<caf::expected<int>> got;
  ask_async<int>(*sys, board, sys->spawn(adder, 1), 10s,
                 [&](caf::expected<int> r) { got.set_value(std::move(r)); }, 41);
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto r = f.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(board->size(), 0u);
}

TEST_F(ask_deadlines_actors, a_reply_that_never_comes_times_out_once_and_the_asker_dies) {
  auto board = std::make_shared<ask_deadlines>();
  auto held = std::make_shared<held_requests>();
  auto hole = sys->spawn(black_hole, held);
  auto sender = held->first_sender.get_future();
  std::atomic<int> calls{0};
  std::promise<caf::error> failed;
  ask_async<int>(*sys, board, hole, 50ms,
                 [&](caf::expected<int> r) {
                   if (calls++ == 0)
                     failed.set_value(r ? caf::error{} : r.error());
                 },
                 1);
  ASSERT_EQ(sender.wait_for(10s), std::future_status::ready) << "the request reached the black hole";
  auto asker = sender.get();
  ASSERT_TRUE(asker);
  EXPECT_EQ(board->size(), 1u);
  EXPECT_EQ(board->expire_due(clock_type::now()), 0u) << "not due yet";
  EXPECT_EQ(board->expire_due(clock_type::now() + 1s), 1u);
  auto f = failed.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), caf::sec::request_timeout);
  // The asking actor is killed: its pending request goes with it.
  caf::scoped_actor watcher{*sys};
  watcher->monitor(asker);
  caf::error reason;
  watcher->receive([&](const caf::down_msg& down) { reason = down.reason; },
                   caf::after(10s) >> [&] { reason = caf::sec::request_timeout; });
  EXPECT_EQ(reason, caf::exit_reason::kill);
  EXPECT_EQ(calls.load(), 1);
  caf::anon_send_exit(hole, caf::exit_reason::user_shutdown);
}

TEST_F(ask_deadlines_actors, the_blocking_ask_times_out_on_its_own_receive) {
  auto hole = sys->spawn(black_hole, std::make_shared<held_requests>());
  auto r = ask<int>(*sys, hole, 30ms, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), caf::sec::request_timeout);
  auto ok = ask<int>(*sys, sys->spawn(adder, 1), 10s, 1);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 2);
  caf::anon_send_exit(hole, caf::exit_reason::user_shutdown);
}

} // namespace
} // namespace payengine::http
