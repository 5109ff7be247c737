// A sweep's commands go out in a window (actors/fan_out.hpp): never more
// than `window` in flight, the next one when one answers, every order asked
// once, and `done` once, after the last answer or failure. Sent all at
// once, 2,000 expiries stood ahead of live requests (docs/benchmarks.md,
// "Background sweeps in a window").
#include "actors/fan_out.hpp"
#include "messages/errors.hpp"
#include "messages/type_ids.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>

namespace payengine {
namespace {

using release_atom = caf::atom_constant<caf::atom("release")>;
using held_atom = caf::atom_constant<caf::atom("held")>;
using finished_atom = caf::atom_constant<caf::atom("finished")>;

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::payengine>();
  cfg.set("scheduler.policy", caf::atom("sharing"));
  return cfg;
}

/// What every fake shard shares: commands in flight now and at most, and
/// how often each order was asked.
struct tally {
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::mutex lock;
  std::map<std::string, int> asked;
};

struct fake_shard_state {
  std::vector<std::pair<caf::response_promise, std::string>> held;
};

/// Holds each expire_order until told to release; then answers, with an
/// error for every order whose id ends in an odd digit (a failure counts as
/// an answer too).
caf::behavior fake_shard(caf::stateful_actor<fake_shard_state>* self, std::shared_ptr<tally> t) {
  return {
    [=](expire_order& x) -> caf::result<order_reply> {
      auto now = ++t->in_flight;
      auto seen = t->max_in_flight.load();
      while (now > seen && !t->max_in_flight.compare_exchange_weak(seen, now)) {
      }
      {
        std::lock_guard<std::mutex> g{t->lock};
        t->asked[x.order_id]++;
      }
      auto rp = self->make_response_promise<order_reply>();
      self->state.held.emplace_back(rp, x.order_id);
      return rp;
    },
    [=](held_atom) { return static_cast<uint32_t>(self->state.held.size()); },
    [=](release_atom) {
      auto held = std::move(self->state.held);
      self->state.held.clear();
      for (auto& [rp, id] : held) {
        --t->in_flight;
        if ((id.back() - '0') % 2)
          rp.deliver(make_error(engine_error::storage_unavailable));
        else
          rp.deliver(order_reply{});
      }
      return static_cast<uint32_t>(held.size());
    },
  };
}

/// Runs one fan-out and tells `observer` when done() ran.
caf::behavior driver(caf::event_based_actor* self, std::vector<caf::actor> shards,
                     std::vector<std::string> ids, size_t window, caf::actor observer) {
  fan_out_to_orders(self, shards, std::move(ids), std::chrono::seconds{30}, "fan_out_test.failed",
                    [](const std::string& id) { return expire_order{id}; },
                    [self, observer] { self->send(observer, finished_atom::value); }, window);
  return {[](caf::unit_t) {}};
}

struct fan_out_case {
  size_t orders;
  size_t window; // 0 counts as 1
};

TEST(fan_out, keeps_at_most_a_window_in_flight_asks_each_order_once_and_finishes_once) {
  for (auto c : {fan_out_case{50, 4}, fan_out_case{3, 16}, fan_out_case{7, 0}, fan_out_case{1, 1}}) {
    SCOPED_TRACE("orders " + std::to_string(c.orders) + " window " + std::to_string(c.window));
    caf::actor_system_config cfg;
    caf::actor_system sys{configure(cfg)};
    caf::scoped_actor self{sys};
    auto t = std::make_shared<tally>();
    std::vector<caf::actor> shards{sys.spawn(fake_shard, t), sys.spawn(fake_shard, t)};
    std::vector<std::string> ids;
    for (size_t i = 0; i < c.orders; ++i)
      ids.push_back("ord_fan" + std::to_string(i));
    const size_t window = std::max<size_t>(1, c.window);
    auto d = sys.spawn(driver, shards, ids, c.window, caf::actor{self});
    // A finished message that is already there (a non-blocking look).
    auto finished_now = [&] {
      bool got = false;
      self->receive([&](finished_atom) { got = true; }, caf::after(std::chrono::seconds{0}) >> [] {});
      return got;
    };
    size_t answered = 0;
    while (answered < c.orders) {
      // Wait until the window is full again (or holds all that is left).
      const size_t expected = std::min(window, c.orders - answered);
      size_t held = 0;
      for (int spin = 0; spin < 20'000 && held != expected; ++spin) {
        held = 0;
        for (auto& s : shards)
          self->request(s, std::chrono::seconds{5}, held_atom::value)
            .receive([&](uint32_t n) { held += n; }, [](caf::error&) {});
      }
      ASSERT_EQ(held, expected) << "after " << answered << " answers";
      ASSERT_LE(t->max_in_flight.load(), static_cast<int>(window));
      ASSERT_FALSE(finished_now()) << "done() before the last answer";
      // One shard after the other, each counting what it answered: an
      // answer from the first may already bring the next command to the
      // second, which then answers it in this round too.
      for (auto& s : shards)
        self->request(s, std::chrono::seconds{5}, release_atom::value)
          .receive([&](uint32_t n) { answered += n; }, [](caf::error&) {});
    }
    bool finished = false;
    self->receive([&](finished_atom) { finished = true; },
                  caf::after(std::chrono::seconds{10}) >> [] {});
    EXPECT_TRUE(finished) << "done() never ran";
    EXPECT_EQ(answered, c.orders);
    EXPECT_LE(t->max_in_flight.load(), static_cast<int>(window));
    EXPECT_EQ(t->max_in_flight.load(), static_cast<int>(std::min(window, c.orders)));
    std::lock_guard<std::mutex> g{t->lock};
    EXPECT_EQ(t->asked.size(), c.orders);
    for (auto& [id, n] : t->asked)
      EXPECT_EQ(n, 1) << id;
    // done() ran once: no second finished message comes.
    bool again = false;
    self->receive([&](finished_atom) { again = true; }, caf::after(std::chrono::milliseconds{50}) >> [] {});
    EXPECT_FALSE(again);
    for (auto& s : shards)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    self->send_exit(d, caf::exit_reason::user_shutdown);
  }
}

} // namespace
} // namespace payengine
