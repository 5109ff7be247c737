#pragma once

#include <string>
#include <variant>

namespace payengine::sim {

struct sim_config {
  std::string host = "127.0.0.1";
  int port = 8090;  // 0: any free port (printed on start)
  std::string private_key_file;     // the simulator's RSA key: signs responses and notifications
  std::string app_public_key_file;  // the engine's app key: verifies requests
  double time_scale = 1;            // >= 1; divides the notification schedule
  std::string public_url;           // base of qr_code URLs; empty: http://host:port
};

// Flags, each also read from its PAYSIM_* variable (a flag wins). Returns
// the configuration, or the exit code to stop with: 0 after --help, 2 after
// one line on stderr naming what is wrong.
[[nodiscard]] std::variant<sim_config, int> parse_config(int argc, char** argv);

}  // namespace payengine::sim
