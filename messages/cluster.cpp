#include "messages/cluster.hpp"

#include "messages/ids.hpp"

#include <stdexcept>
#include <utility>

namespace payengine {

namespace {

uint64_t fnv1a64(std::string_view data, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

/// A finalizer (splitmix64) so that nearby inputs weigh independently.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

} // namespace

uint32_t cluster_shard_of(std::string_view order_id, uint32_t shards) {
  return shard_index(order_id, shards);
}

std::string rendezvous_owner(uint32_t shard, const std::vector<std::string>& live_nodes) {
  std::string best;
  uint64_t best_weight = 0;
  for (const auto& node : live_nodes) {
    auto w = mix(fnv1a64(node) ^ mix(shard));
    if (best.empty() || w > best_weight || (w == best_weight && node < best)) {
      best = node;
      best_weight = w;
    }
  }
  return best;
}

shard_map::shard_map(std::string node_id, std::string internal_url, uint32_t shards)
  : node_id_(std::move(node_id)), internal_url_(std::move(internal_url)), shards_(shards),
    slots_(shards), owners_(shards) {
  if (shards == 0)
    throw std::invalid_argument("shard_map: no shards");
}

uint64_t shard_map::epoch(uint32_t shard) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (shard >= shards_)
    return 0;
  const auto& s = slots_[shard];
  return s.epoch != 0 && clock::now() < s.valid_until ? s.epoch : 0;
}

void shard_map::grant(uint32_t shard, uint64_t epoch, clock::time_point valid_until) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (shard >= shards_ || epoch == 0)
    throw std::invalid_argument("shard_map::grant: bad shard or epoch");
  // Taken again under a new epoch while the old one was still in the slot
  // (it ran out while this node was paused, and nothing revoked it yet):
  // what runs under the old epoch (order actors, their read-cache entries)
  // may be behind another node's writes, and stops like a lost shard's.
  if (slots_[shard].epoch != 0 && slots_[shard].epoch != epoch)
    revoked_.push_back(shard);
  slots_[shard] = slot{epoch, valid_until};
}

bool shard_map::revoke(uint32_t shard) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (shard >= shards_ || slots_[shard].epoch == 0)
    return false;
  slots_[shard] = slot{};
  revoked_.push_back(shard);
  return true;
}

bool shard_map::revoke_if(uint32_t shard, uint64_t epoch) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (shard >= shards_ || slots_[shard].epoch == 0 || slots_[shard].epoch != epoch)
    return false;
  slots_[shard] = slot{};
  revoked_.push_back(shard);
  return true;
}

std::vector<uint32_t> shard_map::take_revoked() {
  std::lock_guard<std::mutex> guard{mtx_};
  return std::exchange(revoked_, {});
}

std::vector<uint32_t> shard_map::revoke_expired() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<uint32_t> out;
  auto now = clock::now();
  for (uint32_t i = 0; i < shards_; ++i)
    if (slots_[i].epoch != 0 && now >= slots_[i].valid_until) {
      slots_[i] = slot{};
      out.push_back(i);
      revoked_.push_back(i);
    }
  return out;
}

std::vector<std::pair<uint32_t, uint64_t>> shard_map::held() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::pair<uint32_t, uint64_t>> out;
  auto now = clock::now();
  for (uint32_t i = 0; i < shards_; ++i)
    if (slots_[i].epoch != 0 && now < slots_[i].valid_until)
      out.emplace_back(i, slots_[i].epoch);
  return out;
}

size_t shard_map::owned_count() const {
  return held().size();
}

void shard_map::set_owners(std::vector<owner_info> owners) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (owners.size() == shards_)
    owners_ = std::move(owners);
}

shard_map::owner_info shard_map::owner_of(uint32_t shard) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return shard < shards_ ? owners_[shard] : owner_info{};
}

void shard_map::set_view(view v) {
  std::lock_guard<std::mutex> guard{mtx_};
  view_ = std::move(v);
}

shard_map::view shard_map::last_view() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return view_;
}

} // namespace payengine
