#pragma once
// A CAF actor system of two workers per test, for tests that spawn actors
// with real threads (no test coordinator), and the actors such tests ask.

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <vector>

namespace payengine::testing {

struct actor_system_fixture : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  void SetUp() override {
    cfg.set("scheduler.max-threads", size_t{2});
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

/// Answers each int with that int plus `step`. (Spawned functions take an
/// argument: CAF 0.17 binds a reference to a null tuple for one without,
/// which UBSan reports.)
inline caf::behavior adder(int step) {
  return {[step](int x) { return x + step; }};
}

/// What a black hole holds: the requests it never answers on its own (a
/// test may deliver them), and who sent each.
struct held_requests {
  std::mutex mx;
  std::vector<caf::response_promise> promises;
  std::vector<caf::actor_addr> senders;
  size_t size() {
    std::lock_guard<std::mutex> guard{mx};
    return promises.size();
  }
  /// Drops the promises (each holds a reference to its requester).
  void clear() {
    std::lock_guard<std::mutex> guard{mx};
    promises.clear();
  }
};

/// Takes every int request and never answers it.
inline caf::behavior black_hole(caf::event_based_actor* self, std::shared_ptr<held_requests> held) {
  return {[self, held](int) {
    std::lock_guard<std::mutex> guard{held->mx};
    held->senders.push_back(caf::actor_cast<caf::actor_addr>(self->current_sender()));
    held->promises.push_back(self->make_response_promise());
  }};
}

} // namespace payengine::testing
