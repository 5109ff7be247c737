#pragma once
// The gateway of one payment channel (Alipay today): an event-based actor
// that owns the call state machine, in front of a pool of detached HTTP
// workers (actors/gateway_worker.hpp) that do the blocking I/O.
//
// For every request (open / query / close / refund a trade) it
//   1. has the channel's protocol (channels/channel_protocol.hpp, picked by
//      the channel's name) check it and convert it,
//   2. admits it: circuit breaker (fail fast while the channel is down),
//      bounded in-flight count, token bucket (rate limit); those and the
//      latency window are plain code in actors/gateway_limits.hpp,
//   3. signs it once and sends it to the least busy worker,
//   4. verifies and reads the signed answer, and answers a channel_reply,
//      or retries transport errors and "try again" answers after 1, 2, 3,
//      4 steps of back-off (at most `attempts_max` tries, the same signed
//      body each time: the out_trade_no / out_request_no keeps it
//      idempotent at the channel).
// Failures are outcomes (channel_outcome), never errors.

#include "actors/channel_set.hpp"
#include "actors/gateway_limits.hpp"
#include "actors/gateway_worker.hpp"
#include "channels/channel_protocol.hpp"
#include "channels/rsa_key.hpp"
#include "config/config.hpp"
#include "messages/interfaces.hpp"

#include <caf/atom.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace payengine {

class request_timer;

/// Every knob of a gateway. Durations are nominal: the
/// back-off and the breaker's open interval are divided by `time_scale`;
/// HTTP timeouts are real network timeouts and are not.
struct gateway_settings {
  std::string channel = "alipay";
  std::string gateway_url; // e.g. "https://openapi.alipay.com/gateway.do"
  std::string app_id;
  /// Where the channel posts notifications when a request names none.
  std::string notify_url;
  std::optional<channels::private_key> app_key;    // signs our requests
  std::optional<channels::public_key> channel_key; // verifies the answers
  /// Currencies the channel settles in; anything else is refused up front.
  std::vector<std::string> currencies = {"CNY"};
  /// The channel's protocol when it is not built from the keys above
  /// (WeChat Pay: wechat_gateway_settings_from builds it).
  std::shared_ptr<const channels::channel_protocol> protocol;
  /// Where the gateway publishes its breaker state and recent answers for
  /// the order actors (actors/channel_set.hpp); may be null.
  std::shared_ptr<channel_health> health;
  /// Keeps the deadlines of calls to the workers (null: CAF's own timeouts).
  std::shared_ptr<request_timer> timer;

  // --- the knobs of config/config.hpp (gateway_*), with its defaults --------
  // HTTP workers
  uint32_t workers = config_defaults().gateway_workers;
  uint32_t in_flight_max = config_defaults().gateway_in_flight_max; // retries included
  uint32_t connect_timeout_ms = config_defaults().gateway_connect_timeout_ms;
  uint32_t read_timeout_ms = config_defaults().gateway_read_timeout_ms;
  uint32_t write_timeout_ms = config_defaults().gateway_write_timeout_ms;
  // retries: the n-th retry waits n * retry_step_ms
  uint32_t attempts_max = config_defaults().gateway_attempts_max;
  uint32_t retry_step_ms = config_defaults().gateway_retry_step_ms;
  // circuit breaker: opens after breaker_failures_max consecutive failed attempts
  uint32_t breaker_failures_max = config_defaults().gateway_breaker_failures_max;
  uint32_t breaker_open_ms = config_defaults().gateway_breaker_open_ms;
  // token bucket
  double rate_per_s = config_defaults().gateway_rate_per_s;
  uint32_t burst = config_defaults().gateway_burst;
  // API.md "Outbound calls": where workers may connect (default: global
  // addresses only), one attempt's total deadline, the answer's size cap.
  net::address_policy outbound_policy;
  uint32_t call_deadline_ms = config_defaults().channel_call_deadline_ms;
  uint32_t response_max_bytes = config_defaults().channel_response_max_bytes;

  uint32_t latency_window = 256; // recent attempts behind p50 / p99
  double time_scale = 1.0;

  /// A nominal duration under time_scale (never below 1 ms).
  uint32_t scaled_ms(uint64_t nominal_ms) const;
  /// How long the gateway waits for a worker's answer to one attempt.
  uint32_t attempt_timeout_ms() const;
};

/// Empty when usable, else what is wrong (one line).
std::string validate(const gateway_settings& s);

/// The Alipay gateway's settings from the engine's configuration: loads
/// both keys. Either settings that pass validate(), or one line saying
/// what is wrong (for the start-up error).
std::variant<gateway_settings, std::string>
gateway_settings_from(const engine_config& cfg);

/// The WeChat Pay v3 gateway's settings (PAYENGINE_WECHAT_*): loads the
/// merchant's key and the platform's public key and builds the protocol.
/// Settings that pass validate(), or one line saying what is wrong.
std::variant<gateway_settings, std::string>
wechat_gateway_settings_from(const engine_config& cfg);

/// The APIv3 key in `path`: exactly 32 bytes (one trailing newline is
/// dropped), or what is wrong.
std::variant<std::string, std::string> read_apiv3_key(const std::string& path);

// --- the actor ---------------------------------------------------------------

/// The gateway's retry timer, sent to itself with delayed_send.
using gateway_retry_atom = caf::atom_constant<caf::atom("gw_retry")>;
constexpr gateway_retry_atom gateway_retry_atom_v = gateway_retry_atom{};

/// The gateway as it sees itself: its public interface plus its own timer.
/// Everyone else holds it as a plain gateway_actor (it converts).
using gateway_self_actor =
  gateway_actor::extend<caf::reacts_to<gateway_retry_atom, uint64_t>>;

struct gateway_state {
  static inline const char* name = "gateway";

  using call_kind = channels::call_kind;

  /// One request from admission to its answer.
  struct call {
    call_kind kind = call_kind::open;
    std::string out_trade_no; // for logs
    channels::signed_request request; // signed once, resent unchanged
    int exponent = 2;         // of the request's currency
    caf::typed_response_promise<channel_reply> promise;
    uint32_t attempts = 0;
    bool probe = false;       // holds the breaker's half-open probe
    std::string last_error;
  };

  gateway_state();

  gateway_settings settings;
  /// The channel's protocol (immutable; this gateway's own).
  std::shared_ptr<const channels::channel_protocol> protocol;
  std::vector<gateway_worker_actor> workers;
  std::vector<uint32_t> worker_load; // attempts outstanding per worker
  std::unordered_map<uint64_t, call> calls;
  uint64_t next_call_id = 1;
  circuit_breaker breaker;
  token_bucket bucket;
  latency_window latencies;
  // What info_atom reports besides the breaker and the bucket: `in_flight`
  // is calls.size() (waiting retries included); latencies are per attempt,
  // from dispatch to the worker's answer.
  uint64_t calls_total = 0;    // admitted calls (one per request, retries included)
  uint64_t failures = 0;       // calls that ended unavailable
  uint64_t rejected_fast = 0;  // circuit open or rate limited
};

using gateway_self = gateway_self_actor::stateful_pointer<gateway_state>;

/// Spawn as a regular (not detached) actor: it never blocks. It spawns and
/// links its detached workers. `sys.spawn(gateway_impl, settings)` yields a
/// handle that converts to gateway_actor.
gateway_self_actor::behavior_type gateway_impl(gateway_self self,
                                               gateway_settings settings);

} // namespace payengine
