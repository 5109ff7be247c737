#include "messages/cluster.hpp"

#include "messages/ids.hpp"

#include <algorithm>
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

uint64_t weight(std::string_view node, uint32_t shard) {
  return mix(fnv1a64(node) ^ mix(shard));
}

} // namespace

uint32_t cluster_shard_of(std::string_view order_id, uint32_t shards) {
  return shard_index(order_id, shards);
}

std::vector<std::string> shard_owners(uint32_t shards, const std::vector<std::string>& live_nodes) {
  std::vector<std::string> owners(shards);
  std::vector<std::string> nodes = live_nodes;
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  if (nodes.empty() || shards == 0)
    return owners;
  struct pair {
    uint64_t weight;
    uint32_t node;
    uint32_t shard;
  };
  std::vector<pair> pairs;
  pairs.reserve(size_t{shards} * nodes.size());
  for (uint32_t n = 0; n < nodes.size(); ++n)
    for (uint32_t s = 0; s < shards; ++s)
      pairs.push_back({weight(nodes[n], s), n, s});
  // Ties (equal weights) by node name, then shard: the same order everywhere.
  std::sort(pairs.begin(), pairs.end(), [](const pair& a, const pair& b) {
    if (a.weight != b.weight)
      return a.weight > b.weight;
    return a.node != b.node ? a.node < b.node : a.shard < b.shard;
  });
  // Each node owns `even` shards, and `spare` of them one more: the first
  // to fill up.
  const size_t even = shards / nodes.size();
  size_t spare = shards % nodes.size();
  std::vector<size_t> load(nodes.size(), 0);
  size_t left = shards;
  for (const auto& p : pairs) {
    if (left == 0)
      break;
    auto& l = load[p.node];
    if (!owners[p.shard].empty() || l > even || (l == even && spare == 0))
      continue;
    if (l == even)
      --spare;
    owners[p.shard] = nodes[p.node];
    ++l;
    --left;
  }
  return owners;
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
