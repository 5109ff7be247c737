#pragma once
// A CAF actor system of two workers per test, for tests that spawn actors
// with real threads (no test coordinator).

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <memory>

namespace payengine::testing {

struct actor_system_fixture : ::testing::Test {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  void SetUp() override {
    cfg.set("scheduler.max-threads", size_t{2});
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

} // namespace payengine::testing
