#include "channels/alipay_protocol.hpp"

#include "channels/alipay.hpp"
#include "messages/money.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <optional>
#include <variant>

namespace payengine::channels {

namespace {

// --- requests --------------------------------------------------------------------

using channel_request = std::variant<alipay::precreate_request, alipay::query_request,
                                     alipay::close_request, alipay::refund_request>;

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

/// Alipay's "yyyy-MM-dd HH:mm:ss" (Beijing time) for a UTC timestamp.
std::string channel_time(timestamp_us t) {
  if (t <= 0)
    return {};
  return alipay::format_timestamp(std::chrono::system_clock::time_point{
    std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::microseconds{t})});
}

/// What the channel would refuse anyway is refused here, unsent.
std::optional<channel_reply> refusal_of(const channel_request& request) {
  auto biz = std::visit([](const auto& r) { return alipay::to_biz_content(r); }, request);
  if (!biz)
    return reply_of(channel_outcome::rejected, "invalid_request: " + biz.error().detail);
  return std::nullopt;
}

/// A checked request, to be signed (once, after admission) with the app's key.
prepared outbound_of(const alipay_protocol_settings& s, call_kind kind,
                     channel_request request, std::string out_trade_no,
                     std::string notify_url, int exponent) {
  if (auto refusal = refusal_of(request))
    return std::move(*refusal);
  outbound out;
  out.kind = kind;
  out.out_trade_no = std::move(out_trade_no);
  out.exponent = exponent;
  out.sign = [request = std::move(request), notify_url = std::move(notify_url),
              app_id = s.app_id, key = s.app_key]() {
    alipay::request_envelope envelope{
      app_id, notify_url, alipay::format_timestamp(std::chrono::system_clock::now())};
    auto body = std::visit(
      [&](const auto& r) { return alipay::build_request(r, envelope, key); }, request);
    if (!body)
      return result<signed_request>{body.error()};
    signed_request req; // POST to the gateway URL, form-encoded
    req.body = std::move(body).value();
    return result<signed_request>{std::move(req)};
  };
  return out;
}

// --- answers ---------------------------------------------------------------------

std::string reason_of(const alipay::reply_head& head) {
  return head.sub_code.empty() ? head.code : head.sub_code;
}

/// "yyyy-MM-dd HH:mm:ss" in Beijing time -> UTC microseconds; 0 if unreadable.
timestamp_us parse_alipay_time(const std::optional<std::string>& text) {
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
verdict read(const result<Response>& parsed, std::string_view out_trade_no,
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

verdict read_open(std::string_view body, const call_facts& c, const public_key& key) {
  return read(alipay::parse_precreate_response(body, key), c.out_trade_no, false,
              [](const alipay::precreate_response& r) {
                auto reply = reply_of(channel_outcome::ok);
                reply.qr_code = r.qr_code;
                reply.state = trade_state::waiting;
                return answered(std::move(reply));
              });
}

verdict read_query(std::string_view body, const call_facts& c, const public_key& key) {
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
                reply.paid_at = parse_alipay_time(r.send_pay_date);
                return answered(std::move(reply));
              });
}

verdict read_close(std::string_view body, const call_facts& c, const public_key& key) {
  return read(alipay::parse_close_response(body, key), c.out_trade_no, true,
              [](const alipay::close_response& r) {
                auto reply = reply_of(channel_outcome::ok);
                reply.state = trade_state::closed;
                reply.channel_trade_no = r.trade_no;
                return answered(std::move(reply));
              });
}

verdict read_refund(std::string_view body, const call_facts& c, const public_key& key) {
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

} // namespace

alipay_protocol::alipay_protocol(alipay_protocol_settings settings)
  : settings_(std::move(settings)) {
  // nop
}

// --- requests: checked and converted here, signed once admitted ------------------

prepared alipay_protocol::prepare(const open_trade& x) const {
  const auto exponent = settled_exponent(x.currency, settings_.currencies);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  const auto amount = to_channel_units(x.amount, *exponent);
  if (!amount)
    return reply_of(channel_outcome::rejected, "invalid_request: amount");
  alipay::precreate_request r{x.out_trade_no, *amount, x.subject, {},
                              channel_time(x.expires_at)};
  return outbound_of(settings_, call_kind::open, std::move(r), x.out_trade_no,
                     x.notify_url.empty() ? settings_.notify_url : x.notify_url, *exponent);
}

prepared alipay_protocol::prepare(const query_trade& x) const {
  const auto exponent = settled_exponent(x.currency, settings_.currencies);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  return outbound_of(settings_, call_kind::query, alipay::query_request{x.out_trade_no, {}},
                     x.out_trade_no, {}, *exponent);
}

prepared alipay_protocol::prepare(const close_trade& x) const {
  return outbound_of(settings_, call_kind::close, alipay::close_request{x.out_trade_no, {}},
                     x.out_trade_no, {}, alipay::amount_exponent);
}

prepared alipay_protocol::prepare(const refund_trade& x) const {
  const auto exponent = settled_exponent(x.currency, settings_.currencies);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  const auto amount = to_channel_units(x.amount, *exponent);
  if (!amount)
    return reply_of(channel_outcome::rejected, "invalid_request: amount");
  alipay::refund_request r{x.out_trade_no, {}, *amount, x.refund_id, x.reason};
  return outbound_of(settings_, call_kind::refund, std::move(r), x.out_trade_no, {}, *exponent);
}

// --- answers -----------------------------------------------------------------------

verdict alipay_protocol::judge(const call_facts& call, const exchange& answer) const {
  if (answer.status == 0) // a forbidden address or an oversized answer stays so
    return answer.final ? unusable("transport: " + std::string(answer.transport_error))
                        : try_again("transport: " + std::string(answer.transport_error));
  if (retryable_status(answer.status))
    return try_again("http_" + std::to_string(answer.status));
  if (answer.status != 200)
    return unusable("http_" + std::to_string(answer.status));
  const auto& key = settings_.channel_key;
  switch (call.kind) {
    case call_kind::open: return read_open(answer.body, call, key);
    case call_kind::query: return read_query(answer.body, call, key);
    case call_kind::close: return read_close(answer.body, call, key);
    case call_kind::refund: return read_refund(answer.body, call, key);
  }
  return unusable("invalid_response: unknown call");
}

std::string_view alipay_protocol::method_of(call_kind kind) const {
  switch (kind) {
    case call_kind::open: return alipay::methods::precreate;
    case call_kind::query: return alipay::methods::query;
    case call_kind::close: return alipay::methods::close;
    case call_kind::refund: return alipay::methods::refund;
  }
  return "unknown";
}

} // namespace payengine::channels
