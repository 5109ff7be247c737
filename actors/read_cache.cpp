#include "actors/read_cache.hpp"

#include "messages/cluster.hpp"
#include "messages/order_json.hpp"

namespace payengine {

order_read_cache::order_read_cache(size_t capacity, std::shared_ptr<const shard_map> cluster)
    : capacity_(capacity), cluster_(std::move(cluster)) {
  counts_.capacity = capacity;
}

std::string order_read_cache::render(const order_record& o) {
  return order_json(o).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

uint64_t order_read_cache::epoch_of(const std::string& order_id) const {
  if (!cluster_)
    return 0;
  return cluster_->epoch(cluster_->shard_of(order_id));
}

void order_read_cache::put_locked(const std::string& id, entry e) {
  auto i = entries_.find(id);
  if (i != entries_.end()) {
    e.lru_pos = i->second.lru_pos;
    i->second = std::move(e);
    return;
  }
  i = entries_.emplace(id, std::move(e)).first;
  lru_.push_front(&i->first);
  i->second.lru_pos = lru_.begin();
  while (entries_.size() > capacity_) {
    auto victim = lru_.back();
    lru_.pop_back();
    entries_.erase(*victim);
    counts_.evictions++;
  }
}

void order_read_cache::offer(const order_record& o, uint64_t owner) {
  if (capacity_ == 0)
    return;
  auto epoch = epoch_of(o.id);
  if (cluster_ && epoch == 0)
    return;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = entries_.find(o.id);
    if (i != entries_.end() && i->second.owner == owner && i->second.version == o.version
        && i->second.epoch == epoch)
      return; // kept already (a read that missed on another event loop)
  }
  // Rendered outside the lock: only this order's actor writes its entry,
  // and it is busy here.
  entry e{o.merchant_id, o.version, owner, epoch,
          std::make_shared<const std::string>(render(o)), {}};
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(o.id);
  if (i != entries_.end() && i->second.owner == owner && i->second.version > o.version)
    return;
  put_locked(o.id, std::move(e));
}

void order_read_cache::refresh(const order_record& o, uint64_t owner) {
  if (capacity_ == 0)
    return;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (entries_.find(o.id) == entries_.end())
      return; // nobody read it: nothing to keep up to date
  }
  auto epoch = epoch_of(o.id);
  entry e{o.merchant_id, o.version, owner, epoch,
          std::make_shared<const std::string>(render(o)), {}};
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(o.id);
  if (i == entries_.end())
    return; // evicted meanwhile
  if (cluster_ && epoch == 0) {
    // Written, but the shard is leaving: nothing of it may be answered here.
    lru_.erase(i->second.lru_pos);
    entries_.erase(i);
    return;
  }
  put_locked(o.id, std::move(e));
}

void order_read_cache::forget(const std::string& order_id, uint64_t owner) {
  if (capacity_ == 0)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(order_id);
  if (i == entries_.end() || i->second.owner != owner)
    return;
  lru_.erase(i->second.lru_pos);
  entries_.erase(i);
}

order_read_cache::body order_read_cache::find(const std::string& order_id,
                                              const std::string& merchant_id) {
  if (capacity_ == 0)
    return nullptr;
  auto epoch = epoch_of(order_id);
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(order_id);
  if (i == entries_.end() || (cluster_ && epoch == 0)) {
    counts_.misses++;
    return nullptr;
  }
  if (i->second.epoch != epoch) { // kept under an earlier lease of the shard
    lru_.erase(i->second.lru_pos);
    entries_.erase(i);
    counts_.misses++;
    return nullptr;
  }
  if (i->second.merchant_id != merchant_id) { // the order actor answers that (404)
    counts_.misses++;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, i->second.lru_pos);
  counts_.hits++;
  return i->second.json;
}

order_read_cache::stats order_read_cache::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto s = counts_;
  s.entries = entries_.size();
  return s;
}

} // namespace payengine
