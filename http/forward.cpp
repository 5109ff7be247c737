#include "http/forward.hpp"

#include "config/logging.hpp"
#include "messages/ids.hpp"

#include <map>
#include <memory>
#include <string_view>

namespace payengine::http {

namespace {

/// One keep-alive client per owner URL and HTTP thread (a client is not
/// shared between threads).
httplib::Client& client_for(const std::string& url, const engine_config& cfg) {
  thread_local std::map<std::string, std::unique_ptr<httplib::Client>> clients;
  auto& c = clients[url];
  if (!c) {
    c = std::make_unique<httplib::Client>(url);
    c->set_tcp_nodelay(true);
    c->set_keep_alive(true);
    c->set_connection_timeout(std::chrono::milliseconds{1'000});
    c->set_write_timeout(std::chrono::seconds{5});
    // A long poll waits up to long_poll_max_s at the owner, then answers.
    c->set_read_timeout(std::chrono::milliseconds{cfg.long_poll_max_s * 1000ull
                                                  + cfg.request_timeout_ms + 2'000});
  }
  return *c;
}

bool hop_by_hop(const std::string& name) {
  static const char* names[] = {"Host", "Content-Length", "Transfer-Encoding", "Connection",
                                "Keep-Alive", "Accept-Encoding", "Content-Encoding"};
  for (auto* n : names)
    if (strcasecmp(name.c_str(), n) == 0)
      return true;
  return false;
}

void moving(response& res, const char* why) {
  send(res, unavailable_nothing_changed(
              "shard_moving", std::string{"The order's shard is moving between nodes ("} + why
                                + "); nothing was changed. Retry."));
}

} // namespace

std::string order_in_path(const std::string& path) {
  // /v1/orders/{id}[/...] or /admin/orders/{id}[/...], id ord_ + 1-64 of [A-Za-z0-9]
  std::string_view rest = path;
  constexpr std::string_view v1 = "/v1/orders/", admin = "/admin/orders/";
  if (rest.substr(0, v1.size()) == v1)
    rest.remove_prefix(v1.size());
  else if (rest.substr(0, admin.size()) == admin)
    rest.remove_prefix(admin.size());
  else
    return {};
  auto id = rest.substr(0, rest.find('/'));
  constexpr std::string_view prefix = "ord_";
  if (id.size() <= prefix.size() || id.size() > prefix.size() + 64 || id.substr(0, prefix.size()) != prefix)
    return {};
  for (char c : id.substr(prefix.size()))
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return {};
  return std::string{id};
}

bool served_here(const server_context& ctx, const request& req, const std::string& order_id) {
  return !ctx.cluster || order_id.empty() || req.has_header(forwarded_header)
         || ctx.cluster->owns(ctx.cluster->shard_of(order_id));
}

bool forward_if_elsewhere(server_context& ctx, const request& req,
                          response& res, const std::string& order_id) {
  if (served_here(ctx, req, order_id))
    return false;
  auto shard = ctx.cluster->shard_of(order_id);
  auto owner = ctx.cluster->owner_of(shard);
  if (owner.node.empty() || owner.node == ctx.cluster->node_id() || owner.url.empty()) {
    moving(res, "no owner now");
    return true;
  }
  httplib::Headers headers;
  for (const auto& [k, v] : req.headers)
    if (!hop_by_hop(k) && strcasecmp(k.c_str(), "X-Request-Id") != 0)
      headers.emplace(k, v);
  headers.emplace("X-Request-Id", request_id_of(req)); // the same id on both nodes
  headers.emplace(forwarded_header, ctx.cluster->node_id());
  auto target = req.target.empty() ? req.path : req.target;
  auto& client = client_for(owner.url, ctx.cfg);
  ctx.cluster->stats.forwards++;
  httplib::Result r = req.method == "GET"
    ? client.Get(target, headers)
    : client.Post(target, headers, req.body, req.get_header_value("Content-Type"));
  if (!r) {
    ctx.cluster->stats.forward_failures++;
    logging::warn("cluster.forward_failed", {{"order_id", order_id}, {"owner", owner.node},
                                             {"error", httplib::to_string(r.error())}});
    if (req.method == "GET" || r.error() == httplib::Error::Connection)
      moving(res, "its owner cannot be reached");
    else // sent, no answer: the outcome is unknown
      send(res, service_unavailable("timeout", "The owner of the order did not answer; the outcome is unknown. Retry with the same Idempotency-Key."));
    return true;
  }
  res.status = r->status;
  res.headers.erase(node_header);
  for (const auto& [k, v] : r->headers)
    if (!hop_by_hop(k) && strcasecmp(k.c_str(), "Content-Type") != 0)
      res.headers.emplace(k, v);
  res.set_content(r->body, r->get_header_value("Content-Type").empty()
                             ? "application/json; charset=utf-8"
                             : r->get_header_value("Content-Type"));
  return true;
}

} // namespace payengine::http
