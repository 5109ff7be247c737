#include "channels/wechat_protocol.hpp"

#include "channels/json_fields.hpp"
#include "channels/wechat.hpp"
#include "messages/money.hpp"

#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>

namespace payengine::channels {

namespace {

using nlohmann::json;

// WeChat's own bounds on what we send (the API refuses longer).
constexpr std::size_t description_bytes_max = 127;
constexpr std::size_t reason_bytes_max = 80;
constexpr std::size_t out_trade_no_min = 6;
constexpr std::size_t out_trade_no_max = 32;
constexpr std::size_t out_refund_no_max = 64;

namespace paths {
constexpr std::string_view native = "/v3/pay/transactions/native";
constexpr std::string_view by_out_trade_no = "/v3/pay/transactions/out-trade-no/";
constexpr std::string_view refunds = "/v3/refund/domestic/refunds";
} // namespace paths

namespace codes {
constexpr std::string_view order_not_exist = "ORDER_NOT_EXIST";
constexpr std::string_view order_paid = "ORDERPAID";
} // namespace codes

// --- requests --------------------------------------------------------------------

int64_t system_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// 32 hex characters from OpenSSL's CSPRNG; "" if it fails (signing then
/// refuses the empty nonce, so nothing is sent).
std::string random_nonce() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    return {};
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string nonce;
  for (auto b : bytes) {
    nonce.push_back(digits[b >> 4]);
    nonce.push_back(digits[b & 15]);
  }
  return nonce;
}

/// At most `max` bytes of `text`, never ending inside a UTF-8 sequence.
std::string cut_utf8(std::string_view text, std::size_t max) {
  if (text.size() <= max)
    return std::string(text);
  std::size_t end = max;
  // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return std::string(text.substr(0, end));
}

/// WeChat's trade and refund numbers are [0-9A-Za-z_-|*@]; these go into
/// URL paths too, so only the characters that need no escaping are taken
/// (the engine's ids never use the others).
bool plain_id(std::string_view id, std::size_t min, std::size_t max) {
  return id.size() >= min && id.size() <= max
         && std::all_of(id.begin(), id.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                     || c == '_' || c == '-';
            });
}

bool plain_out_trade_no(std::string_view otn) {
  return plain_id(otn, out_trade_no_min, out_trade_no_max);
}

/// JSON text that never throws (invalid UTF-8 is replaced).
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// A checked request, to be signed (once, after admission) with the merchant's key.
prepared outbound_of(const wechat_protocol_settings& s, call_kind kind, std::string method,
                     std::string path, std::string body, std::string out_trade_no, int exponent) {
  outbound out;
  out.kind = kind;
  out.out_trade_no = std::move(out_trade_no);
  out.exponent = exponent;
  out.sign = [method = std::move(method), path = std::move(path), body = std::move(body),
              key = s.merchant_key, mchid = s.mch_id, serial = s.merchant_serial,
              now_s = s.now_s, nonce = s.nonce]() -> result<signed_request> {
    auto authorization =
      wechat::sign_request(key, mchid, serial, method, path, body, now_s(), nonce());
    if (!authorization)
      return authorization.error();
    signed_request req;
    req.method = method;
    req.path = path;
    req.content_type = "application/json";
    req.headers = {{"Authorization", std::move(authorization).value()},
                   {"Accept", "application/json"}};
    req.body = body;
    return req;
  };
  return out;
}

// --- answers ---------------------------------------------------------------------

/// "http_503 SYSTEM_ERROR": the status and, when the body says, WeChat's code.
std::string status_reason(int status, std::string_view body) {
  auto reason = "http_" + std::to_string(status);
  if (auto e = wechat::read_error(body))
    reason += " " + e->code.substr(0, 64);
  return reason;
}

verdict invalid(const channel_error& e) {
  return unusable("invalid_response: " + std::string(to_string(e.code)) + ": " + e.detail);
}

verdict read_open(std::string_view body) {
  auto object = json_fields::parse_object(body);
  if (!object)
    return invalid(object.error());
  auto code_url = json_fields::required_string(*object, "code_url");
  if (!code_url)
    return invalid(code_url.error());
  auto reply = reply_of(channel_outcome::ok);
  reply.qr_code = std::move(code_url).value();
  reply.state = trade_state::waiting;
  return answered(std::move(reply));
}

verdict read_query(std::string_view body, const call_facts& call, std::string_view mchid) {
  auto t = wechat::read_transaction(body);
  if (!t)
    return invalid(t.error());
  if (t->out_trade_no != call.out_trade_no || t->mchid != mchid)
    return unusable("invalid_response: answer for another trade");
  auto reply = reply_of(channel_outcome::ok);
  reply.state = wechat::to_engine_state(t->state);
  reply.channel_trade_no = t->transaction_id;
  if (reply.state == trade_state::succeeded) {
    if (t->transaction_id.empty())
      return unusable("invalid_response: paid without a transaction_id");
    reply.amount = t->total;
    reply.paid_at = wechat::parse_rfc3339_us(t->success_time).value_or(0);
  }
  return answered(std::move(reply));
}

verdict read_refund(std::string_view body, const call_facts& call) {
  auto r = wechat::read_refund_answer(body);
  if (!r)
    return invalid(r.error());
  if (r->out_trade_no != call.out_trade_no)
    return unusable("invalid_response: answer for another trade");
  if (r->refund_status == "PROCESSING") // asked again later, same out_refund_no
    return answered(reply_of(channel_outcome::unavailable, "refund_processing"));
  if (r->refund_status != "SUCCESS") // CLOSED, ABNORMAL
    return answered(reply_of(channel_outcome::rejected, r->refund_status));
  auto reply = reply_of(channel_outcome::ok);
  reply.amount = r->refund;
  reply.channel_trade_no = r->refund_id;
  return answered(std::move(reply));
}

/// A signed 2xx.
verdict read_success(const call_facts& call, const exchange& answer, std::string_view mchid) {
  switch (call.kind) {
    case call_kind::open:
      return answer.status == 200 ? read_open(answer.body) : unusable(status_reason(answer.status, {}));
    case call_kind::query:
      return answer.status == 200 ? read_query(answer.body, call, mchid)
                                  : unusable(status_reason(answer.status, {}));
    case call_kind::close: { // 204, no body
      auto reply = reply_of(channel_outcome::ok);
      reply.state = trade_state::closed;
      return answered(std::move(reply));
    }
    case call_kind::refund:
      return answer.status == 200 ? read_refund(answer.body, call)
                                  : unusable(status_reason(answer.status, {}));
  }
  return unusable("invalid_response: unknown call");
}

/// A signed 4xx: WeChat's definite refusal, with the exceptions the
/// header's table lists.
verdict read_refusal(const call_facts& call, const exchange& answer) {
  auto e = wechat::read_error(answer.body);
  if (!e)
    return invalid(e.error());
  if (call.kind == call_kind::query && answer.status == 404 && e->code == codes::order_not_exist)
    return answered(reply_of(channel_outcome::ok)); // no such trade: state unknown
  if ((call.kind == call_kind::open || call.kind == call_kind::close) && e->code == codes::order_paid)
    return answered(reply_of(channel_outcome::unavailable, e->code)); // paid: query, never switch
  return answered(reply_of(channel_outcome::rejected, e->code));
}

} // namespace

wechat_protocol::wechat_protocol(wechat_protocol_settings settings)
  : settings_(std::move(settings)) {
  if (!settings_.now_s)
    settings_.now_s = system_now_s;
  if (!settings_.nonce)
    settings_.nonce = random_nonce;
}

// --- requests: checked and converted here, signed once admitted ------------------

prepared wechat_protocol::prepare(const open_trade& x) const {
  const auto exponent = settled_exponent(x.currency, settings_.currencies);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  if (x.amount <= 0)
    return reply_of(channel_outcome::rejected, "invalid_request: amount");
  if (!plain_out_trade_no(x.out_trade_no))
    return reply_of(channel_outcome::rejected, "invalid_request: out_trade_no");
  auto description = cut_utf8(x.subject, description_bytes_max);
  if (description.empty())
    return reply_of(channel_outcome::rejected, "invalid_request: description");
  const auto& notify_url = x.notify_url.empty() ? settings_.notify_url : x.notify_url;
  if (notify_url.empty())
    return reply_of(channel_outcome::rejected, "invalid_request: notify_url");
  // WeChat's amounts are the currency's minor units, as the engine's are.
  json body{{"appid", settings_.app_id},
            {"mchid", settings_.mch_id},
            {"description", std::move(description)},
            {"out_trade_no", x.out_trade_no},
            {"notify_url", notify_url},
            {"amount", {{"total", x.amount}, {"currency", x.currency}}}};
  if (x.expires_at > 0)
    body["time_expire"] = wechat::format_rfc3339(x.expires_at);
  return outbound_of(settings_, call_kind::open, "POST", std::string(paths::native), dump(body),
                     x.out_trade_no, *exponent);
}

prepared wechat_protocol::prepare(const query_trade& x) const {
  const auto exponent = settled_exponent(x.currency, settings_.currencies);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  if (!plain_out_trade_no(x.out_trade_no))
    return reply_of(channel_outcome::rejected, "invalid_request: out_trade_no");
  auto path = std::string(paths::by_out_trade_no) + x.out_trade_no + "?mchid=" + settings_.mch_id;
  return outbound_of(settings_, call_kind::query, "GET", std::move(path), "", x.out_trade_no,
                     *exponent);
}

prepared wechat_protocol::prepare(const close_trade& x) const {
  if (!plain_out_trade_no(x.out_trade_no))
    return reply_of(channel_outcome::rejected, "invalid_request: out_trade_no");
  auto path = std::string(paths::by_out_trade_no) + x.out_trade_no + "/close";
  return outbound_of(settings_, call_kind::close, "POST", std::move(path),
                     dump(json{{"mchid", settings_.mch_id}}), x.out_trade_no, 2);
}

prepared wechat_protocol::prepare(const refund_trade& x) const {
  const auto exponent = settled_exponent(x.currency, settings_.currencies);
  if (!exponent)
    return reply_of(channel_outcome::rejected, "unsupported_currency");
  if (x.amount <= 0 || x.trade_amount < x.amount)
    return reply_of(channel_outcome::rejected, "invalid_request: amount");
  if (!plain_out_trade_no(x.out_trade_no) || !plain_id(x.refund_id, 1, out_refund_no_max))
    return reply_of(channel_outcome::rejected, "invalid_request: out_trade_no or out_refund_no");
  json body{{"out_trade_no", x.out_trade_no},
            {"out_refund_no", x.refund_id},
            {"amount", {{"refund", x.amount}, {"total", x.trade_amount}, {"currency", x.currency}}}};
  if (auto reason = cut_utf8(x.reason, reason_bytes_max); !reason.empty())
    body["reason"] = std::move(reason);
  if (!settings_.notify_url.empty())
    body["notify_url"] = settings_.notify_url;
  return outbound_of(settings_, call_kind::refund, "POST", std::string(paths::refunds), dump(body),
                     x.out_trade_no, *exponent);
}

// --- answers -----------------------------------------------------------------------

verdict wechat_protocol::judge(const call_facts& call, const exchange& answer) const {
  if (answer.status == 0) // a forbidden address or an oversized answer stays so
    return answer.final ? unusable("transport: " + std::string(answer.transport_error))
                        : try_again("transport: " + std::string(answer.transport_error));
  // Busy or down: proxies answer these too, unsigned; the same request is resent.
  if (retryable_status(answer.status))
    return try_again(status_reason(answer.status, answer.body));
  // Everything else is read only once the platform's signature verifies.
  if (answer.headers == nullptr)
    return unusable("invalid_response: unsigned answer");
  auto signature = wechat::verify_response(*answer.headers, answer.body, settings_.platform_key,
                                           settings_.platform_serial, settings_.now_s());
  if (!signature)
    return invalid(signature.error());
  if (answer.status >= 200 && answer.status < 300)
    return read_success(call, answer, settings_.mch_id);
  if (answer.status >= 400 && answer.status < 500)
    return read_refusal(call, answer);
  return unusable(status_reason(answer.status, {}));
}

std::string_view wechat_protocol::method_of(call_kind kind) const {
  switch (kind) {
    case call_kind::open: return "wechat.native.prepay";
    case call_kind::query: return "wechat.query";
    case call_kind::close: return "wechat.close";
    case call_kind::refund: return "wechat.refund";
  }
  return "unknown";
}

} // namespace payengine::channels
