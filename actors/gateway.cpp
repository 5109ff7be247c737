#include "actors/gateway.hpp"
#include "actors/request_timer.hpp"

#include "channels/alipay_protocol.hpp"
#include "channels/wechat_protocol.hpp"
#include "config/logging.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

namespace payengine {

using clock_type = std::chrono::steady_clock;

// --- settings ------------------------------------------------------------------

namespace {

struct url_parts {
  std::string base; // scheme://host[:port]
  std::string path; // "/..." ("/" when the URL has none)
};

/// Splits an http(s) URL; nullopt for anything else.
std::optional<url_parts> split_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return std::nullopt;
  const auto scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return std::nullopt;
  const auto path_begin = url.find('/', scheme_end + 3);
  url_parts parts{url.substr(0, path_begin), "/"};
  if (path_begin != std::string::npos)
    parts.path = url.substr(path_begin);
  if (parts.base.size() <= scheme_end + 3)
    return std::nullopt; // no host
  return parts;
}

std::string without_trailing_slash(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

} // namespace

uint32_t gateway_settings::scaled_ms(uint64_t nominal_ms) const {
  auto scaled = static_cast<double>(nominal_ms) / time_scale;
  return static_cast<uint32_t>(std::clamp(scaled, 1.0, 4.0e9));
}

uint32_t gateway_settings::attempt_timeout_ms() const {
  // The worker's total deadline (DNS, connect, send, answer), plus queueing
  // slack (as engine_config::gateway_attempt_timeout_ms, behind the start-up rule).
  return call_deadline_ms + gateway_attempt_slack_ms;
}

std::string validate(const gateway_settings& s) {
  if (!split_url(s.gateway_url))
    return "gateway_url must be an http(s) URL, got '" + s.gateway_url + "'";
  if (s.channel != "alipay" && s.channel != "wechat")
    return "channel must be alipay or wechat (the protocols in channels/), got '" + s.channel + "'";
  if (s.channel == "wechat" && !s.protocol)
    return "the wechat gateway needs its protocol (wechat_gateway_settings_from)";
  if (s.channel == "alipay" && !s.protocol) {
    if (s.app_id.empty())
      return "app_id is required";
    if (!s.app_key || !s.channel_key)
      return "both keys (the app's private key, the channel's public key) are required";
  }
  if (s.workers < 1 || s.workers > 256 || s.in_flight_max < 1)
    return "workers must be 1..256 and in_flight_max at least 1";
  if (s.connect_timeout_ms < 1 || s.read_timeout_ms < 1 || s.write_timeout_ms < 1
      || s.call_deadline_ms < 1 || s.response_max_bytes < 1)
    return "HTTP timeouts, call_deadline_ms and response_max_bytes must be at least 1";
  if (s.attempts_max < 1 || s.attempts_max > 10 || s.breaker_failures_max < 1)
    return "attempts_max must be 1..10 and breaker_failures_max at least 1";
  if (!std::isfinite(s.rate_per_s) || s.rate_per_s <= 0 || s.burst < 1)
    return "rate_per_s must be positive and burst at least 1";
  if (!std::isfinite(s.time_scale) || s.time_scale < 1.0 || s.time_scale > 1e6)
    return "time_scale must be a number from 1 to 1000000";
  if (s.latency_window < 1)
    return "latency_window must be at least 1";
  return {};
}

namespace {

/// The knobs every gateway shares (config/config.hpp gateway_*), for `channel`.
std::variant<gateway_settings, std::string> common_settings(const engine_config& cfg,
                                                            const std::string& channel) {
  gateway_settings s;
  s.channel = channel;
  if (!cfg.public_url.empty())
    s.notify_url = without_trailing_slash(cfg.public_url) + "/v1/callbacks/" + s.channel;
  s.time_scale = cfg.time_scale;
  s.workers = cfg.gateway_workers;
  s.in_flight_max = cfg.gateway_in_flight_max;
  s.connect_timeout_ms = cfg.gateway_connect_timeout_ms;
  s.write_timeout_ms = cfg.gateway_write_timeout_ms;
  s.read_timeout_ms = cfg.gateway_read_timeout_ms;
  s.attempts_max = cfg.gateway_attempts_max;
  s.retry_step_ms = cfg.gateway_retry_step_ms;
  s.breaker_failures_max = cfg.gateway_breaker_failures_max;
  s.breaker_open_ms = cfg.gateway_breaker_open_ms;
  s.rate_per_s = cfg.gateway_rate_per_s;
  s.burst = cfg.gateway_burst;
  s.call_deadline_ms = cfg.channel_call_deadline_ms; // real time: not scaled
  s.response_max_bytes = cfg.channel_response_max_bytes;
  if (auto policy = net::address_policy::parse(cfg.outbound_allow);
      auto* p = std::get_if<net::address_policy>(&policy))
    s.outbound_policy = std::move(*p);
  else
    return "PAYENGINE_OUTBOUND_ALLOW: " + std::get<std::string>(policy);
  return s;
}

} // namespace

std::variant<gateway_settings, std::string>
gateway_settings_from(const engine_config& cfg) {
  auto common = common_settings(cfg, "alipay");
  if (auto* err = std::get_if<std::string>(&common))
    return *err;
  auto s = std::get<gateway_settings>(std::move(common));
  s.gateway_url = cfg.alipay_gateway_url;
  s.app_id = cfg.alipay_app_id;
  if (!split_url(s.gateway_url))
    return "PAYENGINE_ALIPAY_GATEWAY_URL must be an http(s) URL, got '" + s.gateway_url + "'";
  if (s.app_id.empty())
    return std::string("PAYENGINE_ALIPAY_APP_ID is required");
  auto app_key = channels::private_key::from_pem_file(cfg.alipay_private_key_file);
  if (!app_key)
    return "PAYENGINE_ALIPAY_PRIVATE_KEY_FILE '" + cfg.alipay_private_key_file
           + "': " + app_key.error().detail;
  auto channel_key = channels::public_key::from_pem_file(cfg.alipay_public_key_file);
  if (!channel_key)
    return "PAYENGINE_ALIPAY_PUBLIC_KEY_FILE '" + cfg.alipay_public_key_file
           + "': " + channel_key.error().detail;
  s.app_key = std::move(app_key).value();
  s.channel_key = std::move(channel_key).value();
  if (auto problem = validate(s); !problem.empty())
    return problem;
  return s;
}

std::variant<std::string, std::string> read_apiv3_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::variant<std::string, std::string>{std::in_place_index<1>, "cannot read"};
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!key.empty() && key.back() == '\n')
    key.pop_back();
  if (key.size() != 32)
    return std::variant<std::string, std::string>{
      std::in_place_index<1>, "must hold 32 bytes, holds " + std::to_string(key.size())};
  return std::variant<std::string, std::string>{std::in_place_index<0>, std::move(key)};
}

std::variant<gateway_settings, std::string>
wechat_gateway_settings_from(const engine_config& cfg) {
  auto common = common_settings(cfg, "wechat");
  if (auto* err = std::get_if<std::string>(&common))
    return *err;
  auto s = std::get<gateway_settings>(std::move(common));
  s.gateway_url = cfg.wechat_gateway_url;
  s.app_id = cfg.wechat_app_id;
  auto url = split_url(s.gateway_url);
  if (!url)
    return "PAYENGINE_WECHAT_GATEWAY_URL must be an http(s) URL, got '" + s.gateway_url + "'";
  s.gateway_url = url->base; // the protocol names each call's path
  if (cfg.wechat_mch_id.empty() || cfg.wechat_app_id.empty())
    return std::string("PAYENGINE_WECHAT_MCH_ID and PAYENGINE_WECHAT_APP_ID are required");
  if (cfg.wechat_serial.empty() || cfg.wechat_platform_serial.empty())
    return std::string("PAYENGINE_WECHAT_SERIAL and PAYENGINE_WECHAT_PLATFORM_SERIAL are required");
  auto merchant_key = channels::private_key::from_pem_file(cfg.wechat_private_key_file);
  if (!merchant_key)
    return "PAYENGINE_WECHAT_PRIVATE_KEY_FILE '" + cfg.wechat_private_key_file
           + "': " + merchant_key.error().detail;
  auto platform_key = channels::public_key::from_pem_file(cfg.wechat_platform_public_key_file);
  if (!platform_key)
    return "PAYENGINE_WECHAT_PLATFORM_PUBLIC_KEY_FILE '" + cfg.wechat_platform_public_key_file
           + "': " + platform_key.error().detail;
  // Read here so that a bad key file stops the start, not the first notification.
  auto apiv3 = read_apiv3_key(cfg.wechat_apiv3_key_file);
  if (apiv3.index() == 1)
    return "PAYENGINE_WECHAT_APIV3_KEY_FILE '" + cfg.wechat_apiv3_key_file
           + "': " + std::get<1>(apiv3);
  channels::wechat_protocol_settings ps{cfg.wechat_mch_id, cfg.wechat_app_id, s.notify_url,
                                        std::move(merchant_key).value(), cfg.wechat_serial,
                                        std::move(platform_key).value(),
                                        cfg.wechat_platform_serial, s.currencies, {}, {}};
  s.protocol = std::make_shared<channels::wechat_protocol>(std::move(ps));
  if (auto problem = validate(s); !problem.empty())
    return problem;
  return s;
}

// --- the channel's protocol -------------------------------------------------------

namespace {

using channels::reply_of;

/// The protocol of the gateway's channel (validate() accepts only these).
std::shared_ptr<const channels::channel_protocol> protocol_for(const gateway_settings& s) {
  if (s.protocol)
    return s.protocol;
  if (s.channel == "alipay")
    return std::make_shared<channels::alipay_protocol>(channels::alipay_protocol_settings{
      s.app_id, s.notify_url, *s.app_key, *s.channel_key, s.currencies});
  return nullptr;
}

// --- the actor: breaker bookkeeping ----------------------------------------------

void log_transition(const gateway_state& st, circuit_breaker::state from,
                    circuit_breaker::state to) {
  nlohmann::json fields = {{"channel", st.settings.channel},
                           {"from", to_string(from)},
                           {"to", to_string(to)},
                           {"consecutive_failures", st.breaker.consecutive_failures()}};
  if (to == circuit_breaker::state::open) {
    fields["open_ms"] = st.settings.scaled_ms(st.settings.breaker_open_ms);
    logging::warn("gateway.circuit_open", std::move(fields));
    return;
  }
  logging::info(to == circuit_breaker::state::closed ? "gateway.circuit_closed"
                                                     : "gateway.circuit_half_open",
                std::move(fields));
}

/// Tells the order actors (actors/channel_set.hpp) the breaker's state.
void publish_circuit(gateway_state& st, clock_type::time_point now) {
  if (!st.settings.health)
    return;
  using c = channel_health::circuit;
  switch (st.breaker.current()) {
    case circuit_breaker::state::closed: st.settings.health->set_circuit(c::closed); break;
    case circuit_breaker::state::half_open: st.settings.health->set_circuit(c::half_open); break;
    case circuit_breaker::state::open:
      st.settings.health->set_circuit(c::open, now + st.breaker.retry_after(now));
      break;
  }
}

void refresh_breaker(gateway_self self, clock_type::time_point now) {
  auto& st = self->state;
  const auto before = st.breaker.current();
  const auto after = st.breaker.refresh(now);
  if (after != before) {
    log_transition(st, before, after);
    publish_circuit(st, now);
  }
}

void record_attempt(gateway_self self, bool healthy, bool probe) {
  auto& st = self->state;
  const auto now = clock_type::now();
  const auto before = st.breaker.current();
  st.breaker.record(healthy, probe, now);
  if (st.settings.health)
    st.settings.health->record(healthy);
  const auto after = st.breaker.current();
  if (after != before) {
    log_transition(st, before, after);
    publish_circuit(st, now);
  }
}

channel_reply refuse_fast(gateway_state& st, channel_outcome outcome,
                          std::chrono::milliseconds retry_after) {
  ++st.rejected_fast;
  auto reply = reply_of(outcome, std::string(to_string(outcome)));
  reply.retry_after_ms = static_cast<uint32_t>(
    std::min<int64_t>(retry_after.count(), std::numeric_limits<uint32_t>::max()));
  return reply;
}

/// Breaker, capacity, bucket: a refusal, or nullopt and maybe the probe.
std::optional<channel_reply> admit(gateway_self self, bool& probe) {
  auto& st = self->state;
  const auto now = clock_type::now();
  refresh_breaker(self, now);
  const auto decision = st.breaker.admit();
  if (decision == circuit_breaker::decision::refuse)
    return refuse_fast(st, channel_outcome::circuit_open, st.breaker.retry_after(now));
  if (st.calls.size() >= st.settings.in_flight_max)
    return reply_of(channel_outcome::unavailable, "overloaded");
  if (!st.bucket.take(now))
    return refuse_fast(st, channel_outcome::rate_limited, st.bucket.wait_for_one(now));
  probe = decision == circuit_breaker::decision::probe;
  if (probe)
    st.breaker.start_probe();
  return std::nullopt;
}

// --- the actor: calls ----------------------------------------------------------

void dispatch(gateway_self self, uint64_t id);

/// Answers call `id` and forgets it.
void finish(gateway_self self, uint64_t id, channel_reply reply) {
  auto& st = self->state;
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  auto& c = i->second;
  reply.attempts = c.attempts;
  if (reply.outcome == channel_outcome::unavailable) {
    ++st.failures;
    logging::warn("gateway.call_failed", {{"channel", st.settings.channel},
                                          {"method", st.protocol->method_of(c.kind)},
                                          {"out_trade_no", c.out_trade_no},
                                          {"attempts", c.attempts},
                                          {"reason", reply.reason}});
  }
  c.promise.deliver(std::move(reply));
  st.calls.erase(i);
}

size_t least_busy(const std::vector<uint32_t>& load) {
  return static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
}

uint32_t elapsed_ms(clock_type::time_point since) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since);
  return static_cast<uint32_t>(std::max<int64_t>(0, ms.count()));
}

void schedule_retry(gateway_self self, uint64_t id, std::string last_error) {
  auto& st = self->state;
  auto& c = st.calls.at(id);
  c.last_error = std::move(last_error);
  if (c.attempts >= st.settings.attempts_max) {
    finish(self, id, reply_of(channel_outcome::unavailable, c.last_error));
    return;
  }
  auto delay = st.settings.scaled_ms(uint64_t{st.settings.retry_step_ms} * c.attempts);
  self->delayed_send(self, std::chrono::milliseconds{delay}, gateway_retry_atom_v, id);
}

void on_answer(gateway_self self, uint64_t id, size_t worker,
               clock_type::time_point sent, const http_answer& answer) {
  auto& st = self->state;
  --st.worker_load[worker];
  st.latencies.add(elapsed_ms(sent));
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  auto& c = i->second;
  auto v = st.protocol->judge({c.kind, c.out_trade_no, c.exponent},
                             {answer.status, answer.body, answer.error, &answer.headers,
                              answer.final});
  record_attempt(self, v.healthy, c.probe);
  c.probe = false; // the breaker has its answer
  if (v.retry)
    schedule_retry(self, id, std::move(v.reply.reason));
  else
    finish(self, id, std::move(v.reply));
}

void dispatch(gateway_self self, uint64_t id) {
  auto& st = self->state;
  auto& c = st.calls.at(id);
  ++c.attempts;
  const auto worker = least_busy(st.worker_load);
  ++st.worker_load[worker];
  const auto sent = clock_type::now();
  timed_request(self, st.settings.timer, st.workers[worker],
                std::chrono::milliseconds{st.settings.attempt_timeout_ms()},
                http_attempt{c.request.method, c.request.path, c.request.content_type,
                             c.request.headers, c.request.body})
    .then(
      [=](const http_answer& answer) { on_answer(self, id, worker, sent, answer); },
      [=](caf::error& err) {
        on_answer(self, id, worker, sent, http_answer{0, {}, caf::to_string(err), false, {}});
      });
}

/// A retry timer fired: resend, unless the breaker stopped trusting the channel.
void on_retry(gateway_self self, uint64_t id) {
  auto& st = self->state;
  auto i = st.calls.find(id);
  if (i == st.calls.end())
    return;
  refresh_breaker(self, clock_type::now());
  if (st.breaker.current() != circuit_breaker::state::closed) {
    finish(self, id, reply_of(channel_outcome::unavailable,
                              "circuit_open after: " + i->second.last_error));
    return;
  }
  dispatch(self, id);
}

caf::result<channel_reply> start(gateway_self self, channels::prepared p) {
  if (auto* refusal = std::get_if<channel_reply>(&p))
    return std::move(*refusal);
  auto& out = std::get<channels::outbound>(p);
  auto& st = self->state;
  bool probe = false;
  if (auto refusal = admit(self, probe))
    return std::move(*refusal);
  auto signed_req = out.sign();
  if (!signed_req) {
    if (probe)
      st.breaker.abandon_probe();
    logging::error("gateway.sign_failed", {{"channel", st.settings.channel},
                                           {"error", signed_req.error().detail}});
    return reply_of(channel_outcome::unavailable, "sign_failed");
  }
  const auto id = st.next_call_id++;
  auto& c = st.calls[id];
  c.kind = out.kind;
  c.out_trade_no = std::move(out.out_trade_no);
  c.request = std::move(signed_req).value();
  c.exponent = out.exponent;
  c.probe = probe;
  c.promise = self->make_response_promise<channel_reply>();
  auto promise = c.promise;
  ++st.calls_total;
  dispatch(self, id);
  return promise;
}

template <class Request>
caf::result<channel_reply> on_request(gateway_self self, const Request& x) {
  return start(self, self->state.protocol->prepare(x));
}

gateway_info info(gateway_self self) {
  auto& st = self->state;
  const auto now = clock_type::now();
  refresh_breaker(self, now);
  gateway_info i;
  i.channel = st.settings.channel;
  i.circuit = std::string(to_string(st.breaker.current()));
  i.consecutive_failures = st.breaker.consecutive_failures();
  i.tokens = st.bucket.tokens(now);
  i.in_flight = static_cast<uint32_t>(st.calls.size());
  i.calls = st.calls_total;
  i.failures = st.failures;
  i.rejected_fast = st.rejected_fast;
  i.last_latency_ms = st.latencies.last();
  i.p50_latency_ms = st.latencies.percentile(0.50);
  i.p99_latency_ms = st.latencies.percentile(0.99);
  return i;
}

void spawn_workers(gateway_self self) {
  auto& st = self->state;
  const auto url = split_url(st.settings.gateway_url).value(); // validated
  for (uint32_t index = 0; index < st.settings.workers; ++index) {
    worker_settings ws;
    ws.index = index;
    ws.base_url = url.base;
    ws.path = url.path;
    ws.policy = st.settings.outbound_policy;
    ws.limits.deadline_ms = st.settings.call_deadline_ms;
    ws.limits.connect_timeout_ms = st.settings.connect_timeout_ms;
    ws.limits.read_timeout_ms = st.settings.read_timeout_ms;
    ws.limits.write_timeout_ms = st.settings.write_timeout_ms;
    ws.limits.response_max_bytes = st.settings.response_max_bytes;
    st.workers.push_back(
      self->spawn<caf::detached + caf::linked>(gateway_worker_impl, std::move(ws)));
  }
  st.worker_load.assign(st.workers.size(), 0);
}

void init_state(gateway_self self, gateway_settings settings) {
  auto& st = self->state;
  const auto now = clock_type::now();
  const std::chrono::milliseconds open_for{settings.scaled_ms(settings.breaker_open_ms)};
  st.breaker = circuit_breaker{settings.breaker_failures_max, open_for};
  st.bucket = token_bucket{settings.rate_per_s, static_cast<double>(settings.burst), now};
  st.latencies = latency_window{settings.latency_window};
  st.protocol = protocol_for(settings);
  st.settings = std::move(settings);
}

} // namespace

gateway_state::gateway_state()
  : breaker(5, std::chrono::milliseconds{10'000}),
    bucket(1, 1, std::chrono::steady_clock::now()),
    latencies(1) {
  // nop: gateway_impl sets everything from the settings
}

gateway_self_actor::behavior_type gateway_impl(gateway_self self,
                                               gateway_settings settings) {
  if (auto problem = validate(settings); !problem.empty()) {
    // A broken invariant: the gateway dies at once and never answers.
    logging::error("gateway.bad_settings",
                   {{"channel", settings.channel}, {"error", problem}});
    self->quit(caf::sec::invalid_argument);
  } else {
    init_state(self, std::move(settings));
    spawn_workers(self);
  }
  return {
    [=](const open_trade& x) { return on_request(self, x); },
    [=](const query_trade& x) { return on_request(self, x); },
    [=](const close_trade& x) { return on_request(self, x); },
    [=](const refund_trade& x) { return on_request(self, x); },
    [=](info_atom) { return info(self); },
    [=](gateway_retry_atom, uint64_t id) { on_retry(self, id); },
  };
}

} // namespace payengine
