#include "config/config.hpp"

#include "broker/amqp_url.hpp"
#include "net/address_policy.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <istream>
#include <memory>
#include <sstream>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace payengine {

namespace {

/// One setting: its field, its name (`--key` on the command line and `key`
/// in the file, also spelled with dashes), its help and its environment
/// variable. The list of them (settings()) is built once and serves both
/// the command line (a CLI11 option each) and the file (read_config_file).
struct setting {
  std::variant<std::string engine_config::*, uint32_t engine_config::*, double engine_config::*> field;
  std::string key;
  std::string dashed; // key with '-' for '_'; CLI11's first long name, the one its errors show
  std::string help;
  std::string env; // empty: none
};

class setting_list {
public:
  template <class T>
  void add(T engine_config::*field, std::string key, std::string help, std::string env = {}) {
    auto dashed = key;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    list_.push_back({field, std::move(key), std::move(dashed), std::move(help), std::move(env)});
  }
  const std::vector<setting>& list() const { return list_; }

private:
  std::vector<setting> list_;
};

void run_settings(setting_list& s) {
  s.add(&engine_config::database_url, "database_url", "libpq connection string", "PAYENGINE_DATABASE_URL");
  s.add(&engine_config::listen, "listen", "host:port of the HTTP API", "PAYENGINE_LISTEN");
  s.add(&engine_config::admin_token, "admin_token", "bearer token of /admin, /console, /metrics", "PAYENGINE_ADMIN_TOKEN");
  s.add(&engine_config::public_url, "public_url", "base URL at which channels reach the callbacks", "PAYENGINE_PUBLIC_URL");
  s.add(&engine_config::alipay_gateway_url, "alipay_gateway_url", "Alipay OpenAPI gateway URL", "PAYENGINE_ALIPAY_GATEWAY_URL");
  s.add(&engine_config::alipay_app_id, "alipay_app_id", "Alipay app id", "PAYENGINE_ALIPAY_APP_ID");
  s.add(&engine_config::alipay_private_key_file, "alipay_private_key_file", "the app's RSA private key (PEM)", "PAYENGINE_ALIPAY_PRIVATE_KEY_FILE");
  s.add(&engine_config::alipay_public_key_file, "alipay_public_key_file", "Alipay's RSA public key (PEM)", "PAYENGINE_ALIPAY_PUBLIC_KEY_FILE");
  s.add(&engine_config::wechat_gateway_url, "wechat_gateway_url", "WeChat Pay v3 API origin (empty: WeChat not configured)", "PAYENGINE_WECHAT_GATEWAY_URL");
  s.add(&engine_config::wechat_mch_id, "wechat_mch_id", "WeChat Pay merchant id (mchid)", "PAYENGINE_WECHAT_MCH_ID");
  s.add(&engine_config::wechat_app_id, "wechat_app_id", "WeChat Pay app id (appid)", "PAYENGINE_WECHAT_APP_ID");
  s.add(&engine_config::wechat_private_key_file, "wechat_private_key_file", "the merchant's RSA private key (PEM)", "PAYENGINE_WECHAT_PRIVATE_KEY_FILE");
  s.add(&engine_config::wechat_serial, "wechat_serial", "the merchant certificate's serial", "PAYENGINE_WECHAT_SERIAL");
  s.add(&engine_config::wechat_platform_public_key_file, "wechat_platform_public_key_file", "WeChat Pay platform RSA public key (PEM)", "PAYENGINE_WECHAT_PLATFORM_PUBLIC_KEY_FILE");
  s.add(&engine_config::wechat_platform_serial, "wechat_platform_serial", "the platform certificate's serial", "PAYENGINE_WECHAT_PLATFORM_SERIAL");
  s.add(&engine_config::wechat_apiv3_key_file, "wechat_apiv3_key_file", "the APIv3 key (a file of 32 bytes)", "PAYENGINE_WECHAT_APIV3_KEY_FILE");
  s.add(&engine_config::sms_url, "sms_url", "SMS provider send endpoint (SMS off if empty)", "PAYENGINE_SMS_URL");
  s.add(&engine_config::time_scale, "time_scale", "factor >= 1 that shortens every schedule", "PAYENGINE_TIME_SCALE");
  s.add(&engine_config::log_level, "log_level", "trace, debug, info, warn, error", "PAYENGINE_LOG_LEVEL");
}

// API.md "Outbound calls": where webhooks, SMS and channel calls may go.
void outbound_settings(setting_list& s) {
  s.add(&engine_config::outbound_allow, "outbound_allow",
      "CIDRs, comma-separated, that outbound calls may reach although loopback, private, link-local, ... (default none)",
      "PAYENGINE_OUTBOUND_ALLOW");
  s.add(&engine_config::outbound_connect_timeout_ms, "outbound_connect_timeout_ms", "one TCP connect of an outbound call (within its deadline)");
  s.add(&engine_config::webhook_response_max_bytes, "webhook_response_max_bytes", "largest webhook or SMS answer body read (more fails the attempt)");
  s.add(&engine_config::channel_call_deadline_ms, "channel_call_deadline_ms", "total deadline of one HTTP attempt to a channel (not time-scaled)");
  s.add(&engine_config::channel_response_max_bytes, "channel_response_max_bytes", "largest channel answer body read (more fails the attempt)");
}

std::string validate_outbound(const engine_config& c) {
  if (auto policy = net::address_policy::parse(c.outbound_allow);
      auto* err = std::get_if<std::string>(&policy))
    return "PAYENGINE_OUTBOUND_ALLOW (outbound_allow): " + *err;
  if (c.outbound_connect_timeout_ms < 1 || c.channel_call_deadline_ms < 100)
    return "outbound_connect_timeout_ms must be at least 1 and channel_call_deadline_ms 100";
  if (c.webhook_response_max_bytes < 1 || c.channel_response_max_bytes < 1024
      || c.webhook_response_max_bytes > (1u << 26) || c.channel_response_max_bytes > (1u << 26))
    return "webhook_response_max_bytes must be 1..67108864 and channel_response_max_bytes 1024..67108864";
  return {};
}

void limit_settings(setting_list& s) {
  s.add(&engine_config::http_threads, "http_threads", "threads that run route handlers (long polls hold one)", "PAYENGINE_HTTP_THREADS");
  s.add(&engine_config::http_io_threads, "http_io_threads", "event-loop threads that read and write sockets", "PAYENGINE_HTTP_IO_THREADS");
  s.add(&engine_config::http_connections_max, "http_connections_max", "open connections (more are refused with 503)", "PAYENGINE_HTTP_CONNECTIONS_MAX");
  s.add(&engine_config::request_read_timeout_ms, "request_read_timeout_ms", "deadline to read one request's headers and body", "PAYENGINE_REQUEST_READ_TIMEOUT_MS");
  s.add(&engine_config::http_inflight_min, "http_inflight_min", "floor of the adaptive limit on API requests in progress", "PAYENGINE_HTTP_INFLIGHT_MIN");
  s.add(&engine_config::http_inflight_max, "http_inflight_max", "ceiling of the adaptive limit on API requests in progress", "PAYENGINE_HTTP_INFLIGHT_MAX");
  s.add(&engine_config::http_latency_target_ms, "http_latency_target_ms", "API answers within this never shrink the admission limit (0: any queueing does)", "PAYENGINE_HTTP_LATENCY_TARGET_MS");
  s.add(&engine_config::request_body_max_bytes, "request_body_max_bytes", "largest accepted request body");
  s.add(&engine_config::request_timeout_ms, "request_timeout_ms", "deadline of one API request inside the engine", "PAYENGINE_REQUEST_TIMEOUT_MS");
  s.add(&engine_config::long_poll_max_s, "long_poll_max_s", "longest wait_for_change");
  s.add(&engine_config::long_polls_max, "long_polls_max", "concurrent long polls (more answer 429)", "PAYENGINE_LONG_POLLS_MAX");
  s.add(&engine_config::keep_alive_timeout_s, "keep_alive_timeout_s", "idle keep-alive connection lifetime", "PAYENGINE_KEEP_ALIVE_TIMEOUT_S");
  s.add(&engine_config::merchant_rate_per_s, "merchant_rate_per_s", "a new merchant's requests a second (0: unlimited)", "PAYENGINE_MERCHANT_RATE_PER_S");
  s.add(&engine_config::merchant_burst, "merchant_burst", "a new merchant's burst (0: one second's worth)", "PAYENGINE_MERCHANT_BURST");
  s.add(&engine_config::merchant_cache_ttl_ms, "merchant_cache_ttl_ms", "how long a cached merchant record is trusted (changes on other nodes show after this)", "PAYENGINE_MERCHANT_CACHE_TTL_MS");
  s.add(&engine_config::scheduler_threads, "scheduler_threads", "CAF worker threads (0: one per core)");
  s.add(&engine_config::registry_shards, "registry_shards", "order registry shards");
  s.add(&engine_config::live_orders_max, "live_orders_max", "live order actors in memory (LRU beyond)");
  s.add(&engine_config::read_cache_entries, "read_cache_entries", "committed orders kept for GET /v1/orders/{id} without asking their actor (0: none)", "PAYENGINE_READ_CACHE_ENTRIES");
  s.add(&engine_config::order_idle_ms, "order_idle_ms", "idle time before an order actor passivates");
  s.add(&engine_config::idle_sweep_batch_max, "idle_sweep_batch_max", "idle order actors a registry shard asks to passivate per tick (more: 10 ms later)");
  s.add(&engine_config::order_restarts_max, "order_restarts_max", "eager restarts of one crashed order actor within ten minutes (then only on demand)");
  s.add(&engine_config::expiry_sweep_interval_ms, "expiry_sweep_interval_ms", "how often stored orders are checked for expiry");
  s.add(&engine_config::expiry_sweep_batch_max, "expiry_sweep_batch_max", "orders expired per sweep at most");
  s.add(&engine_config::channel_timeout_ms, "channel_timeout_ms", "deadline of one gateway call, retries included (the gateway's worst case must fit)", "PAYENGINE_CHANNEL_TIMEOUT_MS");
  s.add(&engine_config::channel_retry_ms, "channel_retry_ms", "first back-off before owed channel work is retried (time-scaled)");
  s.add(&engine_config::wallet_reservation_timeout_ms, "wallet_reservation_timeout_ms",
      "a wallet voids a reservation (a balance payment or top-up refund in progress) not posted within this",
      "PAYENGINE_WALLET_RESERVATION_TIMEOUT_MS");
  s.add(&engine_config::reconcile_interval_ms, "reconcile_interval_ms", "between reconciler sweeps (time-scaled)");
  s.add(&engine_config::reconcile_after_ms, "reconcile_after_ms", "an order waiting on a channel this long is queried (time-scaled)");
  s.add(&engine_config::reconcile_batch_max, "reconcile_batch_max", "orders reconciled per sweep at most");
  s.add(&engine_config::notify_schedule_s, "notify_schedule_s", "seconds before each retry of a webhook or SMS, comma-separated (time-scaled)");
  s.add(&engine_config::webhook_timeout_ms, "webhook_timeout_ms", "total deadline of one webhook or SMS attempt (DNS, connect, send, answer; not time-scaled)");
  s.add(&engine_config::notifier_workers, "notifier_workers", "delivery workers (blocking HTTP)");
  s.add(&engine_config::notifier_per_merchant_max, "notifier_per_merchant_max", "concurrent deliveries to one merchant");
  s.add(&engine_config::notifier_poll_ms, "notifier_poll_ms", "how often the outbox is checked");
  s.add(&engine_config::notifier_batch_max, "notifier_batch_max", "deliveries claimed at once");
  s.add(&engine_config::engine_restarts_max, "engine_restarts_max", "restarts of the engine's actors allowed within a minute (then it stays down)");
  s.add(&engine_config::stream_clients_max, "stream_clients_max", "GET /admin/stream clients at once");
  s.add(&engine_config::stream_buffer_max, "stream_buffer_max", "events buffered per stream client (a slow one loses the oldest)");
  s.add(&engine_config::storage_writers, "storage_writers", "storage writer actors, one connection each (0: one per two cores)");
  s.add(&engine_config::storage_batch_max, "storage_batch_max", "requests per group commit at most");
  s.add(&engine_config::storage_timeout_ms, "storage_timeout_ms", "deadline of one storage request", "PAYENGINE_STORAGE_TIMEOUT_MS");
  s.add(&engine_config::storage_queue_max, "storage_queue_max", "requests waiting per storage writer (beyond: 503, nothing applied)", "PAYENGINE_STORAGE_QUEUE_MAX");
  s.add(&engine_config::db_connect_timeout_ms, "db_connect_timeout_ms", "libpq connect timeout of each writer (whole seconds, at least 2)", "PAYENGINE_DB_CONNECT_TIMEOUT_MS");
  s.add(&engine_config::db_statement_timeout_ms, "db_statement_timeout_ms", "statement_timeout of each writer's session", "PAYENGINE_DB_STATEMENT_TIMEOUT_MS");
  s.add(&engine_config::node_id, "node_id", "this node's id (default: from the host name and the listen port)", "PAYENGINE_NODE_ID");
  s.add(&engine_config::internal_url, "internal_url", "how the other nodes reach this one (default: http:// + listen)", "PAYENGINE_INTERNAL_URL");
  s.add(&engine_config::lease_ttl_ms, "lease_ttl_ms", "a shard lease's lifetime; renewed every third of it", "PAYENGINE_LEASE_TTL_MS");
  s.add(&engine_config::cluster_shards, "cluster_shards", "shards of the order ids, taken by the first node on a database (stored)", "PAYENGINE_CLUSTER_SHARDS");
}

void gateway_settings(setting_list& s) {
  s.add(&engine_config::gateway_workers, "gateway_workers", "HTTP workers per channel gateway, one connection each", "PAYENGINE_GATEWAY_WORKERS");
  s.add(&engine_config::gateway_in_flight_max, "gateway_in_flight_max", "gateway calls in progress, retries included", "PAYENGINE_GATEWAY_IN_FLIGHT_MAX");
  s.add(&engine_config::gateway_connect_timeout_ms, "gateway_connect_timeout_ms", "channel HTTP connect timeout", "PAYENGINE_GATEWAY_CONNECT_TIMEOUT_MS");
  s.add(&engine_config::gateway_write_timeout_ms, "gateway_write_timeout_ms", "channel HTTP write timeout", "PAYENGINE_GATEWAY_WRITE_TIMEOUT_MS");
  s.add(&engine_config::gateway_read_timeout_ms, "gateway_read_timeout_ms", "channel HTTP read timeout", "PAYENGINE_GATEWAY_READ_TIMEOUT_MS");
  s.add(&engine_config::gateway_attempts_max, "gateway_attempts_max", "tries of one channel call, the first included (1..10)", "PAYENGINE_GATEWAY_ATTEMPTS_MAX");
  s.add(&engine_config::gateway_retry_step_ms, "gateway_retry_step_ms", "the n-th retry waits n steps (time-scaled)", "PAYENGINE_GATEWAY_RETRY_STEP_MS");
  s.add(&engine_config::gateway_breaker_failures_max, "gateway_breaker_failures_max", "consecutive failed attempts that open the circuit breaker", "PAYENGINE_GATEWAY_BREAKER_FAILURES_MAX");
  s.add(&engine_config::gateway_breaker_open_ms, "gateway_breaker_open_ms", "open circuit before one probe (time-scaled)", "PAYENGINE_GATEWAY_BREAKER_OPEN_MS");
  s.add(&engine_config::gateway_rate_per_s, "gateway_rate_per_s", "channel calls a second (token bucket)", "PAYENGINE_GATEWAY_RATE_PER_S");
  s.add(&engine_config::gateway_burst, "gateway_burst", "channel calls saved up at most (token bucket)", "PAYENGINE_GATEWAY_BURST");
}

// API.md v1.1 "Events on RabbitMQ": the broker is optional.
void amqp_settings(setting_list& s) {
  s.add(&engine_config::amqp_url, "amqp_url", "RabbitMQ, amqp://user:pass@host:port/vhost: merchant events are published there and fulfillment updates consumed (off if empty)", "PAYENGINE_AMQP_URL");
  s.add(&engine_config::amqp_in_flight_max, "amqp_in_flight_max", "events sent to the broker and not yet confirmed at most");
  s.add(&engine_config::amqp_poll_ms, "amqp_poll_ms", "how often an idle relay looks for new events");
  s.add(&engine_config::amqp_confirm_timeout_ms, "amqp_confirm_timeout_ms", "a publisher confirm later than this drops the connection (events are sent again)");
  s.add(&engine_config::amqp_connect_timeout_ms, "amqp_connect_timeout_ms", "TCP connect to the broker");
  s.add(&engine_config::amqp_rpc_timeout_ms, "amqp_rpc_timeout_ms", "the AMQP handshake and each synchronous method, and one socket write");
  s.add(&engine_config::amqp_heartbeat_s, "amqp_heartbeat_s", "AMQP heartbeat (0: none)");
  s.add(&engine_config::amqp_reconnect_max_ms, "amqp_reconnect_max_ms", "longest back-off between connection attempts");
  s.add(&engine_config::amqp_prefetch, "amqp_prefetch", "fulfillment updates delivered and not yet acknowledged at most", "PAYENGINE_AMQP_PREFETCH");
  s.add(&engine_config::amqp_requeue_delay_ms, "amqp_requeue_delay_ms", "an update that failed for a passing reason is held this long, then requeued");
}

std::string validate_amqp(const engine_config& c) {
  if (!c.amqp_url.empty())
    if (auto parsed = broker::parse_amqp_url(c.amqp_url); auto* err = std::get_if<std::string>(&parsed))
      return "PAYENGINE_AMQP_URL (amqp_url): " + *err;
  if (c.amqp_in_flight_max < 1 || c.amqp_in_flight_max > 65'535 || c.amqp_prefetch < 1
      || c.amqp_prefetch > 65'535)
    return "amqp_in_flight_max and amqp_prefetch must be 1..65535";
  if (c.amqp_poll_ms < 1 || c.amqp_poll_ms > 10'000 || c.amqp_connect_timeout_ms < 10
      || c.amqp_rpc_timeout_ms < 10 || c.amqp_confirm_timeout_ms < 100
      || c.amqp_reconnect_max_ms < 100 || c.amqp_requeue_delay_ms < 1 || c.amqp_heartbeat_s > 3'600)
    return "amqp_poll_ms must be 1..10000, amqp_connect_timeout_ms and amqp_rpc_timeout_ms at least 10, "
           "amqp_confirm_timeout_ms and amqp_reconnect_max_ms at least 100, amqp_requeue_delay_ms at least 1, "
           "amqp_heartbeat_s at most 3600";
  return {};
}

bool valid_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
    return false;
  auto port = s.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit))
    return false;
  // Not 0 (any free port): the node's id and its URLs are made of the
  // port, and peers and the channels' callbacks must know where it is.
  auto n = std::stoi(port);
  return n >= 1 && n <= 65535;
}

/// The gateway's ranges, then its rule: one call's worst case fits within
/// the order actor's deadline for it (else the order gives up on a call
/// the gateway still makes, and the outcome becomes unknown).
std::string validate_gateway(const engine_config& c) {
  if (c.gateway_workers < 1 || c.gateway_workers > 256 || c.gateway_in_flight_max < 1)
    return "gateway_workers must be 1..256 and gateway_in_flight_max at least 1";
  if (c.gateway_connect_timeout_ms < 1 || c.gateway_write_timeout_ms < 1
      || c.gateway_read_timeout_ms < 1)
    return "gateway_connect_timeout_ms, gateway_write_timeout_ms and gateway_read_timeout_ms must be at least 1";
  if (c.gateway_attempts_max < 1 || c.gateway_attempts_max > 10 || c.gateway_breaker_failures_max < 1)
    return "gateway_attempts_max must be 1..10 and gateway_breaker_failures_max at least 1";
  if (!std::isfinite(c.gateway_rate_per_s) || c.gateway_rate_per_s <= 0 || c.gateway_burst < 1)
    return "gateway_rate_per_s must be positive and gateway_burst at least 1";
  if (c.gateway_call_worst_ms() > c.channel_timeout_ms) {
    std::ostringstream out;
    out << "gateway timeouts do not add up: " << c.gateway_attempts_max << " tries x ("
        << c.channel_call_deadline_ms << " ms channel_call_deadline_ms + " << gateway_attempt_slack_ms
        << " ms slack) + back-off " << c.gateway_call_worst_ms()
             - c.gateway_attempts_max * c.gateway_attempt_timeout_ms()
        << " ms = " << c.gateway_call_worst_ms() << " ms exceed channel_timeout_ms "
        << c.channel_timeout_ms << " (shorten the timeouts, or fewer tries, or a longer deadline)";
    return out.str();
  }
  return {};
}

/// The storage limits: a stuck statement becomes an error (503, nothing
/// applied) before the asking actor's deadline (an unknown outcome).
std::string validate_storage_limits(const engine_config& c) {
  if (c.storage_queue_max < 1 || c.storage_queue_max > 1'000'000)
    return "storage_queue_max must be 1..1000000";
  if (c.db_connect_timeout_ms < 1 || c.db_statement_timeout_ms < 1)
    return "db_connect_timeout_ms and db_statement_timeout_ms must be at least 1";
  if (c.storage_worst_ms() > c.storage_timeout_ms) {
    std::ostringstream out;
    out << "storage timeouts do not add up: connect " << c.db_connect_timeout_s()
        << " s + 2 x db_statement_timeout_ms " << c.db_statement_timeout_ms << " = "
        << c.storage_worst_ms() << " ms exceed storage_timeout_ms " << c.storage_timeout_ms
        << " (a stuck statement would end as an unknown outcome, not as nothing changed)";
    return out.str();
  }
  return {};
}

/// Every setting, in the order of --help (and of the environment's
/// arguments). Built once.
const std::vector<setting>& settings() {
  static const std::vector<setting> all = [] {
    setting_list s;
    run_settings(s);
    limit_settings(s);
    gateway_settings(s);
    outbound_settings(s);
    amqp_settings(s);
    return s.list();
  }();
  return all;
}

// The names CLI11 itself owns on the command line (set_config,
// set_version_flag and its default help flag), which a file may not set.
const char* const config_flag = "--config";
const char* const version_flag = "--version";
const char* const reserved_long_names[] = {"config", "version", "help"};
const char reserved_short_name = 'h'; // -h, the help flag

/// What a file's key names, found as CLI11 2.1 finds a config item's
/// option (App::_parse_single_config): the option whose long name is the
/// key, then (a one-letter key) the short name, then the key as written
/// with its leading dashes ("--listen", "-h").
struct key_match {
  const setting* found = nullptr;
  bool reserved = false; // a name of CLI11's own: refused in a file
};

key_match match_key(const std::string& key) {
  static const auto by_long_name = [] {
    std::unordered_map<std::string_view, const setting*> m;
    for (const auto& s : settings()) {
      m.emplace(s.key, &s);
      m.emplace(s.dashed, &s);
    }
    return m;
  }();
  auto long_name = [&](std::string_view name) {
    key_match r;
    if (auto it = by_long_name.find(name); it != by_long_name.end())
      r.found = it->second;
    else
      r.reserved = std::find(std::begin(reserved_long_names), std::end(reserved_long_names), name)
                   != std::end(reserved_long_names);
    return r;
  };
  auto short_name = [](std::string_view name) {
    return key_match{nullptr, name.size() == 1 && name[0] == reserved_short_name};
  };
  if (auto r = long_name(key); r.found || r.reserved)
    return r;
  if (key.size() == 1)
    return short_name(key);
  if (key.size() > 2 && key.compare(0, 2, "--") == 0)
    return long_name(std::string_view(key).substr(2));
  if (key.size() > 1 && key[0] == '-')
    return short_name(std::string_view(key).substr(1));
  return {};
}

/// Sets one field from a file's values with CLI11's own conversion, as its
/// option would (MultiOptionPolicy::TakeLast: `key = [1, 2]` is 2); an
/// error text when the values do not convert.
std::string assign(const setting& s, const std::vector<std::string>& values, engine_config& cfg) {
  // `key = []` has no value at all: CLI11 would read the first of none.
  if (values.empty())
    return "--" + s.dashed + ": an empty array is not a value";
  const std::vector<std::string> last{values.back()};
  bool ok = std::visit(
    [&](auto member) {
      using T = std::remove_reference_t<decltype(cfg.*member)>;
      return CLI::detail::lexical_conversion<T, T>(last, cfg.*member);
    },
    s.field);
  if (!ok)
    return "Could not convert: --" + s.dashed + " = " + CLI::detail::join(values);
  return {};
}

/// The file's step of the configuration: CLI11's TOML reader turns the
/// text into key/value items, which set their fields over `cfg`. Like
/// CLI11's own reading: keys under a [section] or dotted are not ours
/// (ignored), unknown keys are ignored, a key's first occurrence wins, and
/// a key given on the command line or in the environment (`given`) keeps
/// that value. Returns an error text, empty when the file was read.
template <class Given>
std::string read_config_file(std::istream& text, engine_config& cfg, const Given& given) {
  std::vector<const setting*> done;
  for (const auto& item : CLI::ConfigTOML{}.from_config(text)) {
    if (!item.parents.empty() || item.name == "++" || item.name == "--")
      continue; // a section's items and its open/close marks: no subcommand takes them
    auto match = match_key(item.name);
    if (match.reserved)
      return item.fullname() + ": This option is not allowed in a configuration file";
    if (!match.found || given(*match.found)
        || std::find(done.begin(), done.end(), match.found) != done.end())
      continue;
    done.push_back(match.found);
    if (auto err = assign(*match.found, item.inputs, cfg); !err.empty())
      return err.substr(0, err.find('\0')); // the command line's: an exception's what(), a C string
  }
  return {};
}

/// CLI11 opens the file named by --config at its point of the parse (after
/// the arguments, before their conversion and --help) and hands the stream
/// to its config formatter. This one reads it with read_config_file, so
/// that `payengine --config FILE` and config_from_file_text share one path,
/// and leaves CLI11 no items of its own.
class file_step final : public CLI::ConfigTOML {
public:
  file_step(const CLI::App& app, engine_config& cfg) : app_(app), cfg_(cfg) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& text) const override {
    auto given = [this](const setting& s) { return app_.get_option_no_throw("--" + s.key)->count() > 0; };
    if (auto err = read_config_file(text, cfg_, given); !err.empty())
      throw CLI::ConfigError(err);
    return {};
  }

private:
  const CLI::App& app_;
  engine_config& cfg_;
};

/// One option per setting, bound to its field of `cfg`.
void add_options(CLI::App& app, engine_config& cfg) {
  for (const auto& s : settings()) {
    auto names = s.dashed == s.key ? "--" + s.key : "--" + s.dashed + ",--" + s.key;
    auto help = s.env.empty() ? s.help : s.help + " [env " + s.env + "]";
    std::visit([&](auto member) { app.add_option(names, cfg.*member, help)->capture_default_str(); },
               s.field);
  }
}

/// argv with every set PAYENGINE_* variable in front as `--key=value`, so
/// that the precedence is file < environment < flags (the last one wins).
/// CLI11's own envname() would not do: it reads the file first.
std::vector<std::string> arguments_with_environment(int argc, char** argv) {
  std::vector<std::string> out{argc > 0 ? argv[0] : "payengine"};
  for (const auto& s : settings())
    if (const char* value = s.env.empty() ? nullptr : std::getenv(s.env.c_str())) {
      if (*value) {
        out.push_back("--" + s.key + "=" + value);
      } else { // CLI11 drops the empty value of "--key=" and takes the next argument
        out.push_back("--" + s.key);
        out.emplace_back();
      }
    }
  for (int i = 1; i < argc; ++i)
    out.emplace_back(argv[i]);
  return out;
}

/// Validated, then the derived defaults filled in.
std::variant<engine_config, config_error> completed(engine_config cfg) {
  if (auto err = validate(cfg); !err.empty())
    return config_error{"configuration: " + err, 2};
  if (cfg.public_url.empty())
    cfg.public_url = "http://" + cfg.listen;
  if (cfg.internal_url.empty())
    cfg.internal_url = "http://" + cfg.listen;
  if (cfg.node_id.empty())
    cfg.node_id = default_node_id(cfg);
  return cfg;
}

} // namespace

std::string engine_config::listen_host() const {
  return listen.substr(0, listen.rfind(':'));
}

uint16_t engine_config::listen_port() const {
  return static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
}

uint32_t engine_config::writers() const {
  if (storage_writers > 0)
    return storage_writers;
  return std::max(1u, std::thread::hardware_concurrency() / 2);
}

uint32_t engine_config::scaled_ms(uint64_t nominal_ms) const {
  auto scaled = static_cast<double>(nominal_ms) / time_scale;
  return static_cast<uint32_t>(std::clamp(scaled, 1.0, 4.0e9));
}

uint64_t engine_config::gateway_attempt_timeout_ms() const {
  // A worker cuts every attempt at its total deadline (a drip-feeding
  // channel resets the per-operation timeouts, never that one).
  return uint64_t{channel_call_deadline_ms} + gateway_attempt_slack_ms;
}

uint64_t engine_config::gateway_call_worst_ms() const {
  const uint64_t tries = gateway_attempts_max;
  const uint64_t back_off_steps = tries * (tries - std::min<uint64_t>(tries, 1)) / 2;
  return tries * gateway_attempt_timeout_ms() + back_off_steps * gateway_retry_step_ms;
}

uint32_t engine_config::db_connect_timeout_s() const {
  return std::max(2u, (db_connect_timeout_ms + 999) / 1000);
}

uint64_t engine_config::storage_worst_ms() const {
  return uint64_t{db_connect_timeout_s()} * 1000 + 2 * uint64_t{db_statement_timeout_ms};
}

const engine_config& config_defaults() {
  static const engine_config defaults;
  return defaults;
}

std::string validate(const engine_config& c) {
  if (c.database_url.empty())
    return "PAYENGINE_DATABASE_URL (database_url) is required";
  if (c.admin_token.size() < 16)
    return "PAYENGINE_ADMIN_TOKEN (admin_token) is required, at least 16 characters";
  if (!valid_host_port(c.listen))
    return "PAYENGINE_LISTEN must be host:port (port 1-65535), got '" + c.listen + "'";
  if (!std::isfinite(c.time_scale) || c.time_scale < 1.0 || c.time_scale > 1e6)
    return "PAYENGINE_TIME_SCALE must be a number from 1 to 1000000";
  if (c.http_threads < 4 || c.http_threads > 4096)
    return "http_threads must be 4..4096";
  if (c.request_body_max_bytes < 1024 || c.request_body_max_bytes > (1u << 24))
    return "request_body_max_bytes must be 1024..16777216";
  if (c.request_timeout_ms < 100 || c.storage_timeout_ms < 100)
    return "request_timeout_ms and storage_timeout_ms must be at least 100";
  if (c.long_poll_max_s < 1 || c.long_poll_max_s > 300 || c.long_polls_max < 1)
    return "long_poll_max_s must be 1..300 and long_polls_max at least 1";
  if (c.long_polls_max >= c.http_threads)
    return "long_polls_max must be below http_threads";
  if (c.http_io_threads < 1 || c.http_io_threads > 64 || c.http_connections_max < 16
      || c.http_connections_max > 1'000'000 || c.request_read_timeout_ms < 100)
    return "http_io_threads must be 1..64, http_connections_max 16..1000000, request_read_timeout_ms at least 100";
  if (c.http_inflight_min < 1 || c.http_inflight_min > c.http_inflight_max
      || c.http_inflight_max + c.long_polls_max >= c.http_threads)
    return "http_inflight_min must be 1..http_inflight_max, and http_inflight_max + long_polls_max below http_threads";
  if (c.registry_shards < 1 || c.registry_shards > 256)
    return "registry_shards must be 1..256";
  if (c.live_orders_max < c.registry_shards)
    return "live_orders_max must be at least registry_shards";
  if (c.idle_sweep_batch_max < 1)
    return "idle_sweep_batch_max must be at least 1";
  if (c.order_idle_ms < 10 || c.expiry_sweep_interval_ms < 10)
    return "order_idle_ms and expiry_sweep_interval_ms must be at least 10";
  if (c.storage_writers > 64)
    return "storage_writers must be 0 (automatic) to 64";
  if (c.storage_batch_max < 1 || c.storage_batch_max > 10'000)
    return "storage_batch_max must be 1..10000";
  if (c.expiry_sweep_batch_max < 1 || c.reconcile_batch_max < 1)
    return "expiry_sweep_batch_max and reconcile_batch_max must be at least 1";
  if (c.channel_timeout_ms < 100 || c.channel_retry_ms < 1 || c.reconcile_interval_ms < 10)
    return "channel_timeout_ms must be at least 100, channel_retry_ms 1, reconcile_interval_ms 10";
  if (c.wallet_reservation_timeout_ms < 1'000)
    return "wallet_reservation_timeout_ms must be at least 1000";
  if (c.notifier_workers < 1 || c.notifier_per_merchant_max < 1 || c.notifier_batch_max < 1
      || c.notifier_poll_ms < 10 || c.webhook_timeout_ms < 100)
    return "notifier_* must be at least 1 (poll 10 ms, webhook_timeout_ms 100)";
  if (c.stream_clients_max < 1 || c.stream_clients_max > 256 || c.stream_buffer_max < 16
      || c.stream_buffer_max > 1'000'000)
    return "stream_clients_max must be 1..256 and stream_buffer_max 16..1000000";
  if (c.stream_clients_max >= c.http_threads / 2)
    return "stream_clients_max must be under half of http_threads (each stream holds a thread)";
  if (c.notify_schedule_s.empty() || c.notify_schedule_s.find_first_not_of("0123456789,") != std::string::npos)
    return "notify_schedule_s must be comma-separated whole seconds";
  if (c.merchant_rate_per_s > 1'000'000 || c.merchant_burst > 1'000'000)
    return "merchant_rate_per_s and merchant_burst must be 0..1000000";
  if (c.merchant_cache_ttl_ms < 10 || c.merchant_cache_ttl_ms > 3'600'000)
    return "merchant_cache_ttl_ms must be 10..3600000";
  if (auto err = validate_gateway(c); !err.empty())
    return err;
  if (auto err = validate_storage_limits(c); !err.empty())
    return err;
  if (auto err = validate_outbound(c); !err.empty())
    return err;
  if (auto err = validate_amqp(c); !err.empty())
    return err;
  if (c.lease_ttl_ms < 300 || c.lease_ttl_ms > 600'000)
    return "lease_ttl_ms must be 300..600000";
  if (c.cluster_shards < 1 || c.cluster_shards > 4'096)
    return "cluster_shards must be 1..4096";
  if (c.node_id.size() > 64 || c.node_id.find_first_not_of(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != std::string::npos)
    return "node_id must be at most 64 of [A-Za-z0-9._-]";
  static const char* levels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::none_of(std::begin(levels), std::end(levels),
                   [&](const char* l) { return c.log_level == l; }))
    return "log_level must be one of trace, debug, info, warn, error";
  return {};
}

/// The host name and the listen port: stable across restarts in place.
std::string default_node_id(const engine_config& cfg) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0)
    std::snprintf(host, sizeof host, "node");
  std::string id;
  for (const char* p = host; *p && id.size() < 40; ++p)
    id += std::isalnum(static_cast<unsigned char>(*p)) || *p == '-' ? *p : '-';
  return id + "-" + std::to_string(cfg.listen_port());
}

std::variant<engine_config, config_error> load_config(int argc, char** argv) {
  engine_config cfg;
  CLI::App app{"payengine: a payment engine where every order is an actor"};
  app.set_config(config_flag, "", "TOML configuration file (see config/payengine.example.toml)");
  app.config_formatter(std::make_shared<file_step>(app, cfg));
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag(version_flag, "payengine 0.1.0");
  add_options(app, cfg);
  auto args = arguments_with_environment(argc, argv);
  std::vector<char*> raw;
  for (auto& a : args)
    raw.push_back(a.data());
  try {
    app.parse(static_cast<int>(raw.size()), raw.data());
  } catch (const CLI::Success& e) {
    std::ostringstream out;
    app.exit(e, out, out);
    return config_error{out.str(), 0};
  } catch (const CLI::ParseError& e) {
    return config_error{std::string{"configuration: "} + e.what(), 2};
  }
  return completed(std::move(cfg));
}

std::variant<engine_config, config_error> config_from_file_text(std::string_view text) {
  engine_config cfg;
  std::istringstream in{std::string(text)};
  if (auto err = read_config_file(in, cfg, [](const setting&) { return false; }); !err.empty())
    return config_error{"configuration: " + err, 2};
  return completed(std::move(cfg));
}

std::string describe(const engine_config& cfg) {
  std::ostringstream out;
  out.precision(17);
  for (const auto& s : settings())
    std::visit([&](auto member) { out << s.key << " = " << cfg.*member << '\n'; }, s.field);
  return out.str();
}

} // namespace payengine
