// The front door on Boost.Beast (see server.hpp). Only this file knows the
// server library: it turns bytes into an http::request, runs the router on
// the worker pool, and turns the http::response back into bytes.
//
// One connection is one `session` on its own strand. A session is always
// in exactly one of: waiting for the first byte of a request (idle deadline:
// keep_alive_timeout_s), reading one request (one total deadline for its
// headers and body: request_read_timeout_ms, so a client dripping a byte at
// a time is cut), waiting for its handler (no socket operation pending),
// writing the answer, or streaming (Server-Sent Events, on a thread of
// their own).
#include "http/server.hpp"

#include "actors/stream_hub.hpp"
#include "config/logging.hpp"
#include "http/admission.hpp"
#include "http/forward.hpp"
#include "http/routes.hpp"
#include "http/worker_pool.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/resource.h>

#include <future>
#include <list>

namespace payengine::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int listen_backlog = 4096;
constexpr uint32_t header_bytes_max = 16 * 1024;
constexpr auto write_deadline = std::chrono::seconds{10};
constexpr auto stop_grace = std::chrono::seconds{5};
constexpr auto loop_probe_every = std::chrono::milliseconds{5};

bool is_json_content_type(const std::string& value) {
  auto semi = value.find(';');
  auto media = value.substr(0, semi);
  while (!media.empty() && media.back() == ' ')
    media.pop_back();
  for (auto& c : media)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json";
}

/// What no route should see: a body that is not JSON (the channels'
/// callbacks have their own formats).
std::optional<api_error> refused_before_routing(const request& req) {
  bool has_body = !req.body.empty() || req.has_header("Transfer-Encoding");
  bool channel_format = req.path.rfind("/v1/callbacks/", 0) == 0;
  if (has_body && !channel_format && !is_json_content_type(req.get_header_value("Content-Type")))
    return api_error{415, "invalid_request_error", "unsupported_media_type",
                     "Send the body as 'Content-Type: application/json'.", {}, {}};
  return std::nullopt;
}

/// Operator routes are never shed: health checks, metrics and the admin
/// API must answer when the engine is busiest.
bool never_shed(const request& req) {
  return req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics"
         || req.path.rfind("/admin/", 0) == 0 || req.path == "/console";
}

/// The request's share of the admission limit (admission_class): the
/// channels' news that money moved first, new orders and wallets last.
admission_class admission_class_of(const request& req) {
  if (req.path.rfind("/v1/callbacks/", 0) == 0)
    return admission_class::critical;
  if (req.method == "POST" && (req.path == "/v1/orders" || req.path == "/v1/wallets"))
    return admission_class::new_work;
  return admission_class::normal;
}

/// Long polls wait on purpose: they have their own cap (long_polls_max)
/// and stay out of the latency-driven limit.
bool is_long_poll(const request& req) {
  return req.method == "GET" && req.has_param("wait_for_change");
}

/// The method as a metric label: a client cannot grow the label set.
const std::string& method_label(const std::string& method) {
  static const std::string known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  static const std::string other = "OTHER";
  for (const auto& m : known)
    if (m == method)
      return m;
  return other;
}

std::string error_body(const api_error& e) {
  return to_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// A connection beyond http_connections_max gets this and is closed.
const std::string& refusal_bytes() {
  static const std::string bytes = [] {
    auto body = error_body(unavailable_nothing_changed(
      "too_many_connections", "The server has too many open connections; retry later."));
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
           "Retry-After: 1\r\nPayengine-Nothing-Changed: true\r\nConnection: close\r\n"
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return bytes;
}

/// Room for http_connections_max sockets: raise the soft file limit as far
/// as the hard one allows.
void raise_file_limit(uint32_t connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return;
  rlim_t want = static_cast<rlim_t>(connections) + 1024;
  if (lim.rlim_max != RLIM_INFINITY)
    want = std::min(want, lim.rlim_max);
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < want) {
    lim.rlim_cur = want;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

} // namespace

class session;

/// Everything the sessions share: the event loop, the router, the pool.
/// Shared: an asynchronous handler's reply may come after the server was
/// stopped; it then finds the front (and the context) still in place.
class api_server::front : public std::enable_shared_from_this<api_server::front> {
public:
  explicit front(std::shared_ptr<server_context> ctx)
    : owner_(std::move(ctx)),
      ctx_(*owner_),
      routes_(
        [c = &ctx_](const request& req, response& res) {
          // Several nodes: a request about another node's order goes there.
          return forward_if_elsewhere(*c, req, res, order_in_path(req.path));
        },
        [c = &ctx_](const request& req) { return served_here(*c, req, order_in_path(req.path)); }),
      acceptor_(ioc_),
      pool_(ctx_.cfg.http_threads),
      limiter_(limits(ctx_.cfg)) {
    publish(limiter_.snapshot());
  }

  router& routes() { return routes_; }
  server_context& ctx() { return ctx_; }
  asio::io_context& ioc() { return ioc_; }

  bool bind(const std::string& host, int port, std::string& error, int& bound);
  void start();
  void stop();

  /// A whole request was read: admit it, run it, answer through `s`.
  void handle(std::shared_ptr<session> s, std::shared_ptr<request> req);

  /// Streams run on threads of their own (bounded by stream_clients_max);
  /// stop() joins them.
  void run_stream(std::function<void()> body);

private:
  void accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  /// Admission: true if the request may run now; `ticket` is set when it
  /// counts against the limit (operator routes and long polls do not).
  bool admit(const request& req, const router::route& route, std::optional<admission_ticket>& ticket);
  void finish(const std::optional<admission_ticket>& ticket, clock_type::duration took, int status);
  /// The limiter's figures into ctx_.front (metrics, /admin/actors, console).
  void publish(const adaptive_limiter::figures& f);
  static admission_config limits(const engine_config& cfg) {
    admission_config a;
    a.min_limit = cfg.http_inflight_min;
    a.max_limit = cfg.http_inflight_max;
    a.initial_limit = cfg.http_inflight_max; // shed only once latency says so
    a.latency_target_s = cfg.http_latency_target_ms / 1000.0;
    return a;
  }
  /// Answers `res` on `s`: the admission slot back, the metrics, the write.
  void complete(const std::shared_ptr<session>& s, const std::shared_ptr<request>& req,
                const std::shared_ptr<response>& res, const std::string& label,
                const std::optional<admission_ticket>& ticket, clock_type::time_point started);

  std::shared_ptr<server_context> owner_;
  server_context& ctx_;
  router routes_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> io_threads_;
  worker_pool pool_;
  adaptive_limiter limiter_;
  struct stream_thread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> ended;
  };
  std::mutex streams_mtx_;
  std::list<stream_thread> streams_;
  std::atomic<bool> stopping_{false};
  asio::steady_timer accept_pause_{ioc_};
  /// Measures how late the event loop runs (every loop_probe_every): when
  /// both I/O threads are busy, requests wait in socket buffers where no
  /// handler latency can see them. The lag is added to each admitted
  /// request's latency, so a saturated CPU shrinks the admission limit.
  /// It runs only while there is traffic: a tick that finds no request
  /// since the last one and none open stops it (an idle engine's loop
  /// sleeps), and the next request starts it again.
  asio::strand<asio::io_context::executor_type> probe_strand_{asio::make_strand(ioc_)};
  asio::steady_timer loop_probe_{probe_strand_};
  std::atomic<bool> probing_{false};
  std::atomic<uint64_t> requests_seen_{0};
  uint64_t seen_at_tick_ = 0; // on probe_strand_
  void probe_loop(clock_type::time_point due);
  /// A request arrived: the probe runs (started if it slept).
  void wake_probe();
  std::atomic<int64_t> open_requests_{0}; // read, not yet written
  friend class session;
};

/// One connection (see the top of the file for its states).
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, api_server::front& srv) : stream_(std::move(socket)), srv_(srv) {
    srv_.ctx().front.connections++;
  }
  ~session() { srv_.ctx().front.connections--; }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->await_request(); });
  }

  /// Answers the request (on the session's strand).
  void reply(std::shared_ptr<response> res, bool head) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), res, head] {
      if (res->pump)
        self->open_stream(res);
      else
        self->write(res, head);
    });
  }

private:
  void await_request() {
    parser_.emplace();
    parser_->body_limit(srv_.ctx().cfg.request_body_max_bytes);
    parser_->header_limit(header_bytes_max);
    if (buffer_.size() > 0) // the next pipelined request is already here
      return read_header();
    stream_.expires_after(std::chrono::seconds{srv_.ctx().cfg.keep_alive_timeout_s});
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec,
                                                                                std::size_t n) {
      if (ec)
        return self->read_failed(ec, false);
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    stream_.expires_after(std::chrono::milliseconds{srv_.ctx().cfg.request_read_timeout_ms});
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec)
                                 return self->read_failed(ec, true);
                               self->on_header();
                             });
  }

  void on_header() {
    auto& req = parser_->get();
    if (!parser_->is_done() && beast::iequals(req[bhttp::field::expect], "100-continue")) {
      // The client waits for a go-ahead before it sends the body.
      static const std::string go_ahead = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(go_ahead),
                              [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                if (ec)
                                  return self->close();
                                self->read_body();
                              });
    }
    read_body();
  }

  /// The body shares the deadline the headers started.
  void read_body() {
    if (parser_->is_done())
      return on_request();
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec)
                          return self->read_failed(ec, true);
                        self->on_request();
                      });
  }

  void read_failed(beast::error_code ec, bool started) {
    if (ec == beast::error::timeout) {
      srv_.ctx().front.read_timeouts++;
      return close(); // idle, or too slow to send one request
    }
    if (!started || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message
        || ec == asio::error::operation_aborted || ec == asio::error::connection_reset
        || ec == asio::error::eof)
      return close(); // the client went away (mid-request: nobody to answer)
    srv_.ctx().front.malformed++;
    api_error e{400, "invalid_request_error", "malformed_http",
                "Malformed HTTP request.", {}, {}};
    if (ec == bhttp::error::body_limit)
      e = {413, "invalid_request_error", "body_too_large",
           "The body is over " + std::to_string(srv_.ctx().cfg.request_body_max_bytes) + " bytes.", {}, {}};
    else if (ec == bhttp::error::header_limit)
      e = {431, "invalid_request_error", "headers_too_large", "The request headers are over 16 KiB.", {}, {}};
    auto res = std::make_shared<response>();
    send(*res, e);
    res->set_header(node_header, srv_.ctx().cfg.node_id);
    keep_alive_ = false; // the rest of the stream cannot be trusted
    srv_.open_requests_++;
    write(res, false);
  }

  void on_request() {
    auto msg = parser_->release();
    auto req = std::make_shared<request>();
    req->method = std::string{msg.method_string()};
    req->target = std::string{msg.target()};
    for (const auto& field : msg)
      req->headers.emplace(std::string{field.name_string()}, std::string{field.value()});
    req->body = std::move(msg.body());
    split_target(*req);
    keep_alive_ = msg.keep_alive();
    srv_.handle(shared_from_this(), std::move(req));
  }

  void write(std::shared_ptr<response> res, bool head) {
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
    out->version(11);
    out->result(static_cast<unsigned>(res->status));
    for (const auto& [name, value] : res->headers)
      out->insert(name, value);
    out->keep_alive(keep_alive_);
    if (head) {
      out->content_length(res->body.size());
    } else {
      out->body() = std::move(res->body);
      out->prepare_payload();
    }
    stream_.expires_after(write_deadline);
    bhttp::async_write(stream_, *out, [self = shared_from_this(), out](beast::error_code ec, std::size_t) {
      self->srv_.open_requests_--;
      if (ec || !out->keep_alive())
        return self->close();
      self->await_request();
    });
  }

  /// A streamed answer: chunked, then the pump's pieces until it ends.
  /// The connection closes afterwards.
  void open_stream(std::shared_ptr<response> res) {
    std::string head = "HTTP/1.1 " + std::to_string(res->status) + " OK\r\n";
    for (const auto& [name, value] : res->headers)
      head += name + ": " + value + "\r\n";
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    auto self = shared_from_this();
    srv_.open_requests_--;
    srv_.run_stream([self, res, head = std::move(head)] {
      bool open = self->send_blocking(head);
      bool ended = false;
      stream_sink sink;
      sink.write = [&](const std::string& piece) {
        if (piece.empty())
          return open;
        std::ostringstream size;
        size << std::hex << piece.size();
        open = open && self->send_blocking(size.str() + "\r\n" + piece + "\r\n");
        return open;
      };
      sink.done = [&] { ended = true; };
      try {
        while (open && !ended && res->pump(sink)) {
        }
      } catch (const std::exception& e) {
        logging::error("http.stream_failed", {{"error", e.what()}});
      }
      if (open)
        self->send_blocking("0\r\n\r\n");
      if (res->finished)
        res->finished();
      asio::post(self->stream_.get_executor(), [self] { self->close(); });
    });
  }

  /// From a stream's thread: writes on the strand and waits for it.
  bool send_blocking(std::string bytes) {
    auto done = std::make_shared<std::promise<bool>>();
    auto result = done->get_future();
    auto data = std::make_shared<std::string>(std::move(bytes));
    asio::post(stream_.get_executor(), [self = shared_from_this(), data, done] {
      self->stream_.expires_after(write_deadline);
      asio::async_write(self->stream_, asio::buffer(*data),
                       [data, done](beast::error_code ec, std::size_t) { done->set_value(!ec); });
    });
    if (result.wait_for(write_deadline + std::chrono::seconds{1}) != std::future_status::ready)
      return false;
    try {
      return result.get();
    } catch (const std::future_error&) { // the event loop stopped
      return false;
    }
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  api_server::front& srv_;
  bool keep_alive_ = true;
};

bool api_server::front::bind(const std::string& host, int port, std::string& error, int& bound) {
  beast::error_code ec;
  tcp::resolver resolver{ioc_};
  auto found = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || found.empty()) {
    error = "cannot listen on " + host + ": " + (ec ? ec.message() : "no address");
    return false;
  }
  tcp::endpoint at = found.begin()->endpoint();
  acceptor_.open(at.protocol(), ec);
  if (!ec)
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor_.bind(at, ec);
  if (!ec)
    acceptor_.listen(listen_backlog, ec);
  if (ec) {
    error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
    return false;
  }
  bound = acceptor_.local_endpoint().port();
  return true;
}

void api_server::front::probe_loop(clock_type::time_point due) {
  loop_probe_.expires_at(due);
  loop_probe_.async_wait([this, due](beast::error_code ec) {
    if (ec || stopping_)
      return;
    auto now = clock_type::now();
    auto lag = std::chrono::duration_cast<std::chrono::microseconds>(now - due).count();
    // Rises at once, decays over a few probes: one quiet tick does not hide
    // a saturated loop.
    auto old = ctx_.front.loop_lag_us.load();
    ctx_.front.loop_lag_us = lag >= old ? lag : (old * 3 + lag) / 4;
    auto seen = requests_seen_.load();
    if (seen == seen_at_tick_ && open_requests_.load() == 0) {
      // Idle: sleep until the next request (wake_probe). One that came
      // in between either saw probing_ false and starts it, or is seen here.
      ctx_.front.loop_lag_us = 0;
      probing_.store(false);
      if (requests_seen_.load() == seen || probing_.exchange(true))
        return;
    }
    seen_at_tick_ = seen;
    probe_loop(now + loop_probe_every);
  });
}

void api_server::front::wake_probe() {
  requests_seen_++;
  if (probing_.exchange(true))
    return;
  asio::post(probe_strand_, [this] {
    if (!stopping_)
      probe_loop(clock_type::now() + loop_probe_every);
  });
}

void api_server::front::start() {
  raise_file_limit(ctx_.cfg.http_connections_max);
  accept();
  probing_ = true; // no I/O thread runs yet
  probe_loop(clock_type::now() + loop_probe_every);
  for (uint32_t i = 0; i < ctx_.cfg.http_io_threads; ++i)
    io_threads_.emplace_back([this] { ioc_.run(); });
}

void api_server::front::accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void api_server::front::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopping_ || ec == asio::error::operation_aborted)
    return;
  if (ec) {
    // Out of file descriptors, or the like: pause rather than spin.
    logging::warn("http.accept_failed", {{"error", ec.message()}});
    accept_pause_.expires_after(std::chrono::milliseconds{50});
    accept_pause_.async_wait([this](beast::error_code) { accept(); });
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  if (ctx_.front.connections >= static_cast<int64_t>(ctx_.cfg.http_connections_max)) {
    ctx_.front.connections_refused++;
    ctx_.metrics.shed("connections");
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(refusal_bytes()), ec); // best effort: it fits a socket buffer
    socket.shutdown(tcp::socket::shutdown_both, ec);
  } else {
    std::make_shared<session>(std::move(socket), *this)->start();
  }
  accept();
}

bool api_server::front::admit(const request& req, const router::route& route,
                              std::optional<admission_ticket>& ticket) {
  if (never_shed(req) || is_long_poll(req))
    return true;
  ticket = limiter_.try_acquire(admission_class_of(req), route.index);
  ctx_.front.inflight = limiter_.inflight();
  return ticket.has_value();
}

void api_server::front::finish(const std::optional<admission_ticket>& ticket,
                               clock_type::duration took, int status) {
  if (!ticket)
    return;
  // A 5xx from the engine (a timeout, a full queue) is a drop: the limit
  // backs off even if the answer came quickly.
  auto lag = std::chrono::microseconds{ctx_.front.loop_lag_us.load()};
  limiter_.release(*ticket, took + lag, status >= 500);
  publish(limiter_.snapshot());
}

void api_server::front::publish(const adaptive_limiter::figures& f) {
  ctx_.front.inflight = f.inflight;
  ctx_.front.limit = f.limit;
  ctx_.front.room_new_work = f.room_new_work;
  ctx_.front.room_normal = f.room_normal;
}

void api_server::front::handle(std::shared_ptr<session> s, std::shared_ptr<request> req) {
  auto started = clock_type::now();
  auto res = std::make_shared<response>();
  open_requests_++;
  wake_probe();
  if (auto refusal = refused_before_routing(*req)) {
    send(*res, *refusal);
    return complete(s, req, res, router::unmatched(), std::nullopt, started);
  }
  const auto* route = routes_.match(*req, *res);
  if (!route) // 404, 405
    return complete(s, req, res, router::unmatched(), std::nullopt, started);
  std::optional<admission_ticket> ticket;
  if (!admit(*req, *route, ticket)) {
    ctx_.front.shed_overload++;
    ctx_.metrics.shed("overload");
    send(*res, unavailable_nothing_changed("overloaded", "The engine is at capacity; nothing was changed. Retry after a moment."));
    static const std::string shed = "shed";
    return complete(s, req, res, shed, std::nullopt, started);
  }
  if (routes_.may_run_async(*route, *req)) {
    // On the event loop: the handler only sends messages; whoever
    // completes the response (a CAF thread) hands it back to the session.
    // The reply holds the front: one that comes after stop() (a long poll
    // ended by the shutdown) still finds the event loop's objects in place.
    struct pending { // members end in reverse order: the session first
      std::shared_ptr<front> owner;
      std::shared_ptr<session> s;
      std::shared_ptr<request> req;
      std::shared_ptr<response> res;
      std::atomic<bool> answered{false};
    };
    auto p = std::make_shared<pending>();
    p->owner = shared_from_this();
    p->s = s;
    p->req = req;
    p->res = res;
    reply_fn done = [p, route, ticket, started] {
      if (!p->answered.exchange(true))
        p->owner->complete(p->s, p->req, p->res, route->label, ticket, started);
    };
    bool taken = false;
    try {
      taken = route->handlers.fast(*req, res, done);
    } catch (const std::exception& e) {
      logging::error("http.exception", {{"path", req->path}, {"error", e.what()}});
      *res = response{};
      send(*res, {500, "api_error", "internal_error", "An internal error occurred.", {}, {}});
      done();
      return;
    }
    if (taken)
      return;
  }
  ctx_.front.queued++;
  pool_.post([this, s, req, res, route, ticket, started] {
    ctx_.front.queued--;
    try {
      routes_.run(*route, *req, *res);
    } catch (const std::exception& e) {
      logging::error("http.exception", {{"path", req->path}, {"error", e.what()}});
      *res = response{};
      send(*res, {500, "api_error", "internal_error", "An internal error occurred.", {}, {}});
    }
    complete(s, req, res, route->label, ticket, started);
  });
}

void api_server::front::complete(const std::shared_ptr<session>& s, const std::shared_ptr<request>& req,
                                 const std::shared_ptr<response>& res, const std::string& label,
                                 const std::optional<admission_ticket>& ticket,
                                 clock_type::time_point started) {
  if (res->status < 0)
    send(*res, {500, "api_error", "internal_error", "The route gave no answer.", {}, {}});
  // API.md "Several nodes": the node that served the request (a forwarded
  // answer carries the owner's).
  if (!res->headers.count(node_header))
    res->set_header(node_header, ctx_.cfg.node_id);
  auto took = clock_type::now() - started;
  finish(ticket, took, res->status);
  ctx_.metrics.observe(label, method_label(req->method), res->status, took);
  s->reply(res, req->method == "HEAD");
}

void api_server::front::run_stream(std::function<void()> body) {
  std::lock_guard<std::mutex> guard{streams_mtx_};
  for (auto it = streams_.begin(); it != streams_.end();) { // reap the streams that ended
    if (*it->ended) {
      it->thread.join();
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
  auto ended = std::make_shared<std::atomic<bool>>(false);
  streams_.push_back({std::thread{[body = std::move(body), ended] {
                        body();
                        *ended = true;
                      }},
                      ended});
}

void api_server::front::stop() {
  if (stopping_.exchange(true))
    return;
  asio::post(ioc_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_pause_.cancel();
  });
  asio::post(probe_strand_, [this] { loop_probe_.cancel(); });
  if (auto h = ctx_.handles(); h && h->stream)
    h->stream->close(); // stream pumps return
  {
    std::lock_guard<std::mutex> guard{streams_mtx_};
    for (auto& s : streams_)
      if (s.thread.joinable())
        s.thread.join();
  }
  pool_.join(); // admitted requests finish and post their answers
  auto deadline = clock_type::now() + stop_grace;
  while (open_requests_ > 0 && clock_type::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  ioc_.stop();
  for (auto& t : io_threads_)
    if (t.joinable())
      t.join();
}

api_server::api_server(caf::actor_system& sys, std::shared_ptr<engine_directory> directory,
                       engine_config cfg, callback_keys keys,
                       std::shared_ptr<shard_map> cluster)
  : ctx_(std::make_shared<server_context>(sys, std::move(directory), std::move(cfg))) {
  ctx_->alipay_key = std::move(keys.alipay);
  ctx_->wechat = std::move(keys.wechat);
  ctx_->cluster = std::move(cluster);
  // The channels an order may name (API.md): each configured one, and
  // "auto" (routing between them) when there is one at least.
  for (const auto& [channel, gateway] : ctx_->handles()->gateways)
    if ((channel == "alipay" && ctx_->alipay_key) || (channel == "wechat" && ctx_->wechat))
      ctx_->channels.insert(channel);
  if (!ctx_->channels.empty())
    ctx_->channels.insert("auto");
  front_ = std::make_shared<front>(ctx_);
  auto& routes = front_->routes();
  add_order_routes(routes, *ctx_);
  add_admin_routes(routes, *ctx_);
  add_ops_routes(routes, *ctx_);
  add_payment_routes(routes, *ctx_);
  add_metrics_route(routes, *ctx_);
  add_refund_routes(routes, *ctx_);
  add_wallet_routes(routes, *ctx_);
  add_stream_route(routes, *ctx_);
  add_console_route(routes, *ctx_);
  add_cluster_routes(routes, *ctx_);
}

api_server::~api_server() {
  stop();
}

bool api_server::bind(std::string& error) {
  return front_->bind(ctx_->cfg.listen_host(), ctx_->cfg.listen_port(), error, port_);
}

void api_server::start() {
  front_->start();
  logging::info("http.listening", {{"host", ctx_->cfg.listen_host()}, {"port", port_},
                                   {"io_threads", ctx_->cfg.http_io_threads},
                                   {"connections_max", ctx_->cfg.http_connections_max}});
}

void api_server::stop() {
  if (front_)
    front_->stop();
  // After the front (its admitted requests had their grace), and waiting:
  // no ask's answer runs once the server is gone.
  ctx_->askers->stop(stop_grace);
}

} // namespace payengine::http
