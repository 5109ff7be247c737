#include "actors/gateway.hpp"

#include "channels/alipay.hpp"
#include "config/logging.hpp"
#include "messages/money.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

namespace payengine {

namespace alipay = channels::alipay;
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
  // The worker's total deadline (DNS, connect, send, answer), plus a
  // second of queueing slack.
  return call_deadline_ms + 1'000;
}

std::string validate(const gateway_settings& s) {
  if (!split_url(s.gateway_url))
    return "gateway_url must be an http(s) URL, got '" + s.gateway_url + "'";
  if (s.app_id.empty())
    return "app_id is required";
  if (!s.app_key || !s.channel_key)
    return "both keys (the app's private key, the channel's public key) are required";
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

std::variant<gateway_settings, std::string>
gateway_settings_from(const engine_config& cfg) {
  gateway_settings s;
  s.gateway_url = cfg.alipay_gateway_url;
  s.app_id = cfg.alipay_app_id;
  if (!cfg.public_url.empty())
    s.notify_url = without_trailing_slash(cfg.public_url) + "/v1/callbacks/" + s.channel;
  s.time_scale = cfg.time_scale;
  s.connect_timeout_ms = cfg.outbound_connect_timeout_ms;
  s.call_deadline_ms = cfg.channel_call_deadline_ms; // real time: not scaled
  s.response_max_bytes = cfg.channel_response_max_bytes;
  if (auto policy = net::address_policy::parse(cfg.outbound_allow);
      auto* p = std::get_if<net::address_policy>(&policy))
    s.outbound_policy = std::move(*p);
  else
    return "PAYENGINE_OUTBOUND_ALLOW: " + std::get<std::string>(policy);
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

// --- circuit breaker -------------------------------------------------------------

circuit_breaker::circuit_breaker(uint32_t failures_max,
                                 std::chrono::milliseconds open_for)
  : failures_max_(std::max<uint32_t>(1, failures_max)), open_for_(open_for) {
  // nop
}

circuit_breaker::state circuit_breaker::refresh(clock::time_point now) {
  if (state_ == state::open && now >= open_until_) {
    state_ = state::half_open;
    probing_ = false;
  }
  return state_;
}

circuit_breaker::decision circuit_breaker::admit() const {
  switch (state_) {
    case state::closed: return decision::pass;
    case state::open: return decision::refuse;
    case state::half_open: return probing_ ? decision::refuse : decision::probe;
  }
  return decision::refuse;
}

void circuit_breaker::start_probe() {
  probing_ = true;
}

void circuit_breaker::abandon_probe() {
  probing_ = false;
}

void circuit_breaker::record(bool healthy, bool probe, clock::time_point now) {
  if (probe) {
    probing_ = false;
    if (healthy) {
      state_ = state::closed;
      failures_ = 0;
    } else {
      ++failures_;
      open(now);
    }
    return;
  }
  // Only the probe decides outside `closed`: late answers just count.
  if (healthy) {
    if (state_ == state::closed)
      failures_ = 0;
    return;
  }
  ++failures_;
  if (state_ == state::closed && failures_ >= failures_max_)
    open(now);
}

std::chrono::milliseconds circuit_breaker::retry_after(clock::time_point now) const {
  using std::chrono::milliseconds;
  if (state_ == state::open && open_until_ > now)
    return std::max(milliseconds{1},
                    std::chrono::ceil<milliseconds>(open_until_ - now));
  return std::max(milliseconds{1}, open_for_); // a probe is deciding
}

void circuit_breaker::open(clock::time_point now) {
  state_ = state::open;
  open_until_ = now + open_for_;
}

std::string_view to_string(circuit_breaker::state x) {
  switch (x) {
    case circuit_breaker::state::closed: return "closed";
    case circuit_breaker::state::open: return "open";
    case circuit_breaker::state::half_open: return "half_open";
  }
  return "unknown";
}

// --- token bucket ----------------------------------------------------------------

token_bucket::token_bucket(double rate_per_s, double burst, clock::time_point now)
  : rate_per_s_(rate_per_s), burst_(burst), tokens_(burst), refilled_at_(now) {
  // nop
}

void token_bucket::refill(clock::time_point now) {
  if (now <= refilled_at_)
    return;
  std::chrono::duration<double> elapsed = now - refilled_at_;
  tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_per_s_);
  refilled_at_ = now;
}

bool token_bucket::take(clock::time_point now) {
  refill(now);
  if (tokens_ < 1.0)
    return false;
  tokens_ -= 1.0;
  return true;
}

double token_bucket::tokens(clock::time_point now) {
  refill(now);
  return tokens_;
}

std::chrono::milliseconds token_bucket::wait_for_one(clock::time_point now) {
  refill(now);
  auto ms = std::ceil((1.0 - tokens_) / rate_per_s_ * 1000.0);
  return std::chrono::milliseconds{static_cast<int64_t>(std::clamp(ms, 1.0, 4.0e9))};
}

// --- latency window --------------------------------------------------------------

latency_window::latency_window(uint32_t capacity)
  : capacity_(std::max<uint32_t>(1, capacity)) {
  samples_.reserve(capacity_);
}

void latency_window::add(uint32_t ms) {
  last_ = ms;
  if (samples_.size() < capacity_) {
    samples_.push_back(ms);
    return;
  }
  samples_[next_] = ms;
  next_ = (next_ + 1) % capacity_;
}

uint32_t latency_window::percentile(double q) const {
  if (samples_.empty())
    return 0;
  auto sorted = samples_;
  auto index = static_cast<size_t>(std::clamp(q, 0.0, 1.0)
                                   * static_cast<double>(sorted.size()));
  index = std::min(index, sorted.size() - 1);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(index),
                   sorted.end());
  return sorted[index];
}

// --- the protocol: requests ------------------------------------------------------

namespace {

using call_kind = gateway_state::call_kind;
using channel_request = std::variant<alipay::precreate_request, alipay::query_request,
                                     alipay::close_request, alipay::refund_request>;

/// A request in the channel's terms, checked and ready to sign.
struct outbound {
  call_kind kind = call_kind::open;
  channel_request request;
  std::string out_trade_no;
  std::string notify_url; // precreate only
  int exponent = alipay::amount_exponent;
};

/// Either what to send, or the reply refusing the request up front.
using prepared = std::variant<outbound, channel_reply>;

channel_reply reply_of(channel_outcome outcome, std::string reason = {}) {
  channel_reply r;
  r.outcome = outcome;
  r.reason = std::move(reason);
  return r;
}

int64_t power_of_ten(int n) {
  int64_t x = 1;
  while (n-- > 0)
    x *= 10;
  return x;
}

/// Minor units of a currency with `exponent` -> the channel's (fen).
std::optional<int64_t> to_channel_units(int64_t amount, int exponent) {
  const int shift = alipay::amount_exponent - exponent;
  if (shift >= 0) {
    const auto factor = power_of_ten(shift);
    if (amount > std::numeric_limits<int64_t>::max() / factor)
      return std::nullopt;
    return amount * factor;
  }
  const auto divisor = power_of_ten(-shift);
  if (amount % divisor != 0)
    return std::nullopt; // finer than the channel can express
  return amount / divisor;
}

/// The channel's minor units -> those of a currency with `exponent`.
std::optional<int64_t> from_channel_units(int64_t amount, int exponent) {
  return to_channel_units(amount, 2 * alipay::amount_exponent - exponent);
}

std::optional<int> settled_exponent(const std::string& currency,
                                    const gateway_settings& s) {
  const auto* info = find_currency(currency);
  if (info == nullptr
      || std::find(s.currencies.begin(), s.currencies.end(), currency)
           == s.currencies.end())
    return std::nullopt;
  return info->exponent;
}

/// Alipay's "yyyy-MM-dd HH:mm:ss" (Beijing time) for a UTC timestamp.
std::string channel_time(timestamp_us t) {
  if (t <= 0)
    return {};
  return alipay::format_timestamp(std::chrono::system_clock::time_point{
    std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::microseconds{t})});
}

prepared prepare(const open_trade& x, const gateway_settings& s) {
  const auto exponent = settled_exponent(x.currency, s);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  const auto amount = to_channel_units(x.amount, *exponent);
  if (!amount)
    return reply_of(channel_outcome::rejected, "invalid_request: amount");
  alipay::precreate_request r{x.out_trade_no, *amount, x.subject, {},
                              channel_time(x.expires_at)};
  return outbound{call_kind::open, std::move(r), x.out_trade_no,
                  x.notify_url.empty() ? s.notify_url : x.notify_url, *exponent};
}

prepared prepare(const query_trade& x, const gateway_settings& s) {
  const auto exponent = settled_exponent(x.currency, s);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  return outbound{call_kind::query, alipay::query_request{x.out_trade_no, {}},
                  x.out_trade_no, {}, *exponent};
}

prepared prepare(const close_trade& x, const gateway_settings&) {
  return outbound{call_kind::close, alipay::close_request{x.out_trade_no, {}},
                  x.out_trade_no, {}, alipay::amount_exponent};
}

prepared prepare(const refund_trade& x, const gateway_settings& s) {
  const auto exponent = settled_exponent(x.currency, s);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  const auto amount = to_channel_units(x.amount, *exponent);
  if (!amount)
    return reply_of(channel_outcome::rejected, "invalid_request: amount");
  alipay::refund_request r{x.out_trade_no, {}, *amount, x.refund_id, x.reason};
  return outbound{call_kind::refund, std::move(r), x.out_trade_no, {}, *exponent};
}

/// What the channel would refuse anyway is refused here, unsent.
prepared checked(prepared p) {
  auto* out = std::get_if<outbound>(&p);
  if (out == nullptr)
    return p;
  auto biz = std::visit([](const auto& r) { return alipay::to_biz_content(r); },
                        out->request);
  if (!biz)
    return reply_of(channel_outcome::rejected,
                    "invalid_request: " + biz.error().detail);
  return p;
}

channels::result<std::string> sign(const outbound& out, const gateway_settings& s) {
  alipay::request_envelope envelope{
    s.app_id, out.notify_url,
    alipay::format_timestamp(std::chrono::system_clock::now())};
  return std::visit(
    [&](const auto& r) { return alipay::build_request(r, envelope, *s.app_key); },
    out.request);
}

// --- the protocol: answers -------------------------------------------------------

/// What one attempt's answer means.
struct verdict {
  bool healthy = false; // the channel answered usably (for the breaker)
  bool retry = false;   // send the same request again, later
  channel_reply reply;  // the answer when not retried; reason set either way
};

verdict answered(channel_reply r) {
  return {true, false, std::move(r)};
}

verdict try_again(std::string why) {
  return {false, true, reply_of(channel_outcome::unavailable, std::move(why))};
}

/// An answer that cannot be trusted or read: not retried, nothing known.
verdict unusable(std::string why) {
  return {false, false, reply_of(channel_outcome::unavailable, std::move(why))};
}

std::string reason_of(const alipay::reply_head& head) {
  return head.sub_code.empty() ? head.code : head.sub_code;
}

/// "yyyy-MM-dd HH:mm:ss" in Beijing time -> UTC microseconds; 0 if unreadable.
timestamp_us parse_channel_time(const std::optional<std::string>& text) {
  if (!text)
    return 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  if (std::sscanf(text->c_str(), "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
                  &s, &used) != 6
      || static_cast<size_t>(used) != text->size())
    return 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return 0;
  std::tm fields{};
  fields.tm_year = y - 1900;
  fields.tm_mon = mo - 1;
  fields.tm_mday = d;
  fields.tm_hour = h;
  fields.tm_min = mi;
  fields.tm_sec = s;
  constexpr std::time_t beijing_offset_s = 8 * 3600;
  return static_cast<timestamp_us>(timegm(&fields) - beijing_offset_s) * 1'000'000;
}

trade_state state_of(alipay::trade_status status) {
  switch (status) {
    case alipay::trade_status::wait_buyer_pay: return trade_state::waiting;
    case alipay::trade_status::trade_success:
    case alipay::trade_status::trade_finished: return trade_state::succeeded;
    case alipay::trade_status::trade_closed: return trade_state::closed;
  }
  return trade_state::unknown;
}

/// The common reading of a parsed answer; `on_success` maps a success.
/// `not_exist_ok`: "no such trade" is an answer (ok, state unknown).
template <class Response, class OnSuccess>
verdict read(const channels::result<Response>& parsed, const std::string& out_trade_no,
             bool not_exist_ok, OnSuccess on_success) {
  if (!parsed)
    return unusable("invalid_response: " + std::string(to_string(parsed.error().code))
                    + ": " + parsed.error().detail);
  const auto& head = parsed->head;
  switch (head.classify()) {
    case alipay::outcome::success:
      if (!parsed->out_trade_no.empty() && parsed->out_trade_no != out_trade_no)
        return unusable("invalid_response: answer for another out_trade_no");
      return on_success(*parsed);
    case alipay::outcome::retryable:
      return try_again("channel: " + head.code + " " + head.sub_code);
    case alipay::outcome::business_failure:
      if (not_exist_ok && head.sub_code == alipay::sub_codes::trade_not_exist)
        return answered(reply_of(channel_outcome::ok));
      return answered(reply_of(channel_outcome::rejected, reason_of(head)));
    case alipay::outcome::rejected:
      return answered(reply_of(channel_outcome::rejected, reason_of(head)));
  }
  return unusable("invalid_response: unclassified");
}

verdict read_open(std::string_view body, const gateway_state::call& c,
                  const channels::public_key& key) {
  return read(alipay::parse_precreate_response(body, key), c.out_trade_no, false,
              [](const alipay::precreate_response& r) {
                auto reply = reply_of(channel_outcome::ok);
                reply.qr_code = r.qr_code;
                reply.state = trade_state::waiting;
                return answered(std::move(reply));
              });
}

verdict read_query(std::string_view body, const gateway_state::call& c,
                   const channels::public_key& key) {
  const int exponent = c.exponent;
  return read(alipay::parse_query_response(body, key), c.out_trade_no, true,
              [exponent](const alipay::query_response& r) {
                const auto amount = from_channel_units(r.total_amount.value_or(0), exponent);
                if (!amount || !r.status)
                  return unusable("invalid_response: amount or status");
                auto reply = reply_of(channel_outcome::ok);
                reply.state = state_of(*r.status);
                reply.channel_trade_no = r.trade_no;
                reply.amount = *amount;
                reply.paid_at = parse_channel_time(r.send_pay_date);
                return answered(std::move(reply));
              });
}

verdict read_close(std::string_view body, const gateway_state::call& c,
                   const channels::public_key& key) {
  return read(alipay::parse_close_response(body, key), c.out_trade_no, true,
              [](const alipay::close_response& r) {
                auto reply = reply_of(channel_outcome::ok);
                reply.state = trade_state::closed;
                reply.channel_trade_no = r.trade_no;
                return answered(std::move(reply));
              });
}

verdict read_refund(std::string_view body, const gateway_state::call& c,
                    const channels::public_key& key) {
  const int exponent = c.exponent;
  return read(alipay::parse_refund_response(body, key), c.out_trade_no, false,
              [exponent](const alipay::refund_response& r) {
                const auto amount = from_channel_units(r.refund_fee.value_or(0), exponent);
                if (!amount)
                  return unusable("invalid_response: refund_fee");
                auto reply = reply_of(channel_outcome::ok);
                reply.channel_trade_no = r.trade_no;
                reply.amount = *amount;
                return answered(std::move(reply));
              });
}

bool retryable_status(int status) {
  return status >= 500 || status == 408 || status == 429;
}

/// The meaning of one HTTP exchange for call `c`.
verdict judge(const gateway_state::call& c, const http_answer& a,
              const channels::public_key& key) {
  if (a.status == 0) // a forbidden address or an oversized answer stays so
    return a.final ? unusable("transport: " + a.error) : try_again("transport: " + a.error);
  if (retryable_status(a.status))
    return try_again("http_" + std::to_string(a.status));
  if (a.status != 200)
    return unusable("http_" + std::to_string(a.status));
  switch (c.kind) {
    case call_kind::open: return read_open(a.body, c, key);
    case call_kind::query: return read_query(a.body, c, key);
    case call_kind::close: return read_close(a.body, c, key);
    case call_kind::refund: return read_refund(a.body, c, key);
  }
  return unusable("invalid_response: unknown call");
}

std::string_view method_of(call_kind kind) {
  switch (kind) {
    case call_kind::open: return alipay::methods::precreate;
    case call_kind::query: return alipay::methods::query;
    case call_kind::close: return alipay::methods::close;
    case call_kind::refund: return alipay::methods::refund;
  }
  return "unknown";
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

void refresh_breaker(gateway_self self, clock_type::time_point now) {
  auto& st = self->state;
  const auto before = st.breaker.current();
  const auto after = st.breaker.refresh(now);
  if (after != before)
    log_transition(st, before, after);
}

void record_attempt(gateway_self self, bool healthy, bool probe) {
  auto& st = self->state;
  const auto before = st.breaker.current();
  st.breaker.record(healthy, probe, clock_type::now());
  const auto after = st.breaker.current();
  if (after != before)
    log_transition(st, before, after);
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
                                          {"method", method_of(c.kind)},
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
  auto v = judge(c, answer, *st.settings.channel_key);
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
  self
    ->request(st.workers[worker], std::chrono::milliseconds{st.settings.attempt_timeout_ms()},
              http_attempt{c.body})
    .then(
      [=](const http_answer& answer) { on_answer(self, id, worker, sent, answer); },
      [=](caf::error& err) {
        on_answer(self, id, worker, sent, http_answer{0, {}, caf::to_string(err)});
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

caf::result<channel_reply> start(gateway_self self, prepared p) {
  if (auto* refusal = std::get_if<channel_reply>(&p))
    return std::move(*refusal);
  auto& out = std::get<outbound>(p);
  auto& st = self->state;
  bool probe = false;
  if (auto refusal = admit(self, probe))
    return std::move(*refusal);
  auto body = sign(out, st.settings);
  if (!body) {
    if (probe)
      st.breaker.abandon_probe();
    logging::error("gateway.sign_failed", {{"channel", st.settings.channel},
                                           {"error", body.error().detail}});
    return reply_of(channel_outcome::unavailable, "sign_failed");
  }
  const auto id = st.next_call_id++;
  auto& c = st.calls[id];
  c.kind = out.kind;
  c.out_trade_no = std::move(out.out_trade_no);
  c.body = std::move(body).value();
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
  return start(self, checked(prepare(x, self->state.settings)));
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
