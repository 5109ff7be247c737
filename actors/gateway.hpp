#pragma once
// The gateway of one payment channel (Alipay today): an event-based actor
// that owns the call state machine, in front of a pool of detached HTTP
// workers (actors/gateway_worker.hpp) that do the blocking I/O.
//
// For every request (open / query / close / refund a trade) it
//   1. checks the request and converts it to the channel's protocol,
//   2. admits it: circuit breaker (fail fast while the channel is down),
//      bounded in-flight count, token bucket (rate limit),
//   3. signs it once and sends it to the least busy worker,
//   4. verifies and reads the signed answer, and answers a channel_reply,
//      or retries transport errors and "try again" answers after 1, 2, 3,
//      4 steps of back-off (at most `attempts_max` tries, the same signed
//      body each time: the out_trade_no / out_request_no keeps it
//      idempotent at the channel).
// Failures are outcomes (channel_outcome), never errors.

#include "actors/gateway_worker.hpp"
#include "channels/rsa_key.hpp"
#include "config/config.hpp"
#include "messages/interfaces.hpp"

#include <caf/atom.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace payengine {

/// Every knob of a gateway, with its default. Durations are nominal: the
/// back-off and the breaker's open interval are divided by `time_scale`;
/// HTTP timeouts and the call deadline are real network time and are not.
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

  // --- HTTP workers ------------------------------------------------------
  uint32_t workers = 8;
  uint32_t in_flight_max = 512; // calls in progress, retries included
  uint32_t connect_timeout_ms = 2'000;
  uint32_t read_timeout_ms = 5'000;
  uint32_t write_timeout_ms = 5'000;
  // API.md "Outbound calls": where workers may connect (default: global
  // addresses only), one attempt's total deadline, the answer's size cap.
  net::address_policy outbound_policy;
  uint32_t call_deadline_ms = 10'000;
  uint32_t response_max_bytes = 1024 * 1024;

  // --- retries: the n-th retry waits n * retry_step_ms -------------------
  uint32_t attempts_max = 5;
  uint32_t retry_step_ms = 1'000;

  // --- circuit breaker -----------------------------------------------------
  uint32_t breaker_failures_max = 5; // consecutive failed attempts
  uint32_t breaker_open_ms = 10'000;

  // --- token bucket --------------------------------------------------------
  double rate_per_s = 500;
  uint32_t burst = 1'000;

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

// --- the gateway's pure parts (no CAF, no I/O; tested on their own) -----

/// Opens after `failures_max` consecutive failed attempts; while open it
/// refuses everything; after `open_for` it lets exactly one probe through
/// (half-open): the probe's success closes it, its failure re-opens it.
class circuit_breaker {
public:
  using clock = std::chrono::steady_clock;
  enum class state : uint8_t { closed, open, half_open };
  enum class decision : uint8_t { pass, probe, refuse };

  circuit_breaker(uint32_t failures_max, std::chrono::milliseconds open_for);

  /// May move open -> half_open; call before deciding.
  state refresh(clock::time_point now);
  /// What to do with a new request; no side effects (see start_probe).
  decision admit() const;
  /// The admitted request is the half-open probe.
  void start_probe();
  /// The probe was admitted but never sent: let another one through.
  void abandon_probe();
  /// The outcome of an attempt; `probe`: it was the probe's.
  void record(bool healthy, bool probe, clock::time_point now);
  /// When a refused caller should come back.
  std::chrono::milliseconds retry_after(clock::time_point now) const;

  state current() const { return state_; }
  uint32_t consecutive_failures() const { return failures_; }

private:
  void open(clock::time_point now);

  uint32_t failures_max_;
  std::chrono::milliseconds open_for_;
  state state_ = state::closed;
  uint32_t failures_ = 0;
  bool probing_ = false;
  clock::time_point open_until_{};
};

std::string_view to_string(circuit_breaker::state x);

/// `rate_per_s` tokens a second, at most `burst` saved up; one per call.
class token_bucket {
public:
  using clock = std::chrono::steady_clock;

  token_bucket(double rate_per_s, double burst, clock::time_point now);

  bool take(clock::time_point now);
  double tokens(clock::time_point now);
  /// Until one token is there (at least 1 ms).
  std::chrono::milliseconds wait_for_one(clock::time_point now);

private:
  void refill(clock::time_point now);

  double rate_per_s_;
  double burst_;
  double tokens_;
  clock::time_point refilled_at_;
};

/// The last `capacity` latencies, for p50 / p99.
class latency_window {
public:
  explicit latency_window(uint32_t capacity);
  void add(uint32_t ms);
  uint32_t last() const { return last_; }
  /// q in [0, 1]; 0 when empty.
  uint32_t percentile(double q) const;

private:
  std::vector<uint32_t> samples_;
  size_t capacity_;
  size_t next_ = 0;
  uint32_t last_ = 0;
};

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

  enum class call_kind : uint8_t { open, query, close, refund };

  /// One request from admission to its answer.
  struct call {
    call_kind kind = call_kind::open;
    std::string out_trade_no; // for logs
    std::string body;         // signed once, resent unchanged
    int exponent = 2;         // of the request's currency
    caf::typed_response_promise<channel_reply> promise;
    uint32_t attempts = 0;
    bool probe = false;       // holds the breaker's half-open probe
    std::string last_error;
  };

  gateway_state();

  gateway_settings settings;
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
