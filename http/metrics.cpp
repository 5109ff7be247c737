#include "http/metrics.hpp"

#include <cstdio>
#include <functional>
#include <thread>

namespace payengine::http {

std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string http_metrics::route_label(std::string_view pattern) {
  std::string out{pattern};
  static const std::string parameter = "([^/]+)";
  for (auto at = out.find(parameter); at != std::string::npos; at = out.find(parameter))
    out.replace(at, parameter.size(), "{id}");
  return out;
}

void http_metrics::observe(const std::string& route, const std::string& method, int status,
                           std::chrono::nanoseconds took) {
  auto seconds = std::chrono::duration<double>(took).count();
  auto& sh = shards_[std::hash<std::thread::id>{}(std::this_thread::get_id()) % shard_count];
  std::lock_guard lock{sh.mtx};
  sh.requests[{route, method, status}]++;
  auto& h = sh.latency[route];
  for (size_t i = 0; i < buckets.size(); ++i)
    if (seconds <= buckets[i])
      h.counts[i]++;
  h.count++;
  h.sum += seconds;
}

http_metrics::totals http_metrics::sum(std::string_view except) const {
  totals out;
  for (auto& sh : shards_) {
    std::lock_guard lock{sh.mtx};
    for (const auto& [k, n] : sh.requests) {
      const auto& [route, method, status] = k;
      if (route.rfind(except, 0) == 0)
        continue;
      out.requests += n;
      if (status >= 500)
        out.server_errors += n;
    }
    for (const auto& [route, h] : sh.latency) {
      if (route.rfind(except, 0) == 0)
        continue;
      for (size_t i = 0; i < buckets.size(); ++i)
        out.at_most[i] += h.counts[i];
    }
  }
  return out;
}

double http_metrics::quantile(const totals& before, const totals& now, double q) {
  if (now.requests <= before.requests)
    return 0;
  auto n = double(now.requests - before.requests);
  auto rank = q * n;
  double lower_bound = 0, below = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    auto upto = double(now.at_most[i] - before.at_most[i]);
    if (upto >= rank) {
      auto in_bucket = upto - below;
      auto frac = in_bucket > 0 ? (rank - below) / in_bucket : 1.0;
      return lower_bound + (buckets[i] - lower_bound) * frac;
    }
    lower_bound = buckets[i];
    below = upto;
  }
  return buckets.back(); // beyond the last bucket: report its bound
}

std::map<std::string, uint64_t> http_metrics::shed_counts() const {
  std::lock_guard lock{shed_mtx_};
  return shed_;
}

void http_metrics::shed(const std::string& reason) {
  std::lock_guard lock{shed_mtx_};
  shed_[reason]++;
}

namespace {

/// payengine_http_shed_total (overload: the admission limit; connections:
/// over http_connections_max); every reason always shown, so that a rate()
/// over it starts at 0 rather than at the first refusal.
void render_shed(std::string& out, std::map<std::string, uint64_t> shed) {
  for (const char* always : {"merchant_rate", "overload", "connections"})
    shed.emplace(always, 0);
  out += "# HELP payengine_http_shed_total Requests refused before their handler ran, by reason.\n"
         "# TYPE payengine_http_shed_total counter\n";
  char line[256];
  for (const auto& [reason, n] : shed) {
    std::snprintf(line, sizeof(line), "payengine_http_shed_total{reason=\"%s\"} %llu\n",
                  label_value(reason).c_str(), static_cast<unsigned long long>(n));
    out += line;
  }
}

} // namespace

void http_metrics::render(std::string& out) const {
  {
    std::lock_guard lock{shed_mtx_};
    render_shed(out, shed_);
  }
  std::map<request_key, uint64_t> requests_;
  std::map<std::string, histogram> latency_;
  for (auto& sh : shards_) {
    std::lock_guard lock{sh.mtx};
    for (const auto& [k, n] : sh.requests)
      requests_[k] += n;
    for (const auto& [route, h] : sh.latency) {
      auto& sum = latency_[route];
      for (size_t i = 0; i < buckets.size(); ++i)
        sum.counts[i] += h.counts[i];
      sum.count += h.count;
      sum.sum += h.sum;
    }
  }
  char line[512];
  out += "# HELP payengine_http_requests_total HTTP requests by route, method and status.\n"
         "# TYPE payengine_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    std::snprintf(line, sizeof(line),
                  "payengine_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
                  label_value(route).c_str(), method.c_str(), status,
                  static_cast<unsigned long long>(n));
    out += line;
  }
  out += "# HELP payengine_http_request_duration_seconds Time from routing to the response, by route.\n"
         "# TYPE payengine_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    auto r = label_value(route);
    for (size_t i = 0; i < buckets.size(); ++i) {
      std::snprintf(line, sizeof(line),
                    "payengine_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    r.c_str(), buckets[i], static_cast<unsigned long long>(h.counts[i]));
      out += line;
    }
    std::snprintf(line, sizeof(line),
                  "payengine_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                  "payengine_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n"
                  "payengine_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                  r.c_str(), static_cast<unsigned long long>(h.count), r.c_str(), h.sum, r.c_str(),
                  static_cast<unsigned long long>(h.count));
    out += line;
  }
}

} // namespace payengine::http
