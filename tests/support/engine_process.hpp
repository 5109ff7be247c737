#pragma once
// A real payengine process for end-to-end tests: started with a fresh
// database, reached over HTTP, stopped with SIGTERM or killed with SIGKILL.

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace payengine::testing {

/// A free loopback TCP port (bound and released; good enough for tests).
int free_port();

/// RSA key files made once per test binary: the merchant app's pair (the
/// engine signs with it) and the channel's pair (paysim signs with it).
/// WeChat Pay reuses them: the app pair is the merchant's key, the channel
/// pair the platform's; `apiv3_key` is a file of 32 bytes (test_apiv3_key).
struct channel_keys {
  std::string app_private;
  std::string app_public;
  std::string channel_private;
  std::string channel_public;
  std::string apiv3_key;
};
const channel_keys& test_channel_keys();

constexpr const char* test_app_id = "2021000000000001";

/// WeChat Pay as start_paysim configures it (tests/support/paysim_for_tests.hpp);
/// the engine's matching settings are PAYENGINE_WECHAT_MCH_ID, _APP_ID,
/// _SERIAL (the merchant serial), _PLATFORM_SERIAL, _PRIVATE_KEY_FILE
/// (app_private), _PLATFORM_PUBLIC_KEY_FILE (channel_public), _APIV3_KEY_FILE.
constexpr const char* test_wechat_mch_id = "1900000001";
constexpr const char* test_wechat_app_id = "wx0000000000000001";
constexpr const char* test_wechat_merchant_serial = "MERCHANT_SERIAL_TEST";
constexpr const char* test_wechat_platform_serial = "PLATFORM_SERIAL_TEST";
constexpr const char* test_apiv3_key = "payengine-test-apiv3-key-32bytes";

struct http_result {
  int status = 0;
  nlohmann::json body;
  std::string raw;
  httplib::Headers headers;
};

class engine_process {
public:
  /// `env` adds to or overrides the defaults (database, listen, admin token,
  /// PAYENGINE_OUTBOUND_ALLOW=127.0.0.0/8).
  engine_process(std::string database_url, std::map<std::string, std::string> env = {});
  ~engine_process();

  /// Command-line flags for the next start(), e.g. {"--order-idle-ms", "50"}.
  void set_args(std::vector<std::string> args) { args_ = std::move(args); }

  /// Starts the binary and waits until /healthz answers (or fails the test).
  void start();
  /// SIGTERM, then waits (20 s at most, then SIGKILL and -2); returns the
  /// exit status (as from waitpid).
  int terminate();
  /// SIGKILL, then waits.
  void kill_hard();
  bool running() const { return pid_ > 0; }
  /// The process id while running (for SIGSTOP / SIGCONT in the tests).
  pid_t pid() const { return pid_; }

  int port() const { return port_; }
  const std::string& admin_token() const { return admin_token_; }
  std::string log() const;

  /// A fresh client (keep-alive, TCP_NODELAY, finite timeouts).
  std::unique_ptr<httplib::Client> client() const;

  http_result request(const std::string& method, const std::string& path,
                      const std::string& bearer, const std::string& body = {},
                      httplib::Headers headers = {},
                      const std::string& content_type = "application/json") const;

  /// Creates a merchant through the admin API; returns {id, api_key, ...}.
  nlohmann::json create_merchant(const std::string& name = "Test merchant") const;

private:
  std::string database_url_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> args_;
  std::string admin_token_ = "test-admin-token-0123456789";
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
};

/// Passes when `GET /admin/actors` lists every registry shard (one per
/// `order_registry-N` child of the supervisor, so a shard that did not answer
/// cannot hide its count) and each reports `restarts` = 0: no order actor
/// crashed and was restarted from storage.
::testing::AssertionResult no_order_actor_restarts(const engine_process& engine);

/// A valid order body with `merchant_order_no`.
nlohmann::json order_body(const std::string& merchant_order_no, int64_t amount = 8888);

} // namespace payengine::testing
