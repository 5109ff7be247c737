#include "net/outbound_call.hpp"

#include "net/call_watchdog.hpp"

#include <httplib.h>

#include <netdb.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace payengine::net {

namespace {

using clock_type = std::chrono::steady_clock;

struct target {
  bool tls = false;
  std::string host; // no brackets
  int port = 80;
  std::string path; // "/..." with the query
  std::string origin() const { return (tls ? "https://" : "http://") + host + ":" + std::to_string(port); }
};

std::optional<target> parse_target(const std::string& url) {
  auto host = url_host(url);
  if (!host)
    return std::nullopt;
  target t;
  t.tls = url.rfind("https://", 0) == 0;
  t.port = t.tls ? 443 : 80;
  t.host = *host;
  auto rest = std::string_view{url}.substr(url.find("://") + 3);
  auto path_at = rest.find_first_of("/?#");
  auto authority = rest.substr(0, path_at);
  t.path = path_at == std::string_view::npos ? "/" : std::string{rest.substr(path_at)};
  if (auto hash = t.path.find('#'); hash != std::string::npos)
    t.path.erase(hash);
  if (t.path.empty() || t.path[0] != '/')
    t.path.insert(0, "/");
  // The port follows the host (after "]" for an IPv6 literal).
  auto host_end = authority.rfind(']');
  auto colon = authority.find(':', host_end == std::string_view::npos ? authority.rfind('@') + 1
                                                                      : host_end);
  if (colon != std::string_view::npos) {
    auto digits = authority.substr(colon + 1);
    if (digits.empty() || digits.size() > 5
        || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    t.port = std::stoi(std::string{digits});
    if (t.port < 1 || t.port > 65535)
      return std::nullopt;
  }
  return t;
}

std::string host_header(const target& t) {
  auto h = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  if (t.port != (t.tls ? 443 : 80))
    h += ":" + std::to_string(t.port);
  return h;
}

uint32_t ms_left(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
  return left <= 0 ? 0 : static_cast<uint32_t>(left);
}

// --- DNS within the deadline --------------------------------------------------------

struct resolved {
  std::vector<ip_address> addresses;
  std::string error; // set when addresses is empty
};

/// getaddrinfo has no timeout: it runs on its own detached thread, and a
/// lookup still running at the deadline is abandoned (it ends by the
/// resolver's own timeouts).
resolved resolve(const std::string& host, clock_type::time_point deadline) {
  if (auto literal = parse_ip(host))
    return {{*literal}, {}};
  struct job {
    std::mutex mtx;
    std::condition_variable cv;
    bool done = false;
    resolved result;
  };
  auto j = std::make_shared<job>();
  try {
    std::thread([j, host] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* list = nullptr;
      resolved r;
      if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list); rc != 0) {
        r.error = gai_strerror(rc);
      } else {
        for (auto* ai = list; ai; ai = ai->ai_next)
          if (auto a = from_sockaddr(ai->ai_addr);
              a && std::find(r.addresses.begin(), r.addresses.end(), *a) == r.addresses.end())
            r.addresses.push_back(*a);
        ::freeaddrinfo(list);
        if (r.addresses.empty())
          r.error = "no address";
      }
      std::lock_guard lock{j->mtx};
      j->result = std::move(r);
      j->done = true;
      j->cv.notify_all();
    }).detach();
  } catch (const std::exception& e) {
    return {{}, std::string{"resolver unavailable: "} + e.what()};
  }
  std::unique_lock lock{j->mtx};
  if (!j->cv.wait_until(lock, deadline, [&] { return j->done; }))
    return {{}, "timeout"};
  return j->result;
}

/// What may arrive on a call's socket: the capped body, its headers and
/// framing (chunk sizes, TLS records, a TLS handshake).
uint64_t wire_budget(uint32_t body_max_bytes) {
  return uint64_t{body_max_bytes} + body_max_bytes / 8 + 64 * 1024;
}

call_result failed(call_failure f, const std::string& detail) {
  call_result r;
  r.failure = f;
  r.error = std::string{to_string(f)} + (detail.empty() ? "" : ": " + detail);
  return r;
}

} // namespace

std::string_view to_string(call_failure f) {
  switch (f) {
    case call_failure::none: return "none";
    case call_failure::invalid_target: return "invalid_target";
    case call_failure::address_forbidden: return "address_forbidden";
    case call_failure::dns_failed: return "dns_failed";
    case call_failure::deadline_exceeded: return "deadline_exceeded";
    case call_failure::response_too_large: return "response_too_large";
    case call_failure::transport: return "transport";
  }
  return "transport";
}

struct outbound_caller::impl {
  address_policy policy;
  call_limits limits;
  call_watchdog dog;
  // A kept-alive connection (limits.keep_alive): its origin and address.
  std::unique_ptr<httplib::ClientImpl> client;
  std::string client_origin;
  std::string client_peer;

  /// Allowed addresses of `t.host` in resolver order, or the failure.
  std::variant<std::vector<ip_address>, call_result> candidates(const target& t,
                                                                clock_type::time_point deadline);
  std::unique_ptr<httplib::ClientImpl> connect_to(const target& t, const ip_address& a,
                                                  clock_type::time_point deadline);
  /// One request on `c`; the watchdog must be armed (this disarms it).
  /// `not_connected`: it failed before anything was sent (another address
  /// may be tried).
  call_result exchange(httplib::ClientImpl& c, const target& t, const call_request& req,
                       clock_type::time_point deadline, bool* not_connected = nullptr);
  call_result call(const call_request& req);
};

std::variant<std::vector<ip_address>, call_result>
outbound_caller::impl::candidates(const target& t, clock_type::time_point deadline) {
  auto found = resolve(t.host, deadline);
  if (found.addresses.empty())
    return found.error == "timeout" ? failed(call_failure::deadline_exceeded, "resolving " + t.host)
                                    : failed(call_failure::dns_failed, t.host + ": " + found.error);
  std::vector<ip_address> allowed;
  std::string refused;
  for (const auto& a : found.addresses) {
    if (auto why = policy.refusal(a)) {
      if (refused.size() < 200)
        refused += (refused.empty() ? "" : ", ") + to_string(a) + " is " + std::string{to_string(*why)};
    } else {
      allowed.push_back(a);
    }
  }
  if (allowed.empty()) {
    auto shown = parse_ip(t.host) ? refused : t.host + " -> " + refused;
    return failed(call_failure::address_forbidden, shown);
  }
  return allowed;
}

std::unique_ptr<httplib::ClientImpl>
outbound_caller::impl::connect_to(const target& t, const ip_address& a,
                                  clock_type::time_point deadline) {
  std::unique_ptr<httplib::ClientImpl> c;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (t.tls)
    c = std::make_unique<httplib::SSLClient>(t.host, t.port);
  else
#endif
    c = std::make_unique<httplib::ClientImpl>(t.host, t.port);
  // The only address httplib will connect to for this host: a checked one.
  c->set_hostname_addr_map({{t.host, to_string(a)}});
  c->set_keep_alive(limits.keep_alive);
  c->set_follow_location(false); // a redirect would go unchecked
  c->set_tcp_nodelay(true);
  auto* dog_ptr = &dog;
  c->set_socket_options([dog_ptr](socket_t fd) { dog_ptr->watch(fd); });
  auto connect_ms = std::min(limits.connect_timeout_ms, std::max(1u, ms_left(deadline)));
  c->set_connection_timeout(std::chrono::milliseconds{connect_ms});
  return c;
}

call_result outbound_caller::impl::exchange(httplib::ClientImpl& c, const target& t,
                                            const call_request& req,
                                            clock_type::time_point deadline,
                                            bool* not_connected) {
  auto left = std::max(1u, ms_left(deadline));
  auto per_op = [&](uint32_t ms) { return std::chrono::milliseconds{ms == 0 ? left : std::min(ms, left)}; };
  c.set_read_timeout(per_op(limits.read_timeout_ms));
  c.set_write_timeout(per_op(limits.write_timeout_ms));
  httplib::Request r;
  r.method = req.method;
  r.path = t.path;
  for (const auto& [k, v] : req.headers)
    r.headers.emplace(k, v);
  r.headers.emplace("Host", host_header(t));
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
    r.body = req.body;
    r.headers.emplace("Content-Type", req.content_type);
  }
  const auto cap = limits.response_max_bytes;
  bool too_large = false;
  std::string body;
  r.response_handler = [&](const httplib::Response& res) {
    // A declared length over the cap fails before any of the body is read.
    auto length = res.get_header_value("Content-Length");
    uint64_t declared = 0;
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), declared);
    if (ec == std::errc{} && end == length.data() + length.size() && declared > cap)
      too_large = true;
    return !too_large;
  };
  r.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (body.size() + n > cap) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  };
  httplib::Response res;
  auto error = httplib::Error::Success;
  bool ok = c.send(r, res, error);
  auto cut = dog.disarm();
  if (not_connected)
    *not_connected = !ok && cut == call_watchdog::verdict::none
                     && (error == httplib::Error::Connection || error == httplib::Error::ConnectionTimeout);
  if (!ok) {
    if (too_large || cut == call_watchdog::verdict::too_many_bytes)
      return failed(call_failure::response_too_large, "over " + std::to_string(cap) + " bytes");
    if (cut == call_watchdog::verdict::deadline)
      return failed(call_failure::deadline_exceeded, "after " + std::to_string(limits.deadline_ms) + " ms");
    return failed(call_failure::transport, httplib::to_string(error));
  }
  call_result out;
  out.status = res.status;
  out.body = std::move(body);
  out.headers.assign(res.headers.begin(), res.headers.end());
  return out;
}

call_result outbound_caller::impl::call(const call_request& req) {
  const auto started = clock_type::now();
  const auto deadline = started + std::chrono::milliseconds{limits.deadline_ms};
  auto t = parse_target(req.url);
  if (!t)
    return failed(call_failure::invalid_target, req.url.substr(0, 200));
  auto finish = [&](call_result r, const std::string& peer) {
    r.latency_ms = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           clock_type::now() - started).count());
    r.peer = peer;
    return r;
  };
  // A kept-alive connection was checked when it was made.
  if (client && client_origin == t->origin() && client->is_socket_open()) {
    dog.arm(deadline, wire_budget(limits.response_max_bytes));
    dog.watch(client->socket());
    auto r = exchange(*client, *t, req, deadline);
    if (!r.answered())
      client.reset();
    return finish(std::move(r), client_peer);
  }
  client.reset();
  auto found = candidates(*t, deadline);
  if (auto* refusal = std::get_if<call_result>(&found))
    return finish(std::move(*refusal), {});
  call_result r;
  std::string peer;
  for (const auto& a : std::get<std::vector<ip_address>>(found)) {
    // Another address only when this one could not be connected to:
    // nothing was sent yet.
    peer = to_string(a);
    auto c = connect_to(*t, a, deadline);
    dog.arm(deadline, wire_budget(limits.response_max_bytes));
    bool not_connected = false;
    r = exchange(*c, *t, req, deadline, &not_connected);
    if (r.answered() && limits.keep_alive) {
      client = std::move(c);
      client_origin = t->origin();
      client_peer = peer;
    }
    if (!not_connected || ms_left(deadline) == 0)
      break;
  }
  return finish(std::move(r), peer);
}

outbound_caller::outbound_caller(address_policy policy, call_limits limits)
  : impl_(std::make_unique<impl>()) {
  impl_->policy = std::move(policy);
  impl_->limits = limits;
}

outbound_caller::~outbound_caller() = default;

const call_limits& outbound_caller::limits() const {
  return impl_->limits;
}

call_result outbound_caller::call(const call_request& req) {
  try {
    return impl_->call(req);
  } catch (const std::exception& e) {
    impl_->dog.disarm();
    impl_->client.reset();
    return failed(call_failure::transport, e.what());
  }
}

} // namespace payengine::net
