#include "storage/tables.hpp"

#include "storage/pg_array.hpp"

#include <stdexcept>

namespace payengine::storage {

namespace {

shard_epochs epochs_of(const pqxx::result& r) {
  shard_epochs out;
  out.reserve(r.size());
  for (const auto& row : r)
    out.emplace_back(row[0].as<uint32_t>(), row[1].as<uint64_t>());
  return out;
}

pg_array shard_array(const std::vector<uint32_t>& shards) {
  pg_array a;
  for (auto s : shards)
    a.add(static_cast<int64_t>(s));
  return a;
}

} // namespace

uint32_t init_cluster(pqxx::work& tx, uint32_t wanted) {
  tx.exec_params("INSERT INTO cluster_config (id, shards) VALUES (1, $1) ON CONFLICT DO NOTHING",
                 static_cast<int64_t>(wanted));
  auto shards = tx.exec("SELECT shards FROM cluster_config WHERE id = 1")[0][0].as<uint32_t>();
  tx.exec_params("INSERT INTO shard_leases (shard) SELECT generate_series(0, $1 - 1)"
                 " ON CONFLICT DO NOTHING", static_cast<int64_t>(shards));
  return shards;
}

void lock_leases(pqxx::work& tx) {
  tx.exec_prepared("cluster_lock_all");
}

void heartbeat(pqxx::work& tx, const std::string& node, const std::string& url) {
  tx.exec_prepared("cluster_heartbeat", node, url);
}

std::vector<node_row> cluster_nodes(pqxx::work& tx, uint32_t ttl_ms) {
  std::vector<node_row> out;
  for (const auto& r : tx.exec_prepared("cluster_nodes", static_cast<int64_t>(ttl_ms)))
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<int64_t>(),
                   r[3].as<bool>()});
  return out;
}

std::vector<lease_row> shard_leases(pqxx::work& tx) {
  std::vector<lease_row> out;
  for (const auto& r : tx.exec_prepared("cluster_leases"))
    out.push_back({r[0].as<uint32_t>(), r[1].as<std::string>(), r[2].as<uint64_t>(),
                   r[3].as<int64_t>(), r[4].as<bool>(), r[5].as<std::string>()});
  return out;
}

shard_epochs renew_leases(pqxx::work& tx, const std::string& node, uint32_t ttl_ms,
                          const shard_epochs& held) {
  if (held.empty())
    return {};
  pg_array shards, epochs;
  for (const auto& [s, e] : held) {
    shards.add(static_cast<int64_t>(s));
    epochs.add(static_cast<int64_t>(e));
  }
  return epochs_of(tx.exec_prepared("cluster_renew", node, static_cast<int64_t>(ttl_ms),
                                    shards.str(), epochs.str()));
}

shard_epochs take_leases(pqxx::work& tx, const std::string& node, uint32_t ttl_ms,
                         const std::vector<uint32_t>& shards) {
  if (shards.empty())
    return {};
  return epochs_of(tx.exec_prepared("cluster_take", node, static_cast<int64_t>(ttl_ms),
                                    shard_array(shards).str()));
}

void release_leases(pqxx::work& tx, const std::string& node, const shard_epochs& held) {
  if (held.empty())
    return;
  pg_array shards, epochs;
  for (const auto& [s, e] : held) {
    shards.add(static_cast<int64_t>(s));
    epochs.add(static_cast<int64_t>(e));
  }
  tx.exec_prepared("cluster_release", node, shards.str(), epochs.str());
}

void leave_cluster(pqxx::work& tx, const std::string& node) {
  tx.exec_prepared("cluster_leave", node);
}

shard_epochs fence_epochs(pqxx::work& tx, const std::vector<uint32_t>& shards) {
  if (shards.empty())
    return {};
  return epochs_of(tx.exec_prepared("cluster_fence", shard_array(shards).str()));
}

} // namespace payengine::storage
