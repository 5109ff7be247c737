#pragma once
// Every knob and every limit of the engine, in one place (units last).
// Loaded from a TOML file (--config) overridden by PAYENGINE_* variables
// overridden by command-line flags.

#include <cstdint>
#include <string>
#include <string_view>
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
  // WeChat Pay API v3 (API.md v1.1): configured when the gateway URL is set.
  std::string wechat_gateway_url;          // origin, e.g. https://api.mch.weixin.qq.com
  std::string wechat_mch_id;
  std::string wechat_app_id;
  std::string wechat_private_key_file;     // the merchant's RSA key (PEM)
  std::string wechat_serial;               // its certificate's serial
  std::string wechat_platform_public_key_file;
  std::string wechat_platform_serial;
  std::string wechat_apiv3_key_file;       // 32 bytes
  std::string sms_url;
  double time_scale = 1.0; // a speed-up factor for schedules, not money

  // --- HTTP ----------------------------------------------------------------
  uint32_t http_threads = 160;
  uint32_t request_body_max_bytes = 64 * 1024;
  uint32_t request_timeout_ms = 10'000;
  uint32_t long_poll_max_s = 30;
  uint32_t long_polls_max = 48;
  uint32_t keep_alive_timeout_s = 5;
  uint32_t http_io_threads = 2;          // event-loop threads reading and writing sockets
  uint32_t http_connections_max = 16'384; // open connections; more are refused at once
  uint32_t request_read_timeout_ms = 5'000; // headers and body of one request, from its first byte
  uint32_t http_inflight_min = 8;        // the adaptive admission limit's floor
  uint32_t http_inflight_max = 96;       // and its ceiling (below http_threads)
  uint32_t http_latency_target_ms = 20;  // answers this fast never shrink that limit
  /// Defaults of a new merchant's rate limit (API.md v1.1 "Overload"):
  /// requests a second (0: unlimited) and burst (0: one second's worth).
  uint32_t merchant_rate_per_s = 0;
  uint32_t merchant_burst = 0;
  /// How long a node trusts its cached merchant record: a PATCH on another
  /// node reaches this one within this time.
  uint32_t merchant_cache_ttl_ms = 5'000;

  // --- actors ------------------------------------------------------------
  uint32_t scheduler_threads = 0; // 0: one per core
  uint32_t registry_shards = 4;
  uint32_t live_orders_max = 200'000;
  /// Orders read through GET /v1/orders/{id} kept as committed JSON, so that
  /// the next reads need no message to their actor (0: none kept).
  uint32_t read_cache_entries = 16'384;
  uint32_t order_idle_ms = 60'000;
  /// Order actors a registry shard asks to passivate per idle sweep tick;
  /// while more are due, the next tick comes 10 ms later.
  uint32_t idle_sweep_batch_max = 32;
  uint32_t order_restarts_max = 5;
  uint32_t expiry_sweep_interval_ms = 1'000;
  uint32_t expiry_sweep_batch_max = 2'000;

  // --- channels ------------------------------------------------------------
  /// The order actor's deadline for one gateway call, retries included: the
  /// gateway's worst case (gateway_call_worst_ms) must fit within it.
  uint32_t channel_timeout_ms = 60'000;
  uint32_t channel_retry_ms = 2'000;     // first back-off for owed channel work (scaled)
  uint32_t wallet_reservation_timeout_ms = 60'000; // an unposted balance reservation is voided after it
  uint32_t reconcile_interval_ms = 30'000; // between reconciler sweeps (scaled)
  uint32_t reconcile_after_ms = 60'000;  // an order waiting this long is queried (scaled)
  uint32_t reconcile_batch_max = 500;

  // --- channel gateways (actors/gateway.cpp; the same for every channel) ---
  // HTTP timeouts are real; the back-off and the breaker's open interval
  // are nominal (divided by time_scale).
  uint32_t gateway_workers = 8;              // detached HTTP workers, one connection each
  uint32_t gateway_in_flight_max = 512;      // calls in progress, retries included
  uint32_t gateway_connect_timeout_ms = 2'000;
  uint32_t gateway_write_timeout_ms = 2'000; // a request is a few kB
  uint32_t gateway_read_timeout_ms = 4'000;
  uint32_t gateway_attempts_max = 5;         // tries of one call, the first included
  uint32_t gateway_retry_step_ms = 1'000;    // the n-th retry waits n steps
  uint32_t gateway_breaker_failures_max = 5; // consecutive failed attempts open it
  uint32_t gateway_breaker_open_ms = 10'000; // then one probe
  double gateway_rate_per_s = 500;           // token bucket: calls a second
  uint32_t gateway_burst = 1'000;            // saved-up calls at most

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
  uint32_t channel_call_deadline_ms = 8'000;         // one HTTP attempt to a channel, in total (connect + write + read)
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
  /// The deadline of one storage request (the asking actor's); a stuck
  /// statement must turn into an error before it: see validate().
  uint32_t storage_timeout_ms = 5'000;
  /// Requests waiting per writer (its mailbox and its open batch); beyond,
  /// a request is refused at once (503 overloaded, nothing applied).
  uint32_t storage_queue_max = 4'096;
  /// libpq connect_timeout of each writer's connection: whole seconds,
  /// rounded up, at least 2 (libpq's minimum).
  uint32_t db_connect_timeout_ms = 2'000;
  /// statement_timeout of each writer's session (the migrations' is not set).
  uint32_t db_statement_timeout_ms = 1'500;

  // --- several nodes (API.md "Several nodes") --------------------------------
  /// This node's id; empty: generated from the host name and the listen
  /// port, so that a node restarted in place takes its shards back at once.
  std::string node_id;
  /// How the other nodes reach this one; empty: "http://" + listen.
  std::string internal_url;
  /// A shard lease lasts this long; the owner renews it every third.
  uint32_t lease_ttl_ms = 3'000;
  /// Shards of the order ids, used by the first node that starts on a
  /// database (stored; later nodes take the stored count).
  uint32_t cluster_shards = 64;

  // --- events on RabbitMQ (API.md v1.1; docs/events_on_rabbitmq.md) ---------
  /// amqp://user:pass@host:port/vhost; empty: no broker, nothing connects.
  std::string amqp_url;
  uint32_t amqp_in_flight_max = 256;       // events sent and not yet confirmed and marked
  uint32_t amqp_poll_ms = 20;              // how often an idle relay looks at the outbox
  uint32_t amqp_confirm_timeout_ms = 10'000; // a confirm later than this drops the connection
  uint32_t amqp_connect_timeout_ms = 1'000;  // TCP connect to the broker
  uint32_t amqp_rpc_timeout_ms = 2'000;    // handshake and each synchronous AMQP method
  uint32_t amqp_heartbeat_s = 10;
  uint32_t amqp_reconnect_max_ms = 5'000;  // the back-off's cap (it starts at 100 ms)
  uint32_t amqp_prefetch = 32;             // fulfillment updates unacknowledged at most
  uint32_t amqp_requeue_delay_ms = 1'000;  // a transient failure is held this long, then requeued

  std::string log_level = "info";

  std::string listen_host() const;
  uint16_t listen_port() const;
  /// storage_writers with 0 resolved.
  uint32_t writers() const;
  /// A schedule's real duration under time_scale (never below 1 ms).
  uint32_t scaled_ms(uint64_t nominal_ms) const;
  /// How long the gateway waits for a worker's answer to one attempt: the
  /// attempt's total deadline (channel_call_deadline_ms) plus slack.
  uint64_t gateway_attempt_timeout_ms() const;
  /// The longest one gateway call can take: gateway_attempts_max attempts
  /// of gateway_attempt_timeout_ms, plus the back-off between them
  /// (1 + 2 + ... + (attempts - 1) steps, nominal: time_scale 1).
  uint64_t gateway_call_worst_ms() const;
  /// db_connect_timeout_ms as libpq takes it: whole seconds, at least 2.
  uint32_t db_connect_timeout_s() const;
  /// The longest a writer may hold a request that meets a stuck statement:
  /// a reconnect, the batch's statement timing out, then the request
  /// alone timing out again (a failed batch is retried one by one).
  uint64_t storage_worst_ms() const;
};

/// The queueing slack in gateway_attempt_timeout_ms: a worker may finish
/// another attempt before it starts this one.
constexpr uint32_t gateway_attempt_slack_ms = 1'000;

/// A default-constructed engine_config: the one place for defaults, for
/// code that keeps its own copy of a knob (actors/gateway.hpp).
const engine_config& config_defaults();

/// Either a valid configuration, or one line saying what is wrong.
struct config_error {
  std::string message;
  int exit_code = 2; // 0 for --help / --version
};

std::variant<engine_config, config_error> load_config(int argc, char** argv);

/// The configuration a file's text alone gives (no flags, no environment):
/// load_config's reading of the --config file (CLI11's TOML reader, then
/// each key into its field), then the same validation and derived values,
/// without building the command line. The fuzz target's entry.
std::variant<engine_config, config_error> config_from_file_text(std::string_view text);

/// Every setting as `key = value`, one a line, in the order of --help:
/// two configurations are the same when their descriptions are.
std::string describe(const engine_config& cfg);

/// The node id used when none is set: the host name and the listen port.
std::string default_node_id(const engine_config& cfg);

/// Checks ranges and required fields; empty string when valid.
std::string validate(const engine_config& cfg);

} // namespace payengine
