// Load generator of scripts/bench_front.sh: what the HTTP front door does
// when it is abused and when it is overloaded.
//
//   pe_bench_front siege --port P --idle N --slow M --probes K
//     Holds N connections that send nothing and M that drip a request
//     header one byte a second (each re-opened whenever the server closes
//     it, so that N and M stay open whatever the server's timeouts), then
//     times K GET /healthz on fresh connections and K on one keep-alive
//     connection.
//
//   pe_bench_front open-loop --port P --rate R --seconds S --connections C --key sk_...
//     POST /v1/orders at a fixed rate R, whatever the answers' latency, on a
//     pool of up to C keep-alive connections.
//
// Each prints one machine-readable line of key=value pairs.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using error_code = boost::system::error_code;

// ---------------------------------------------------------------- helpers

/// 11,000 held connections need more descriptors than the usual soft 1024.
void raise_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

struct percentiles {
  double p50 = 0, p99 = 0, max = 0;
};

/// Nearest-rank percentiles; zeros when there is no sample.
percentiles summarize(std::vector<double> v) {
  percentiles p;
  if (v.empty())
    return p;
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) {
    auto i = static_cast<size_t>(q * static_cast<double>(v.size()) + 0.999999);
    return v[std::min(v.size(), std::max<size_t>(i, 1)) - 1];
  };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  p.max = v.back();
  return p;
}

std::string fields(const std::string& prefix, const percentiles& p) {
  char line[160];
  std::snprintf(line, sizeof line, "%s_p50_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f", prefix.c_str(), p.p50,
                prefix.c_str(), p.p99, prefix.c_str(), p.max);
  return line;
}

tcp::endpoint loopback(int port) {
  return {net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)};
}

// ---------------------------------------------------------------- siege

/// What the siege holds, updated on its thread and read by the probing one.
struct siege_counters {
  std::atomic<int> idle_open{0};
  std::atomic<int> slow_open{0};
  std::atomic<uint64_t> idle_closed{0};    // closed by the server (idle timeout)
  std::atomic<uint64_t> slow_closed{0};    // closed by the server (read deadline)
  std::atomic<uint64_t> refused{0};        // answered 503 (connection cap)
  std::atomic<uint64_t> connect_failed{0}; // refused by the kernel, or the like
};

/// Caps the connects in progress. Opening 11,000 connections at once would
/// overflow the kernel's SYN and accept queues (4096 here) and the probes
/// would then time the tool's own flood (1 s SYN retransmits), not the server.
class connect_gate {
public:
  explicit connect_gate(size_t max) : max_(max) {}

  void enter(std::function<void()> connect) {
    if (busy_ < max_) {
      ++busy_;
      connect();
    } else {
      waiting_.push_back(std::move(connect));
    }
  }

  void leave() {
    if (waiting_.empty()) {
      --busy_;
      return;
    }
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    next();
  }

private:
  size_t max_;
  size_t busy_ = 0;
  std::deque<std::function<void()>> waiting_;
};

/// One connection the siege keeps open: idle (sends nothing) or slow (drips
/// a header that never ends, one byte a second). Whenever the server closes
/// it, it counts that and opens again.
class held_connection : public std::enable_shared_from_this<held_connection> {
public:
  held_connection(net::io_context& ioc, tcp::endpoint at, bool slow, siege_counters& counters,
                  connect_gate& gate)
    : ioc_(ioc), at_(at), slow_(slow), counters_(counters), gate_(gate), socket_(ioc), timer_(ioc) {}

  void open() {
    gate_.enter([self = shared_from_this()] { self->connect(); });
  }

private:
  void connect() {
    socket_ = tcp::socket{ioc_};
    socket_.async_connect(at_, [self = shared_from_this()](error_code ec) {
      self->gate_.leave();
      self->on_connect(ec);
    });
  }

  void on_connect(error_code ec) {
    if (ec) { // try again a little later rather than spin
      counters_.connect_failed++;
      timer_.expires_after(std::chrono::milliseconds{100});
      timer_.async_wait([self = shared_from_this()](error_code e) {
        if (!e)
          self->open();
      });
      return;
    }
    ++generation_;
    open_gauge()++;
    sent_ = 0;
    watch();
    if (slow_)
      drip();
  }

  /// The server either closes (EOF/reset) or answers (the cap's 503):
  /// either way this connection is over.
  void watch() {
    socket_.async_read_some(net::buffer(in_), [self = shared_from_this(), gen = generation_](error_code ec,
                                                                                            size_t n) {
      bool refused = !ec && std::string_view(self->in_.data(), n).find(" 503 ") != std::string_view::npos;
      self->lost(gen, refused);
    });
  }

  /// One more byte of a header that never ends (no blank line ever comes).
  void drip() {
    static const std::string head = "POST /v1/orders HTTP/1.1\r\nHost: siege\r\nX-Slow: ";
    char byte = sent_ < head.size() ? head[sent_] : 'a';
    ++sent_;
    out_ = byte;
    net::async_write(socket_, net::buffer(&out_, 1), [self = shared_from_this(), gen = generation_](error_code ec,
                                                                                                  size_t) {
      if (ec)
        return self->lost(gen, false);
      self->timer_.expires_after(std::chrono::seconds{1});
      self->timer_.async_wait([self, gen](error_code e) {
        if (!e && gen == self->generation_)
          self->drip();
      });
    });
  }

  void lost(uint64_t gen, bool refused) {
    if (gen != generation_) // a stale handler of an earlier connection
      return;
    ++generation_;
    open_gauge()--;
    (refused ? counters_.refused : slow_ ? counters_.slow_closed : counters_.idle_closed)++;
    error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
    open();
  }

  std::atomic<int>& open_gauge() { return slow_ ? counters_.slow_open : counters_.idle_open; }

  net::io_context& ioc_;
  tcp::endpoint at_;
  bool slow_;
  siege_counters& counters_;
  connect_gate& gate_;
  tcp::socket socket_;
  net::steady_timer timer_;
  uint64_t generation_ = 0; // which connection the pending handlers belong to
  size_t sent_ = 0;
  char out_ = 0;
  std::array<char, 512> in_{};
};

/// Times GET /healthz, each run to completion on a private io_context (so
/// that the siege's own work does not sit between the answer and the clock).
class prober {
public:
  explicit prober(tcp::endpoint at) : at_(at), kept_(ioc_) {}

  /// connect + request + whole answer on a new connection; ms, or -1.
  double fresh() {
    beast::tcp_stream stream{ioc_};
    beast::flat_buffer buffer;
    auto started = clock_type::now();
    bool ok = false;
    stream.expires_after(std::chrono::seconds{10});
    stream.async_connect(at_, [&](error_code ec) {
      if (!ec)
        exchange(stream, buffer, false, ok);
    });
    run();
    return ok ? ms_since(started) : -1;
  }

  /// The same on the one keep-alive connection (opened on first use).
  double reused() {
    if (!kept_.socket().is_open()) {
      kept_.expires_after(std::chrono::seconds{10});
      kept_.async_connect(at_, [](error_code) {});
      run();
    }
    auto started = clock_type::now();
    bool ok = false;
    kept_.expires_after(std::chrono::seconds{10});
    exchange(kept_, kept_buffer_, true, ok);
    run();
    if (!ok)
      kept_.close();
    return ok ? ms_since(started) : -1;
  }

private:
  void exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, bool keep_alive, bool& ok) {
    auto req = std::make_shared<bhttp::request<bhttp::empty_body>>(bhttp::verb::get, "/healthz", 11);
    req->set(bhttp::field::host, "bench");
    req->keep_alive(keep_alive);
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    bhttp::async_write(stream, *req, [&, req, res](error_code ec, size_t) {
      if (ec)
        return;
      bhttp::async_read(stream, buffer, *res, [&ok, res](error_code e, size_t) {
        ok = !e && res->result_int() == 200;
      });
    });
  }

  void run() {
    ioc_.restart();
    ioc_.run();
  }

  tcp::endpoint at_;
  net::io_context ioc_;
  beast::tcp_stream kept_;
  beast::flat_buffer kept_buffer_;
};

struct siege_options {
  int port = 0;
  int idle = 10000;
  int slow = 1000;
  int probes = 100;
  int probe_interval_ms = 50;
  int open_wait_s = 60;
};

int run_siege(const siege_options& o) {
  net::io_context ioc;
  siege_counters counters;
  connect_gate gate{256};
  auto at = loopback(o.port);
  for (int i = 0; i < o.idle + o.slow; ++i)
    std::make_shared<held_connection>(ioc, at, i >= o.idle, counters, gate)->open();
  std::thread siege_thread{[&] { ioc.run(); }};

  auto wait_until = clock_type::now() + std::chrono::seconds{o.open_wait_s};
  while ((counters.idle_open < o.idle || counters.slow_open < o.slow) && clock_type::now() < wait_until)
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  int idle_at_start = counters.idle_open, slow_at_start = counters.slow_open;
  std::fprintf(stderr, "siege: %d idle and %d slow connections open; probing\n", idle_at_start, slow_at_start);

  // Probes are spread out (probe_interval_ms) so that they span the
  // server's timeouts and meet the waves of closes and re-opens, rather
  // than a lucky quiet tenth of a second.
  prober probe{at};
  std::vector<double> fresh, kept;
  int failures = 0, idle_min = idle_at_start, slow_min = slow_at_start;
  for (int i = 0; i < o.probes; ++i) {
    for (auto [ms, into] : {std::pair{probe.fresh(), &fresh}, std::pair{probe.reused(), &kept}}) {
      if (ms < 0)
        failures++;
      else
        into->push_back(ms);
    }
    idle_min = std::min<int>(idle_min, counters.idle_open);
    slow_min = std::min<int>(slow_min, counters.slow_open);
    std::this_thread::sleep_for(std::chrono::milliseconds{o.probe_interval_ms});
  }
  ioc.stop();
  siege_thread.join();

  std::printf("siege idle=%d slow=%d idle_open=%d slow_open=%d idle_open_min=%d slow_open_min=%d "
              "idle_closed_by_server=%llu slow_closed_by_server=%llu refused_503=%llu connect_failed=%llu "
              "%s %s failures=%d\n",
              o.idle, o.slow, idle_at_start, slow_at_start, idle_min, slow_min,
              static_cast<unsigned long long>(counters.idle_closed.load()),
              static_cast<unsigned long long>(counters.slow_closed.load()),
              static_cast<unsigned long long>(counters.refused.load()),
              static_cast<unsigned long long>(counters.connect_failed.load()), fields("fresh", summarize(fresh)).c_str(),
              fields("keepalive", summarize(kept)).c_str(), failures);
  return 0;
}

// ---------------------------------------------------------------- open loop

struct open_loop_options {
  int port = 0;
  double rate = 100;
  double seconds = 10;
  size_t connections = 64;
  std::string key;
  std::string path = "/v1/orders";
};

constexpr auto answer_deadline = std::chrono::seconds{30};
/// Below the server's 5 s keep-alive timeout: a connection idle this long
/// is dropped by the tool before the server closes it under a request.
constexpr auto pool_idle_max = std::chrono::seconds{4};

/// What became of the requests; latencies in ms from their scheduled time.
struct open_loop_results {
  std::map<int, uint64_t> statuses;
  std::vector<double> admitted; // 201
  std::vector<double> refused;  // 503 and 429
  // The same from the moment the request was written: the server's part,
  // without the time the tool itself was late (send_lag).
  std::vector<double> admitted_service, refused_service;
  std::vector<double> send_lag; // scheduled -> written: is the tool keeping up?
  uint64_t timeouts = 0, errors = 0, client_backlog = 0, connections_opened = 0;
};

class open_loop;

/// One keep-alive connection of the pool; carries one request at a time.
class pooled_connection : public std::enable_shared_from_this<pooled_connection> {
public:
  pooled_connection(net::io_context& ioc, open_loop& owner) : stream_(ioc), owner_(owner) {}

  /// Sends the request scheduled at `at` (connecting first if need be).
  void send(clock_type::time_point at, std::string bytes);
  bool stale() const { return clock_type::now() - idle_since_ > pool_idle_max; }
  void close() { stream_.close(); }

private:
  void write();
  void on_answer(error_code ec);

  beast::tcp_stream stream_;
  open_loop& owner_;
  bool connected_ = false;
  clock_type::time_point at_, written_, idle_since_ = clock_type::now();
  std::string out_;
  beast::flat_buffer buffer_;
  bhttp::response<bhttp::string_body> res_;
};

/// Schedules requests at start + i/rate whatever the answers do (open loop:
/// a slow server does not slow the offered load, and latency counts from
/// the scheduled time, so time spent waiting for a connection is included).
class open_loop {
public:
  open_loop(net::io_context& ioc, open_loop_options o)
    : ioc_(ioc), o_(std::move(o)), total_(static_cast<uint64_t>(o_.rate * o_.seconds)), tick_(ioc) {
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "F%d-%lld-", static_cast<int>(::getpid()),
                  static_cast<long long>(std::time(nullptr)));
    prefix_ = prefix;
  }

  void start() {
    start_ = clock_type::now();
    on_tick();
  }

  open_loop_results& results() { return results_; }
  const open_loop_options& options() const { return o_; }

  /// A connection finished its request; `reusable` if it may carry another.
  void on_done(std::shared_ptr<pooled_connection> c, bool reusable) {
    --in_flight_;
    if (!reusable) {
      --open_;
      c.reset();
    }
    if (!backlog_.empty()) { // a request waited for a free connection
      auto at = backlog_.front();
      backlog_.pop_front();
      dispatch_on(c ? c : new_connection(), at);
    } else if (c) {
      idle_.push_back(std::move(c));
    }
    finish_if_done();
  }

private:
  void on_tick() {
    double elapsed = std::chrono::duration<double>(clock_type::now() - start_).count();
    auto due = std::min(total_, static_cast<uint64_t>(elapsed * o_.rate));
    for (; scheduled_ < due; ++scheduled_)
      dispatch(start_ + std::chrono::duration_cast<clock_type::duration>(
                          std::chrono::duration<double>(static_cast<double>(scheduled_) / o_.rate)));
    if (++ticks_ % 100 == 0)
      drop_stale();
    if (scheduled_ < total_) {
      tick_.expires_after(std::chrono::milliseconds{1});
      tick_.async_wait([this](error_code) { on_tick(); });
    } else {
      finish_if_done();
    }
  }

  void dispatch(clock_type::time_point at) {
    std::shared_ptr<pooled_connection> c;
    while (!idle_.empty() && !c) { // most recently used first: fewest connections stay warm
      c = std::move(idle_.back());
      idle_.pop_back();
      if (c->stale()) {
        c->close();
        c.reset();
        --open_;
      }
    }
    if (!c && open_ < o_.connections)
      c = new_connection();
    if (!c) { // all C busy: the tool, not the server, is the bottleneck
      results_.client_backlog++;
      backlog_.push_back(at);
      return;
    }
    dispatch_on(c, at);
  }

  void dispatch_on(const std::shared_ptr<pooled_connection>& c, clock_type::time_point at) {
    ++in_flight_;
    c->send(at, request_bytes(++sequence_));
  }

  std::shared_ptr<pooled_connection> new_connection() {
    ++open_;
    results_.connections_opened++;
    return std::make_shared<pooled_connection>(ioc_, *this);
  }

  /// The body create_order.lua sends, with a merchant_order_no of its own.
  std::string request_bytes(uint64_t n) const {
    std::string body = "{\"merchant_order_no\":\"" + prefix_ + std::to_string(n)
                       + "\",\"amount\":8888,\"currency\":\"CNY\",\"subject\":\"bench\",\"channel\":\"alipay\"}";
    return "POST " + o_.path + " HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + o_.key
           + "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"
           + body;
  }

  /// Idle connections the most-recent-first order never reaches.
  void drop_stale() {
    auto before = idle_.size();
    idle_.erase(std::remove_if(idle_.begin(), idle_.end(),
                               [](const auto& c) {
                                 if (!c->stale())
                                   return false;
                                 c->close();
                                 return true;
                               }),
                idle_.end());
    open_ -= before - idle_.size();
  }

  void finish_if_done() {
    if (scheduled_ < total_ || in_flight_ > 0 || !backlog_.empty())
      return;
    for (auto& c : idle_)
      c->close();
    idle_.clear();
    ioc_.stop();
  }

  net::io_context& ioc_;
  open_loop_options o_;
  uint64_t total_;
  std::string prefix_;
  net::steady_timer tick_;
  clock_type::time_point start_;
  uint64_t scheduled_ = 0, sequence_ = 0, ticks_ = 0;
  size_t open_ = 0, in_flight_ = 0;
  std::vector<std::shared_ptr<pooled_connection>> idle_;
  std::deque<clock_type::time_point> backlog_;
  open_loop_results results_;
};

void pooled_connection::send(clock_type::time_point at, std::string bytes) {
  at_ = at;
  out_ = std::move(bytes);
  // No answer within 30 s of the scheduled time is a timeout.
  auto left = answer_deadline - (clock_type::now() - at);
  stream_.expires_after(std::max<clock_type::duration>(left, std::chrono::milliseconds{1}));
  if (connected_)
    return write();
  stream_.async_connect(loopback(owner_.options().port), [self = shared_from_this()](error_code ec) {
    if (ec)
      return self->on_answer(ec);
    self->connected_ = true;
    self->stream_.socket().set_option(tcp::no_delay(true), ec);
    self->write();
  });
}

void pooled_connection::write() {
  owner_.results().send_lag.push_back(ms_since(at_));
  written_ = clock_type::now();
  net::async_write(stream_, net::buffer(out_), [self = shared_from_this()](error_code ec, size_t) {
    if (ec)
      return self->on_answer(ec);
    self->res_ = {};
    bhttp::async_read(self->stream_, self->buffer_, self->res_,
                      [self](error_code e, size_t) { self->on_answer(e); });
  });
}

void pooled_connection::on_answer(error_code ec) {
  auto& r = owner_.results();
  if (ec) {
    (ec == beast::error::timeout ? r.timeouts : r.errors)++;
    stream_.close();
    return owner_.on_done(shared_from_this(), false);
  }
  int status = res_.result_int();
  double took = ms_since(at_);
  r.statuses[status]++;
  if (status == 201) {
    r.admitted.push_back(took);
    r.admitted_service.push_back(ms_since(written_));
  } else if (status == 503 || status == 429) {
    r.refused.push_back(took);
    r.refused_service.push_back(ms_since(written_));
  }
  idle_since_ = clock_type::now();
  bool reusable = res_.keep_alive();
  if (!reusable)
    stream_.close();
  owner_.on_done(shared_from_this(), reusable);
}

std::string status_list(const std::map<int, uint64_t>& statuses) {
  std::string out;
  for (const auto& [status, n] : statuses)
    out += (out.empty() ? "" : ",") + std::to_string(status) + ":" + std::to_string(n);
  return out.empty() ? "none" : out;
}

int run_open_loop(const open_loop_options& o) {
  net::io_context ioc{1};
  open_loop gen{ioc, o};
  gen.start();
  ioc.run();
  auto& r = gen.results();
  auto count = [&](int s) { return static_cast<unsigned long long>(r.statuses.count(s) ? r.statuses.at(s) : 0); };
  uint64_t answered = 0;
  for (const auto& [status, n] : r.statuses)
    answered += n;
  std::printf("open_loop rate=%.0f seconds=%.0f offered=%llu answered=%llu s201=%llu s503=%llu s429=%llu "
              "statuses=%s admitted_per_s=%.1f %s %s timeouts=%llu errors=%llu client_backlog=%llu "
              "connections_opened=%llu send_lag_p99_ms=%.2f admitted_service_p99_ms=%.2f "
              "refused_service_p99_ms=%.2f\n",
              o.rate, o.seconds, static_cast<unsigned long long>(o.rate * o.seconds),
              static_cast<unsigned long long>(answered), count(201), count(503), count(429),
              status_list(r.statuses).c_str(), static_cast<double>(count(201)) / o.seconds,
              fields("admitted", summarize(r.admitted)).c_str(), fields("refused", summarize(r.refused)).c_str(),
              static_cast<unsigned long long>(r.timeouts), static_cast<unsigned long long>(r.errors),
              static_cast<unsigned long long>(r.client_backlog),
              static_cast<unsigned long long>(r.connections_opened), summarize(r.send_lag).p99,
              summarize(r.admitted_service).p99, summarize(r.refused_service).p99);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  raise_file_limit();
  CLI::App app{"payengine front-door load generator"};
  app.require_subcommand(1);

  siege_options so;
  auto* siege = app.add_subcommand("siege", "hold idle and slow connections; time fresh and keep-alive probes");
  siege->add_option("--port", so.port)->required();
  siege->add_option("--idle", so.idle, "connections that send nothing")->capture_default_str();
  siege->add_option("--slow", so.slow, "connections dripping a header, one byte a second")->capture_default_str();
  siege->add_option("--probes", so.probes, "GET /healthz of each kind")->capture_default_str();
  siege->add_option("--probe-interval-ms", so.probe_interval_ms, "pause between probes")->capture_default_str();

  open_loop_options oo;
  auto* open = app.add_subcommand("open-loop", "POST orders at a fixed rate on a pool of keep-alive connections");
  open->add_option("--port", oo.port)->required();
  open->add_option("--rate", oo.rate, "requests per second")->required()->check(CLI::PositiveNumber);
  open->add_option("--seconds", oo.seconds)->required()->check(CLI::PositiveNumber);
  open->add_option("--connections", oo.connections, "pool size at most")->capture_default_str();
  open->add_option("--key", oo.key, "the merchant's API key")->required();
  open->add_option("--path", oo.path)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (siege->parsed())
    return run_siege(so);
  return run_open_loop(oo);
}
