#include "actors/lease_keeper.hpp"

#include "config/logging.hpp"
#include "storage/tables.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace payengine {

namespace {

using clock = shard_map::clock;

/// What a round decided, from the rows it read.
struct plan {
  storage::shard_epochs keep;    // renewed and still meant for this node
  storage::shard_epochs release; // renewed but meant for another live node
  std::vector<uint32_t> take;    // meant for this node, free or expired
};

plan make_plan(const std::string& me, const storage::shard_epochs& renewed,
               const std::vector<storage::lease_row>& leases,
               const std::vector<std::string>& meant_for) {
  auto mine = [&](uint32_t s) { return s < meant_for.size() && meant_for[s] == me; };
  plan p;
  std::set<uint32_t> renewed_set;
  for (const auto& [s, e] : renewed) {
    renewed_set.insert(s);
    (mine(s) ? p.keep : p.release).emplace_back(s, e);
  }
  for (const auto& l : leases)
    if (!renewed_set.count(l.shard) && mine(l.shard)
        && (l.owner.empty() || l.owner == me || l.expired))
      p.take.push_back(l.shard);
  return p;
}

/// The leases as this round leaves them (expiry times of what it renewed
/// or took are approximate: read before the round).
std::vector<shard_map::lease_view> tx_leases_after(const std::vector<storage::lease_row>& leases,
                                                   const storage::shard_epochs& released,
                                                   const storage::shard_epochs& taken,
                                                   const std::string& me) {
  std::vector<shard_map::lease_view> out;
  for (const auto& l : leases)
    out.push_back({l.shard, l.owner, l.epoch, l.expires_at_us});
  for (const auto& [s, e] : released)
    if (s < out.size())
      out[s].owner.clear();
  for (const auto& [s, e] : taken)
    if (s < out.size()) {
      out[s].owner = me;
      out[s].epoch = e;
    }
  return out;
}

} // namespace

lease_keeper::lease_keeper(lease_keeper_settings settings, std::shared_ptr<shard_map> map,
                           std::shared_ptr<engine_directory> directory)
  : settings_(std::move(settings)), map_(std::move(map)), directory_(std::move(directory)) {
}

lease_keeper::~lease_keeper() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

uint32_t lease_keeper::init(const std::string& database_url, uint32_t wanted) {
  auto conn = storage::connect(database_url);
  pqxx::work tx{*conn};
  auto shards = storage::init_cluster(tx, wanted);
  tx.commit();
  return shards;
}

bool lease_keeper::ensure_connected() {
  if (conn_ && conn_->is_open())
    return true;
  try {
    conn_ = storage::connect(settings_.database_url, settings_.limits);
    return true;
  } catch (const std::exception& e) {
    conn_.reset();
    logging::error("cluster.connect_failed", {{"error", e.what()}});
    return false;
  }
}

void lease_keeper::lost(const std::vector<uint32_t>& shards) {
  if (shards.empty())
    return;
  auto handles = directory_->current();
  for (auto s : shards)
    if (handles)
      for (const auto& registry : handles->shards)
        caf::anon_send(registry, lost_atom_v, s);
}

const std::vector<std::string>& lease_keeper::owners_for(std::vector<std::string> live) {
  std::sort(live.begin(), live.end());
  if (owners_.empty() || live != owners_live_) {
    owners_ = shard_owners(map_->shards(), live);
    owners_live_ = std::move(live);
  }
  return owners_;
}

bool lease_keeper::round() {
  const auto& me = map_->node_id();
  const auto ttl = settings_.ttl_ms;
  const auto started = clock::now();
  auto held = map_->held();
  if (!ensure_connected()) {
    map_->stats.renew_failures++;
    return false;
  }
  try {
    pqxx::work tx{*conn_};
    storage::lock_leases(tx);
    storage::heartbeat(tx, me, map_->internal_url());
    std::vector<std::string> live;
    shard_map::view view;
    for (const auto& n : storage::cluster_nodes(tx, ttl)) {
      view.nodes.push_back({n.id, n.url, n.heartbeat_at_us, n.live});
      if (n.live)
        live.push_back(n.id);
    }
    auto renewed = storage::renew_leases(tx, me, ttl, held);
    auto leases = storage::shard_leases(tx);
    auto p = make_plan(me, renewed, leases, owners_for(std::move(live)));
    // A handoff: stopped here before the release can commit.
    for (const auto& [s, e] : p.release)
      map_->revoke_if(s, e);
    lost(map_->take_revoked());
    storage::release_leases(tx, me, p.release);
    auto taken = storage::take_leases(tx, me, ttl, p.take);
    tx.commit();
    // The database's lease ends at (renewal's time + TTL) >= started + TTL.
    const auto margin = std::chrono::milliseconds{std::max<uint32_t>(ttl / 5, 50)};
    const auto until = started + std::chrono::milliseconds{ttl} - margin;
    std::set<uint32_t> now_held;
    for (const auto& [s, e] : p.keep) {
      map_->grant(s, e, until);
      now_held.insert(s);
    }
    for (const auto& [s, e] : taken) {
      map_->grant(s, e, until);
      now_held.insert(s);
      logging::info("cluster.shard_taken", {{"shard", s}, {"epoch", e}});
    }
    map_->stats.takeovers += taken.size();
    map_->stats.handoffs += p.release.size();
    map_->stats.renewals++;
    for (const auto& [s, e] : held)
      if (!now_held.count(s) && map_->revoke_if(s, e)) {
        map_->stats.losses++;
        logging::warn("cluster.shard_lost", {{"shard", s}, {"epoch", e}});
      }
    // What the others own, for routing.
    std::vector<shard_map::owner_info> owners(map_->shards());
    for (const auto& l : leases)
      if (l.shard < owners.size() && !l.expired)
        owners[l.shard] = {l.owner, l.owner_url, l.epoch};
    for (const auto& [s, e] : p.release)
      owners[s] = {};
    for (const auto& [s, e] : taken)
      owners[s] = {me, map_->internal_url(), e};
    map_->set_owners(std::move(owners));
    // After this round (the leases as read, with what it changed).
    for (const auto& l : tx_leases_after(leases, p.release, taken, me))
      view.leases.push_back(l);
    map_->set_view(std::move(view));
    settled_ = taken.size() == p.take.size();
    return true;
  } catch (const std::exception& e) {
    map_->stats.renew_failures++;
    logging::warn("cluster.round_failed", {{"error", e.what()}});
    if (!conn_->is_open())
      conn_.reset();
    settled_ = false;
    return false;
  }
}

void lease_keeper::settle(uint32_t max_ms) {
  auto deadline = clock::now() + std::chrono::milliseconds{max_ms};
  while (clock::now() < deadline) {
    if (round() && settled_)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{std::max<uint32_t>(settings_.ttl_ms / 20, 10)});
  }
  logging::warn("cluster.not_settled", {{"owned", map_->owned_count()}});
}

void lease_keeper::start() {
  thread_ = std::thread{[this] { run(); }};
}

void lease_keeper::run() {
  const auto period = std::chrono::milliseconds{settings_.ttl_ms / 3};
  const auto check = std::chrono::milliseconds{std::max<uint32_t>(settings_.ttl_ms / 20, 10)};
  auto next_round = clock::now() + period;
  std::unique_lock<std::mutex> lock{mtx_};
  while (!stopping_) {
    lock.unlock();
    if (clock::now() >= next_round) {
      // Unsettled (a node joined or left): look again sooner.
      round();
      next_round = clock::now() + (settled_ ? period : std::min(period, check * 4));
    }
    auto expired = map_->revoke_expired();
    map_->stats.losses += expired.size();
    for (auto s : expired)
      logging::warn("cluster.shard_expired", {{"shard", s}});
    lost(map_->take_revoked());
    lock.lock();
    cv_.wait_for(lock, check, [this] { return stopping_; });
  }
}

bool lease_keeper::has_peers() const {
  auto v = map_->last_view();
  return std::any_of(v.nodes.begin(), v.nodes.end(), [this](const shard_map::node_view& n) {
    return n.live && n.id != map_->node_id();
  });
}

void lease_keeper::stop_and_release() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (released_)
      return;
    released_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  auto held = map_->held();
  for (const auto& [s, e] : held)
    map_->revoke_if(s, e);
  lost(map_->take_revoked());
  if (!ensure_connected())
    return;
  try {
    pqxx::work tx{*conn_};
    storage::lock_leases(tx);
    storage::release_leases(tx, map_->node_id(), held);
    storage::leave_cluster(tx, map_->node_id());
    tx.commit();
    map_->stats.handoffs += held.size();
    logging::info("cluster.released", {{"shards", held.size()}});
  } catch (const std::exception& e) {
    logging::warn("cluster.release_failed", {{"error", e.what()}});
  }
}

} // namespace payengine
