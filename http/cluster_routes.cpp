// Several nodes (API.md "Several nodes"): GET /admin/cluster, the nodes and
// the shard leases as this node's lease keeper last read them.
#include "http/routes.hpp"

#include "messages/cluster.hpp"
#include "messages/timestamps.hpp"

#include <map>

namespace payengine::http {

namespace {

using json = nlohmann::json;

json cluster_json(const shard_map& cluster) {
  auto v = cluster.last_view();
  std::map<std::string, int> owned;
  json shards = json::array();
  for (const auto& l : v.leases) {
    if (!l.owner.empty())
      owned[l.owner]++;
    shards.push_back({{"id", l.shard},
                      {"owner", l.owner.empty() ? json(nullptr) : json(l.owner)},
                      {"epoch", l.epoch},
                      {"expires_at", to_rfc3339(l.expires_at_us)}});
  }
  json nodes = json::array();
  for (const auto& n : v.nodes)
    nodes.push_back({{"id", n.id},
                     {"url", n.url},
                     {"heartbeat_at", to_rfc3339(n.heartbeat_at_us)},
                     {"live", n.live},
                     {"shards", owned[n.id]}});
  return {{"node", cluster.node_id()}, {"nodes", nodes}, {"shards", shards}};
}

} // namespace

void add_cluster_routes(router& svr, server_context& ctx) {
  svr.get("/admin/cluster", [&ctx](const request& req, response& res) {
    if (!is_admin(ctx, req))
      return send(res, {401, "authentication_error", "invalid_admin_token",
                        "Provide the admin token as 'Authorization: Bearer <token>'.", {}, {}});
    if (!ctx.cluster)
      return send_json(res, 200, {{"nodes", json::array()}, {"shards", json::array()}});
    send_json(res, 200, cluster_json(*ctx.cluster));
  });
}

} // namespace payengine::http
