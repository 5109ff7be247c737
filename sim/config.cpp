#include "sim/config.hpp"

#include <iostream>

#include <CLI/CLI.hpp>

namespace payengine::sim {
namespace {

// "host:port" with port 0..65535.
bool split_listen(const std::string& listen, sim_config& config) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return false;
  const std::string port = listen.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  config.port = std::stoi(port);
  config.host = listen.substr(0, colon);
  return config.port <= 65535;
}

// Each PAYSIM_WECHAT_* variable with its member, in `--help` order.
struct wechat_option {
  const char* flag;
  const char* env;
  std::string wechat_settings::*member;
  const char* help;
};

constexpr wechat_option wechat_options[] = {
    {"--wechat-private-key-file", "PAYSIM_WECHAT_PRIVATE_KEY_FILE", &wechat_settings::private_key_file,
     "WeChat Pay: the platform's RSA private key (PEM); signs answers and notifications"},
    {"--wechat-serial", "PAYSIM_WECHAT_SERIAL", &wechat_settings::serial,
     "WeChat Pay: the platform certificate's serial (Wechatpay-Serial)"},
    {"--wechat-merchant-public-key-file", "PAYSIM_WECHAT_MERCHANT_PUBLIC_KEY_FILE",
     &wechat_settings::merchant_public_key_file, "WeChat Pay: the merchant's RSA public key (PEM); verifies requests"},
    {"--wechat-merchant-serial", "PAYSIM_WECHAT_MERCHANT_SERIAL", &wechat_settings::merchant_serial,
     "WeChat Pay: the merchant certificate's serial (serial_no in Authorization)"},
    {"--wechat-apiv3-key-file", "PAYSIM_WECHAT_APIV3_KEY_FILE", &wechat_settings::apiv3_key_file,
     "WeChat Pay: the 32-byte APIv3 key (one trailing newline ignored); encrypts notifications"},
    {"--wechat-mch-id", "PAYSIM_WECHAT_MCH_ID", &wechat_settings::mch_id, "WeChat Pay: the merchant id (mchid)"},
    {"--wechat-app-id", "PAYSIM_WECHAT_APP_ID", &wechat_settings::app_id, "WeChat Pay: the merchant's appid"},
};

void add_wechat_options(CLI::App& app, wechat_settings& wechat) {
  for (const auto& option : wechat_options) {
    app.add_option(option.flag, wechat.*option.member, option.help)->envname(option.env);
  }
}

void add_options(CLI::App& app, sim_config& config, std::string& listen) {
  app.add_option("--listen", listen, "host:port to serve on (port 0: any free port)")
      ->envname("PAYSIM_LISTEN")
      ->capture_default_str();
  app.add_option("--private-key-file", config.private_key_file, "the simulator's RSA private key (PEM)")
      ->envname("PAYSIM_PRIVATE_KEY_FILE")
      ->required();
  app.add_option("--app-public-key-file", config.app_public_key_file, "the merchant app's RSA public key (PEM)")
      ->envname("PAYSIM_APP_PUBLIC_KEY_FILE")
      ->required();
  app.add_option("--time-scale", config.time_scale, "factor (>= 1) shortening the notification schedule")
      ->envname("PAYSIM_TIME_SCALE")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  app.add_option("--public-url", config.public_url, "base URL of qr_code links (default http://<listen>)")
      ->envname("PAYSIM_PUBLIC_URL");
  add_wechat_options(app, config.wechat);
}

}  // namespace

bool wechat_settings::any() const {
  for (const auto& option : wechat_options) {
    if (!(this->*option.member).empty()) return true;
  }
  return false;
}

std::string wechat_settings::missing() const {
  std::string names;
  for (const auto& option : wechat_options) {
    if (!(this->*option.member).empty()) continue;
    names += (names.empty() ? "" : ", ") + std::string(option.env);
  }
  return names;
}

std::variant<sim_config, int> parse_config(int argc, char** argv) {
  CLI::App app{"paysim: an Alipay OpenAPI, WeChat Pay API v3 and SMS provider simulator for payengine"};
  sim_config config;
  std::string listen = "127.0.0.1:8090";
  add_options(app, config, listen);
  app.footer("WeChat Pay is served with all seven PAYSIM_WECHAT_* settings; with none, its routes answer 500.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "paysim: " << e.what() << "\n";
    return 2;
  }
  if (!split_listen(listen, config)) {
    std::cerr << "paysim: listen address must be host:port, got '" << listen << "'\n";
    return 2;
  }
  // Half a WeChat configuration is a mistake, not an Alipay-only start.
  if (config.wechat.any() && !config.wechat.missing().empty()) {
    std::cerr << "paysim: WeChat Pay needs every PAYSIM_WECHAT_* setting; missing " << config.wechat.missing()
              << "\n";
    return 2;
  }
  return config;
}

}  // namespace payengine::sim
