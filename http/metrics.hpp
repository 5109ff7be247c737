#pragma once
// Prometheus text format (version 0.0.4) for GET /metrics: HTTP requests and
// latency per route, measured here; actor, storage and gateway figures,
// asked of the actors at scrape time.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace payengine::http {

/// Counts and times HTTP requests by route pattern, method and status.
class http_metrics {
public:
  /// Upper bounds of the latency histogram, in seconds.
  static constexpr std::array<double, 12> buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

  void observe(const std::string& route, const std::string& method, int status,
               std::chrono::nanoseconds took);

  /// Every route's requests added up (for the console's charts).
  struct totals {
    uint64_t requests = 0;
    uint64_t server_errors = 0; // 5xx
    std::array<uint64_t, buckets.size()> at_most{}; // cumulative, like the histogram
  };
  /// All routes but those starting with `except` (long-lived streams).
  totals sum(std::string_view except) const;

  /// The q-quantile (0..1) in seconds of the requests between two sums,
  /// interpolated within its bucket; 0 without requests.
  static double quantile(const totals& before, const totals& now, double q);

  /// A request refused before its handler ran, by reason ("merchant_rate",
  /// ...: a fixed set from the code, never from the request).
  void shed(const std::string& reason);
  /// The requests shed so far, by reason.
  std::map<std::string, uint64_t> shed_counts() const;

  /// Appends this class's metric families to `out`.
  void render(std::string& out) const;

  /// The label of a route pattern: R"(/v1/orders/([^/]+)/cancel)" ->
  /// "/v1/orders/{id}/cancel". Labels come from the routes, never from the
  /// request's path, so a client cannot grow the set.
  static std::string route_label(std::string_view pattern);

private:
  struct histogram {
    std::array<uint64_t, buckets.size()> counts{};
    uint64_t count = 0;
    double sum = 0;
  };
  using request_key = std::tuple<std::string, std::string, int>;
  /// Many HTTP threads record at once: each records into one of several
  /// shards (by thread), and a scrape adds them up.
  struct shard {
    std::mutex mtx;
    std::map<request_key, uint64_t> requests;
    std::map<std::string, histogram> latency;
  };
  static constexpr size_t shard_count = 16;
  mutable std::array<shard, shard_count> shards_;
  mutable std::mutex shed_mtx_; // one lock: far cheaper than any request it counts
  std::map<std::string, uint64_t> shed_;
};

/// Escapes a label value for the text format.
std::string label_value(std::string_view v);

} // namespace payengine::http
