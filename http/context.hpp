#pragma once
// What every route handler needs: the actor system, the engine's handles,
// the configuration and the merchant directory.

#include "channels/rsa_key.hpp"
#include "config/config.hpp"
#include "http/metrics.hpp"
#include "http/api_error.hpp"
#include "http/bridge.hpp"
#include "http/message.hpp"
#include "http/rate_limits.hpp"
#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"
#include "net/address_policy.hpp"

#include <caf/actor_system.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <variant>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <variant>

namespace payengine::http {

/// Merchants by the hash of their API key, cached after a lookup for `ttl`:
/// a change made on another node (PATCH /admin/merchants/{id}) shows here
/// after at most that long; the node making it updates its entry at once.
class merchant_directory {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit merchant_directory(std::chrono::milliseconds ttl = std::chrono::seconds{5}) : ttl_(ttl) {}

  void remember(const std::string& key_hash, const merchant_record& m,
                time_point now = std::chrono::steady_clock::now());
  /// Nothing when unknown or older than the TTL (then read it again).
  std::optional<merchant_record> cached(const std::string& key_hash,
                                       time_point now = std::chrono::steady_clock::now()) const;
  /// Replaces the cached record of merchant `m.id`, if any.
  void update(const merchant_record& m, time_point now = std::chrono::steady_clock::now());
  size_t size() const;

private:
  struct entry {
    merchant_record merchant;
    time_point at;
  };
  void drop_expired(time_point now);

  const std::chrono::milliseconds ttl_;
  mutable std::shared_mutex mtx_;
  std::unordered_map<std::string, entry> by_hash_;
  std::unordered_map<std::string, std::string> hash_by_id_;
  size_t next_sweep_ = 1'024; // expired entries go when the map reaches this
};

/// What the WeChat Pay callback route needs (API.md v1.1): the platform's
/// key and serial (the signature), the APIv3 key (the resource), our mchid.
struct wechat_callback_keys {
  channels::public_key platform_key;
  std::string platform_serial;
  std::string apiv3_key;
  std::string mch_id;
};

/// The channels' keys for their notifications (none: that channel's
/// callbacks answer 503).
struct callback_keys {
  std::optional<channels::public_key> alipay;
  std::optional<wechat_callback_keys> wechat;
};

struct server_context {
  server_context(caf::actor_system& system, std::shared_ptr<engine_directory> d, engine_config c)
    : sys(system), directory(std::move(d)), cfg(std::move(c)),
      merchants(std::chrono::milliseconds{cfg.merchant_cache_ttl_ms}),
      askers(asker_pool::make(system, std::max<size_t>(cfg.http_io_threads, system.scheduler().num_workers()))) {
    // Validated with the configuration: a bad allow list never starts.
    auto parsed = net::address_policy::parse(cfg.outbound_allow);
    if (auto* p = std::get_if<net::address_policy>(&parsed))
      outbound_policy = std::move(*p);
  }

  caf::actor_system& sys;
  /// This node's shards and the cluster's owners (null: one node, no leases).
  std::shared_ptr<shard_map> cluster;
  /// The engine's actors: the top supervisor may replace them all.
  std::shared_ptr<engine_directory> directory;
  engine_config cfg;
  std::set<std::string> channels;
  /// What a notify_url may point at (a forbidden literal address is a 400).
  net::address_policy outbound_policy;
  merchant_directory merchants;
  /// wait_for_change requests in progress. Shared: an asynchronous long
  /// poll's reply may come after the server is gone.
  std::shared_ptr<std::atomic<uint32_t>> long_polls = std::make_shared<std::atomic<uint32_t>>(0);
  /// The actors that make the event loop's requests (ask_async): as many
  /// as event-loop threads or CAF's threads, whichever is more. Shared for
  /// the same reason.
  std::shared_ptr<asker_pool> askers;
  /// The merchants' request rate limits on this node (API.md v1.1 "Overload").
  merchant_rate_limits rate_limits;
  std::optional<channels::public_key> alipay_key; // verifies Alipay's notifications
  std::optional<wechat_callback_keys> wechat;     // verifies and opens WeChat's
  http_metrics metrics;
  /// The front door (http/server.cpp): connections and what it refused.
  struct {
    std::atomic<int64_t> connections{0};
    std::atomic<uint64_t> connections_refused{0}; // over http_connections_max
    std::atomic<uint64_t> read_timeouts{0};       // idle or slow senders cut
    std::atomic<uint64_t> malformed{0};           // 400/413/431 before any route
    std::atomic<uint64_t> shed_overload{0};       // the admission limit said no
    std::atomic<int64_t> inflight{0};             // API requests admitted, not answered
    std::atomic<int64_t> limit{0};                // the admission limit in force
    std::atomic<int64_t> room_new_work{0};        // of which creates may take
    std::atomic<int64_t> room_normal{0};          // work on existing orders (limit + reserve)
    std::atomic<int64_t> queued{0};               // handlers waiting for a thread
    std::atomic<int64_t> loop_lag_us{0};          // how late the event loop runs a timer
  } front;
  /// The actor tree of the stream's stats frames: asked once a second
  /// whatever the number of stream clients (http/stream_route.cpp).
  struct {
    std::mutex mtx;
    std::chrono::steady_clock::time_point at;
    nlohmann::json tree;
  } stream_tree;

  /// Idempotency-Keys this node claimed for requests that changed nothing
  /// but could not be released then (the database was down). The next
  /// request with the key releases it first, while the claim is surely
  /// still ours (before its lock could be taken over). Bounded.
  struct {
    std::mutex mtx;
    std::map<std::pair<std::string, std::string>, std::chrono::steady_clock::time_point> keys;
  } unreleased_keys;

  /// The engine's actors as of now (take it once per request).
  std::shared_ptr<const engine_handles> handles() const { return directory->current(); }
  /// The engine's deadlines for requests (ask_async's too).
  std::shared_ptr<request_timer> timer() const { return handles()->timer; }

  std::chrono::milliseconds request_timeout() const {
    return std::chrono::milliseconds{cfg.request_timeout_ms};
  }
};

/// The merchant behind `Authorization: Bearer sk_...`; else 401, or 503
/// when the key could not be checked (the database is unavailable).
std::variant<merchant_record, api_error> authenticate(server_context& ctx,
                                                     const request& req);

/// authenticate() without waiting: nothing when the key is not cached (the
/// database must be asked: run the blocking handler).
std::optional<std::variant<merchant_record, api_error>> authenticate_cached(server_context& ctx,
                                                                          const request& req);

/// True if the request carries the admin token.
bool is_admin(const server_context& ctx, const request& req);

/// The request id: the client's X-Request-Id if sane, else a new one.
std::string request_id_of(const request& req);

/// Maps an engine or CAF error to the API's error object.
api_error from_engine_error(const caf::error& err);

} // namespace payengine::http
