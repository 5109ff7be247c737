#pragma once
// Every knob and every limit of the engine, in one place (units last).
// Loaded from a TOML file (--config) overridden by PAYENGINE_* variables
// overridden by command-line flags.

#include <cstdint>
#include <string>
#include <variant>

namespace payengine {

struct engine_config {
  // --- API.md "Running the engine" ---------------------------------------
  std::string database_url;
  std::string listen = "127.0.0.1:8080";
  std::string admin_token;
  std::string public_url;
  std::string alipay_gateway_url;
  std::string alipay_app_id;
  std::string alipay_private_key_file;
  std::string alipay_public_key_file;
  std::string sms_url;
  double time_scale = 1.0; // a speed-up factor for schedules, not money

  // --- HTTP ----------------------------------------------------------------
  uint32_t http_threads = 128;
  uint32_t request_body_max_bytes = 64 * 1024;
  uint32_t request_timeout_ms = 10'000;
  uint32_t long_poll_max_s = 30;
  uint32_t long_polls_max = 48;
  uint32_t keep_alive_timeout_s = 5;

  // --- actors ------------------------------------------------------------
  uint32_t scheduler_threads = 0; // 0: one per core
  uint32_t registry_shards = 4;
  uint32_t live_orders_max = 200'000;
  uint32_t order_idle_ms = 60'000;
  uint32_t order_restarts_max = 5;
  uint32_t expiry_sweep_interval_ms = 1'000;
  uint32_t expiry_sweep_batch_max = 2'000;

  // --- channels ------------------------------------------------------------
  uint32_t channel_timeout_ms = 60'000;  // one gateway call, retries included
  uint32_t channel_retry_ms = 2'000;     // first back-off for owed channel work (scaled)
  uint32_t reconcile_interval_ms = 30'000; // between reconciler sweeps (scaled)
  uint32_t reconcile_after_ms = 60'000;  // an order waiting this long is queried (scaled)
  uint32_t reconcile_batch_max = 500;

  // --- notifications -----------------------------------------------------------
  /// Seconds before each retry of a webhook or SMS (API.md), time-scaled.
  std::string notify_schedule_s = "0,0,0,240,600,600,3600,7200,21600,54000";
  uint32_t webhook_timeout_ms = 5'000; // one attempt in total, DNS to last byte (real time)
  uint32_t notifier_workers = 8;
  uint32_t notifier_per_merchant_max = 2;
  uint32_t notifier_poll_ms = 500;
  uint32_t notifier_batch_max = 100;

  // --- outbound calls (API.md "Outbound calls"; net/) ------------------------
  // Network deadlines are real time: time_scale never shortens them.
  /// CIDRs (comma-separated, IPv4 and IPv6) that webhooks, SMS and channel
  /// calls may reach although loopback, private, link-local, ...; empty: none.
  std::string outbound_allow;
  uint32_t outbound_connect_timeout_ms = 2'000;      // one TCP connect, within a deadline
  uint32_t webhook_response_max_bytes = 64 * 1024;   // webhook and SMS answers
  uint32_t channel_call_deadline_ms = 10'000;        // one HTTP attempt to a channel, in total
  uint32_t channel_response_max_bytes = 1024 * 1024; // one channel answer

  // --- operations ------------------------------------------------------------
  /// Restarts of the whole engine (after one of its actors died) allowed
  /// within a minute; beyond, it stays down and /readyz answers 503.
  uint32_t engine_restarts_max = 5;
  /// GET /admin/stream clients at once (each holds an HTTP thread).
  uint32_t stream_clients_max = 8;
  /// Events buffered per stream client; a slower client loses the oldest.
  uint32_t stream_buffer_max = 4'096;

  // --- storage -------------------------------------------------------------
  uint32_t storage_writers = 0; // 0: one per two cores (fewer, larger batches win on small machines)
  uint32_t storage_batch_max = 256;
  uint32_t storage_timeout_ms = 5'000;

  std::string log_level = "info";

  std::string listen_host() const;
  uint16_t listen_port() const;
  /// storage_writers with 0 resolved.
  uint32_t writers() const;
  /// A schedule's real duration under time_scale (never below 1 ms).
  uint32_t scaled_ms(uint64_t nominal_ms) const;
};

/// Either a valid configuration, or one line saying what is wrong.
struct config_error {
  std::string message;
  int exit_code = 2; // 0 for --help / --version
};

std::variant<engine_config, config_error> load_config(int argc, char** argv);

/// Checks ranges and required fields; empty string when valid.
std::string validate(const engine_config& cfg);

} // namespace payengine
