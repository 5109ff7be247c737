#pragma once

#include <string>
#include <variant>

namespace payengine::sim {

// WeChat Pay v3 (API.md "Channels: WeChat Pay v3"): all of these, or none
// (then the WeChat routes answer 500 "wechat not configured").
struct wechat_settings {
  std::string private_key_file;          // the platform's RSA key: signs answers and notifications
  std::string serial;                    // the platform certificate's serial (Wechatpay-Serial)
  std::string merchant_public_key_file;  // verifies the merchant's Authorization
  std::string merchant_serial;           // the merchant certificate's serial (serial_no)
  std::string apiv3_key_file;            // 32 bytes: encrypts notification resources
  std::string mch_id;
  std::string app_id;

  [[nodiscard]] bool any() const;
  // The PAYSIM_WECHAT_* names of the settings left empty.
  [[nodiscard]] std::string missing() const;
};

struct sim_config {
  std::string host = "127.0.0.1";
  int port = 8090;  // 0: any free port (printed on start)
  std::string private_key_file;     // the simulator's RSA key: signs responses and notifications
  std::string app_public_key_file;  // the engine's app key: verifies requests
  double time_scale = 1;            // >= 1; divides the notification schedule
  std::string public_url;           // base of qr_code URLs; empty: http://host:port
  wechat_settings wechat;
};

// Flags, each also read from its PAYSIM_* variable (a flag wins). Returns
// the configuration, or the exit code to stop with: 0 after --help, 2 after
// one line on stderr naming what is wrong.
[[nodiscard]] std::variant<sim_config, int> parse_config(int argc, char** argv);

}  // namespace payengine::sim
