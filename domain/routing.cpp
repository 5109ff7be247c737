#include "domain/routing.hpp"

#include <algorithm>
#include <tuple>

namespace payengine::domain {

namespace {

/// 0..8: the recent success rate in eighths (8 without enough samples).
uint32_t health_eighths(const route_health& h) {
  if (h.samples < route_samples_min)
    return 8;
  return std::min<uint32_t>(8, h.successes * 8 / h.samples);
}

bool listed(std::string_view list, std::string_view name) {
  size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string_view::npos)
      end = list.size();
    if (list.substr(start, end - start) == name)
      return true;
    start = end + 1;
  }
  return false;
}

} // namespace

bool usable(const route_health& h) {
  return h.breaker != route_health::circuit::open;
}

std::vector<std::string> rank_routes(const std::vector<route_health>& channels) {
  std::vector<size_t> order(channels.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  auto key = [&](size_t i) {
    const auto& h = channels[i];
    return std::make_tuple(static_cast<int>(h.breaker), 8 - static_cast<int>(health_eighths(h)), i);
  };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  std::vector<std::string> out;
  out.reserve(order.size());
  for (auto i : order)
    out.push_back(channels[i].channel);
  return out;
}

std::string next_route(const std::vector<std::string>& routes, std::string_view current,
                       std::string_view tried) {
  for (const auto& r : routes)
    if (r != current && !listed(tried, r))
      return r;
  return {};
}

} // namespace payengine::domain
