#include "http/server.hpp"

#include "actors/stream_hub.hpp"
#include "config/logging.hpp"
#include "http/forward.hpp"
#include "http/routes.hpp"

namespace payengine::http {

namespace {

constexpr int listen_backlog = 1024;

bool is_json_content_type(const std::string& value) {
  auto semi = value.find(';');
  auto media = value.substr(0, semi);
  while (!media.empty() && media.back() == ' ')
    media.pop_back();
  for (auto& c : media)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json";
}

/// When the current worker thread started on its request, and the route
/// that took it (for /metrics).
thread_local std::chrono::steady_clock::time_point request_started;
thread_local const std::string* request_route = nullptr;

/// Refuses what no route should see: wrong content types on bodies.
httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res) {
  request_started = std::chrono::steady_clock::now();
  request_route = nullptr;
  // The body is not read yet here: look at the headers that announce one.
  auto length = req.get_header_value("Content-Length");
  bool has_body = (!length.empty() && length != "0")
                  || req.has_header("Transfer-Encoding");
  bool channel_format = req.path.rfind("/v1/callbacks/", 0) == 0; // the channel's own format
  if (has_body && !channel_format && !is_json_content_type(req.get_header_value("Content-Type"))) {
    send(res, {415, "invalid_request_error", "unsupported_media_type",
               "Send the body as 'Content-Type: application/json'.", {}, {}});
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

/// Gives every error without a body (no route, payload too large, ...) a
/// JSON error object.
httplib::Server::HandlerResponse on_error(const httplib::Request&, httplib::Response& res) {
  if (!res.body.empty())
    return httplib::Server::HandlerResponse::Unhandled;
  switch (res.status) {
    case 404:
      send(res, {404, "invalid_request_error", "route_not_found", "No such route.", {}, {}});
      break;
    case 400: // rejected by the HTTP parser before any route
      send(res, {400, "invalid_request_error", "malformed_http",
                 "Malformed HTTP request (a POST needs Content-Length or chunked encoding).", {}, {}});
      break;
    case 405:
      send(res, {405, "invalid_request_error", "method_not_allowed", "Method not allowed.", {}, {}});
      break;
    case 413:
      send(res, {413, "invalid_request_error", "body_too_large", "The body is over 64 KiB.", {}, {}});
      break;
    default:
      send(res, {res.status, res.status >= 500 ? "api_error" : "invalid_request_error",
                 "http_" + std::to_string(res.status), "The request could not be processed.", {}, {}});
  }
  return httplib::Server::HandlerResponse::Handled;
}

} // namespace

namespace {

/// Remembers the route's label for the metrics, then runs the handler.
httplib::Server::Handler labelled(const std::string& pattern, httplib::Server::Handler handler) {
  auto label = std::make_shared<const std::string>(http_metrics::route_label(pattern));
  return [label, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    request_route = label.get();
    handler(req, res);
  };
}

} // namespace

httplib::Server::Handler router::intercepted(httplib::Server::Handler handler) const {
  if (!intercept_)
    return handler;
  return [intercept = intercept_, handler = std::move(handler)](const httplib::Request& req,
                                                                 httplib::Response& res) {
    if (!intercept(req, res))
      handler(req, res);
  };
}

void router::get(const std::string& pattern, httplib::Server::Handler handler) {
  methods_[pattern].insert("GET");
  svr_.Get(pattern, labelled(pattern, intercepted(std::move(handler))));
}

void router::post(const std::string& pattern, httplib::Server::Handler handler) {
  methods_[pattern].insert("POST");
  svr_.Post(pattern, labelled(pattern, intercepted(std::move(handler))));
}

void router::patch(const std::string& pattern, httplib::Server::Handler handler) {
  methods_[pattern].insert("PATCH");
  svr_.Patch(pattern, labelled(pattern, intercepted(std::move(handler))));
}

void router::refuse_other_methods() {
  for (const auto& [pattern, methods] : methods_) {
    std::string allow;
    for (const auto& m : methods)
      allow += (allow.empty() ? "" : ", ") + m + (m == "GET" ? ", HEAD" : "");
    auto refuse = labelled(pattern, [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      send(res, {405, "invalid_request_error", "method_not_allowed",
                 req.method + " is not allowed here; use " + allow + ".", {}, {}});
    });
    if (!methods.count("GET"))
      svr_.Get(pattern, refuse);
    if (!methods.count("POST"))
      svr_.Post(pattern, refuse);
    svr_.Put(pattern, refuse);
    if (!methods.count("PATCH"))
      svr_.Patch(pattern, refuse);
    svr_.Delete(pattern, refuse);
    svr_.Options(pattern, refuse);
  }
}

api_server::api_server(caf::actor_system& sys, std::shared_ptr<engine_directory> directory,
                       engine_config cfg, std::optional<channels::public_key> alipay_key,
                       std::shared_ptr<shard_map> cluster)
  : ctx_(std::make_unique<server_context>(sys, std::move(directory), std::move(cfg))) {
  ctx_->alipay_key = std::move(alipay_key);
  ctx_->cluster = std::move(cluster);
  if (ctx_->alipay_key && ctx_->handles()->gateway)
    ctx_->channels.insert("alipay");
  configure();
}

api_server::~api_server() {
  stop();
}

void api_server::configure() {
  auto& cfg = ctx_->cfg;
  auto threads = cfg.http_threads;
  svr_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr_.set_tcp_nodelay(true);
  svr_.set_payload_max_length(cfg.request_body_max_bytes);
  svr_.set_keep_alive_max_count(100'000);
  svr_.set_keep_alive_timeout(cfg.keep_alive_timeout_s);
  svr_.set_read_timeout(10, 0);
  svr_.set_write_timeout(10, 0);
  // cpp-httplib listens with a backlog of 5, which drops connections under
  // a burst of clients; remember the socket and widen it after bind().
  svr_.set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_socket_ = sock;
  });
  // API.md "Several nodes": the node that served the request (a forwarded
  // answer carries the owner's).
  svr_.set_pre_routing_handler([node = cfg.node_id](const httplib::Request& req,
                                                    httplib::Response& res) {
    res.set_header(node_header, node);
    return pre_route(req, res);
  });
  svr_.set_logger([ctx = ctx_.get()](const httplib::Request& req, const httplib::Response& res) {
    auto took = std::chrono::steady_clock::now() - request_started;
    static const std::string unmatched = "unmatched";
    ctx->metrics.observe(request_route ? *request_route : unmatched, req.method, res.status, took);
  });
  svr_.set_error_handler(httplib::Server::HandlerWithResponse{on_error});
  svr_.set_exception_handler([](const httplib::Request& req, httplib::Response& res,
                                std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep)
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    logging::error("http.exception", {{"path", req.path}, {"error", what}});
    send(res, {500, "api_error", "internal_error", "An internal error occurred.", {}, {}});
  });
  // Several nodes: a request about an order of another node's shard is
  // forwarded to its owner (http/forward.cpp).
  router routes{svr_, [ctx = ctx_.get()](const httplib::Request& req, httplib::Response& res) {
    return forward_if_elsewhere(*ctx, req, res, order_in_path(req.path));
  }};
  add_order_routes(routes, *ctx_);
  add_admin_routes(routes, *ctx_);
  add_ops_routes(routes, *ctx_);
  add_payment_routes(routes, *ctx_);
  add_metrics_route(routes, *ctx_);
  add_refund_routes(routes, *ctx_);
  add_stream_route(routes, *ctx_);
  add_console_route(routes, *ctx_);
  add_cluster_routes(routes, *ctx_);
  routes.refuse_other_methods();
}

bool api_server::bind(std::string& error) {
  auto host = ctx_->cfg.listen_host();
  auto port = ctx_->cfg.listen_port();
  if (port == 0)
    port_ = svr_.bind_to_any_port(host);
  else
    port_ = svr_.bind_to_port(host, port) ? port : -1;
  if (port_ <= 0) {
    error = "cannot listen on " + ctx_->cfg.listen;
    return false;
  }
  ::listen(listen_socket_, listen_backlog); // Linux updates the backlog in place
  return true;
}

void api_server::start() {
  thread_ = std::thread([this] { svr_.listen_after_bind(); });
  logging::info("http.listening", {{"host", ctx_->cfg.listen_host()}, {"port", port_}});
}

void api_server::stop() {
  if (!thread_.joinable())
    return;
  if (auto h = ctx_->handles(); h && h->stream)
    h->stream->close(); // stream clients hold HTTP threads: let them go
  svr_.stop();
  thread_.join();
}

} // namespace payengine::http
