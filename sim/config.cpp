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
}

}  // namespace

std::variant<sim_config, int> parse_config(int argc, char** argv) {
  CLI::App app{"paysim: an Alipay OpenAPI and SMS provider simulator for payengine"};
  sim_config config;
  std::string listen = "127.0.0.1:8090";
  add_options(app, config, listen);
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
  return config;
}

}  // namespace payengine::sim
