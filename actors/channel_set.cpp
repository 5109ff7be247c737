#include "actors/channel_set.hpp"

namespace payengine {

void channel_health::record(bool healthy) {
  auto bits = recent_.load(std::memory_order_relaxed);
  recent_.store((bits << 1) | (healthy ? 1u : 0u), std::memory_order_relaxed);
  auto n = samples_.load(std::memory_order_relaxed);
  if (n < 64)
    samples_.store(n + 1, std::memory_order_relaxed);
}

void channel_health::set_circuit(circuit c, clock_type::time_point open_until) {
  open_until_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         open_until.time_since_epoch()).count(),
                       std::memory_order_relaxed);
  circuit_.store(static_cast<uint8_t>(c), std::memory_order_relaxed);
}

domain::route_health channel_health::snapshot(std::string name,
                                              clock_type::time_point now) const {
  domain::route_health h;
  h.channel = std::move(name);
  h.breaker = static_cast<circuit>(circuit_.load(std::memory_order_relaxed));
  auto until = clock_type::time_point{
    std::chrono::nanoseconds{open_until_ns_.load(std::memory_order_relaxed)}};
  if (h.breaker == circuit::open && now >= until)
    h.breaker = circuit::half_open;
  auto n = samples_.load(std::memory_order_relaxed);
  auto bits = recent_.load(std::memory_order_relaxed);
  if (n < 64)
    bits &= (uint64_t{1} << n) - 1;
  h.samples = n;
  h.successes = static_cast<uint32_t>(__builtin_popcountll(bits));
  return h;
}

const channel_entry* channel_set::find(std::string_view name) const {
  for (const auto& e : entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

std::vector<domain::route_health> channel_set::health() const {
  const auto now = channel_health::clock_type::now();
  std::vector<domain::route_health> out;
  out.reserve(entries.size());
  for (const auto& e : entries)
    out.push_back(e.health->snapshot(e.name, now));
  return out;
}

std::vector<std::string> channel_set::routes() const {
  auto all = health();
  std::vector<domain::route_health> open_for_payments;
  for (auto& h : all)
    if (domain::usable(h))
      open_for_payments.push_back(std::move(h));
  return domain::rank_routes(open_for_payments);
}

bool channel_set::usable(std::string_view name) const {
  const auto* e = find(name);
  return e && domain::usable(e->health->snapshot(e->name, channel_health::clock_type::now()));
}

} // namespace payengine
