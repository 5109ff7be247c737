#pragma once
// paysim as the engine's tests start it: the test key pairs, a free port,
// a time scale that turns Alipay's minutes into milliseconds, and WeChat Pay
// configured beside Alipay (the app pair as the merchant's key, the channel
// pair as the platform's; ids and serials in engine_process.hpp).

#include "tests/sim/paysim_process.hpp"
#include "tests/support/engine_process.hpp"

#include <map>
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
                             "PAYSIM_TIME_SCALE=" + time_scale,
                             "PAYSIM_WECHAT_PRIVATE_KEY_FILE=" + k.channel_private,
                             std::string("PAYSIM_WECHAT_SERIAL=") + test_wechat_platform_serial,
                             "PAYSIM_WECHAT_MERCHANT_PUBLIC_KEY_FILE=" + k.app_public,
                             std::string("PAYSIM_WECHAT_MERCHANT_SERIAL=") + test_wechat_merchant_serial,
                             "PAYSIM_WECHAT_APIV3_KEY_FILE=" + k.apiv3_key,
                             std::string("PAYSIM_WECHAT_MCH_ID=") + test_wechat_mch_id,
                             std::string("PAYSIM_WECHAT_APP_ID=") + test_wechat_app_id});
}

/// The engine's settings for both channels of `sim` (API.md v1.1): Alipay
/// and WeChat Pay v3 with the test keys start_paysim gives paysim.
inline std::map<std::string, std::string> both_channels(const test::paysim_process& sim) {
  const auto& k = test_channel_keys();
  return {{"PAYENGINE_ALIPAY_GATEWAY_URL", sim.url() + "/gateway.do"},
          {"PAYENGINE_WECHAT_GATEWAY_URL", sim.url()},
          {"PAYENGINE_WECHAT_MCH_ID", test_wechat_mch_id},
          {"PAYENGINE_WECHAT_APP_ID", test_wechat_app_id},
          {"PAYENGINE_WECHAT_PRIVATE_KEY_FILE", k.app_private},
          {"PAYENGINE_WECHAT_SERIAL", test_wechat_merchant_serial},
          {"PAYENGINE_WECHAT_PLATFORM_PUBLIC_KEY_FILE", k.channel_public},
          {"PAYENGINE_WECHAT_PLATFORM_SERIAL", test_wechat_platform_serial},
          {"PAYENGINE_WECHAT_APIV3_KEY_FILE", k.apiv3_key}};
}

} // namespace payengine::testing
