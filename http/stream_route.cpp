// GET /admin/stream (admin token): Server-Sent Events.
//
//   event: hello       once, when the subscription is in place
//   event: transition  an order committed a transition or an event
//   event: lifecycle   an order actor was spawned, passivated, crashed, restarted
//   event: stats       every second: HTTP rate and latency, the actor tree
//   event: dropped     this client was too slow and lost `count` events
//
// Each client drains its own bounded buffer (actors/stream_hub.hpp) on its
// HTTP thread; the engine never waits for a client.
#include "actors/stream_hub.hpp"
#include "http/actor_tree.hpp"
#include "http/routes.hpp"
#include "messages/timestamps.hpp"

namespace payengine::http {

namespace {

using Request = request;
using Response = response;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

constexpr auto stats_every = std::chrono::seconds{1};
constexpr const char* stream_route = "/admin/stream";

struct stream_session {
  std::shared_ptr<stream_hub> hub;
  std::shared_ptr<stream_hub::client> client;
  http_metrics::totals http_before;
  uint64_t transitions_before = 0;
  clock_type::time_point stats_at;
  bool greeted = false;
};

std::string frame(const char* event, const json& data) {
  return std::string{"event: "} + event + "\ndata: "
         + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

/// The actor tree, asked at most about once a second for all clients, with
/// short deadlines: a stats frame never waits long on a busy actor.
json shared_tree(server_context& ctx) {
  auto& cache = ctx.stream_tree;
  std::lock_guard<std::mutex> guard{cache.mtx};
  auto now = clock_type::now();
  if (cache.tree.is_null() || now - cache.at >= std::chrono::milliseconds{900}) {
    cache.tree = actor_tree(ctx, 0, std::chrono::milliseconds{500});
    cache.at = now;
  }
  return cache.tree;
}

json stats(server_context& ctx, stream_session& s) {
  auto now = clock_type::now();
  auto seconds = std::max(0.001, std::chrono::duration<double>(now - s.stats_at).count());
  auto http_now = ctx.metrics.sum(stream_route);
  auto tree = shared_tree(ctx);
  uint64_t transitions = tree["inspector"].is_object() ? tree["inspector"].value("transitions", uint64_t{0})
                                                       : 0;
  json out = {
    {"type", "stats"},
    {"at", to_rfc3339(now_us())},
    {"interval_ms", static_cast<int64_t>(seconds * 1000)},
    {"http", {{"requests_per_s", double(http_now.requests - s.http_before.requests) / seconds},
              {"errors_per_s", double(http_now.server_errors - s.http_before.server_errors) / seconds},
              {"p50_ms", http_metrics::quantile(s.http_before, http_now, 0.50) * 1000},
              {"p99_ms", http_metrics::quantile(s.http_before, http_now, 0.99) * 1000}}},
    // A restarted inspector starts counting again: no negative rates.
    {"transitions_per_s", s.greeted && transitions >= s.transitions_before
                            ? double(transitions - s.transitions_before) / seconds : 0.0},
    {"tree", std::move(tree)}};
  s.http_before = http_now;
  s.transitions_before = transitions;
  s.stats_at = now;
  return out;
}

/// One step of the stream: waits for events (at most until the next stats
/// frame is due) and writes them. False ends the response.
bool pump(server_context& ctx, stream_session& s, stream_sink& sink) {
  auto write = [&sink](const std::string& text) { return sink.write(text); };
  if (!s.greeted) {
    s.stats_at = clock_type::now();
    s.http_before = ctx.metrics.sum(stream_route);
    auto first = stats(ctx, s);
    s.greeted = true;
    return write("retry: 2000\n\n")
           && write(frame("hello", {{"type", "hello"}, {"at", to_rfc3339(now_us())}}))
           && write(frame("stats", first));
  }
  auto due = s.stats_at + stats_every;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - clock_type::now());
  std::vector<stream_hub::frame> frames;
  uint64_t dropped = 0;
  if (!s.client->next(frames, dropped, std::max(wait, std::chrono::milliseconds{0}))) {
    sink.done(); // the engine is stopping
    return true;
  }
  if (dropped > 0
      && !write(frame("dropped", {{"type", "dropped"}, {"at", to_rfc3339(now_us())}, {"count", dropped}})))
    return false;
  for (const auto& f : frames)
    if (!write(*f))
      return false;
  if (clock_type::now() >= due && !write(frame("stats", stats(ctx, s))))
    return false;
  return true;
}

void open_stream(server_context& ctx, const Request& req, Response& res) {
  if (!is_admin(ctx, req))
    return send(res, {401, "authentication_error", "invalid_admin_token",
                      "Provide the admin token as 'Authorization: Bearer <token>'.", {}, {}});
  auto hub = ctx.handles()->stream;
  auto client = hub ? hub->subscribe() : nullptr;
  if (!client && hub && hub->closed())
    return send(res, {503, "api_error", "shutting_down", "The engine is stopping.", {}, {}});
  if (!client) {
    res.set_header("Retry-After", "5");
    return send(res, {429, "rate_limit_error", "too_many_streams",
                      "Too many stream clients (stream_clients_max); retry later.", {}, {}});
  }
  auto session = std::make_shared<stream_session>();
  session->hub = hub;
  session->client = client;
  res.set_header("Cache-Control", "no-store");
  res.set_stream(
    "text/event-stream",
    [&ctx, session](stream_sink& sink) { return pump(ctx, *session, sink); },
    [session] { session->hub->unsubscribe(session->client); });
}

} // namespace

void add_stream_route(router& svr, server_context& ctx) {
  svr.get(stream_route, [&ctx](const Request& req, Response& res) { open_stream(ctx, req, res); });
}

} // namespace payengine::http
