#pragma once
// paysim as the engine's tests start it: the test key pairs, a free port,
// a time scale that turns Alipay's minutes into milliseconds.

#include "tests/sim/paysim_process.hpp"
#include "tests/support/engine_process.hpp"

#include <memory>
#include <string>

namespace payengine::testing {

inline std::unique_ptr<test::paysim_process> start_paysim(const std::string& listen = "127.0.0.1:0",
                                                          const std::string& time_scale = "1000") {
  const auto& k = test_channel_keys();
  return std::make_unique<test::paysim_process>(
    std::vector<std::string>{},
    std::vector<std::string>{"PAYSIM_LISTEN=" + listen, "PAYSIM_PRIVATE_KEY_FILE=" + k.channel_private,
                             "PAYSIM_APP_PUBLIC_KEY_FILE=" + k.app_public,
                             "PAYSIM_TIME_SCALE=" + time_scale});
}

} // namespace payengine::testing
