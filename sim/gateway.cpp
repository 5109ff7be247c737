#include "sim/gateway.hpp"

#include <spdlog/spdlog.h>

#include "sim/publish.hpp"

namespace payengine::sim {
namespace {

namespace alipay = channels::alipay;
using nlohmann::json;
using channels::errc;

std::string_view message_of(std::string_view code) {
  if (code == alipay::codes::success) return "Success";
  if (code == alipay::codes::unavailable) return "Service Currently Unavailable";
  if (code == alipay::codes::missing_argument) return "Missing Required Arguments";
  if (code == alipay::codes::invalid_argument) return "Invalid Arguments";
  if (code == alipay::codes::no_permission) return "Insufficient Permissions";
  return "Business Failed";
}

json success() { return {{"code", alipay::codes::success}, {"msg", message_of(alipay::codes::success)}}; }

json alipay_refused(const refusal& r) {
  return {{"code", r.code}, {"msg", message_of(r.code)}, {"sub_code", r.sub_code}, {"sub_msg", r.sub_msg}};
}

json invalid_parameter(const channels::channel_error& e) {
  return alipay_refused({alipay::codes::business_failed, alipay::sub_codes::invalid_parameter, e.detail});
}

// How Alipay words a request it will not even look at.
json request_refusal(const channels::channel_error& e) {
  switch (e.code) {
    case errc::missing_signature:
      return alipay_refused({alipay::codes::invalid_argument, alipay::sub_codes::missing_signature, e.detail});
    case errc::bad_signature:
      return alipay_refused({alipay::codes::invalid_argument, alipay::sub_codes::invalid_signature, e.detail});
    case errc::unsupported_sign_type:
      return alipay_refused({alipay::codes::invalid_argument, "isv.invalid-signature-type", e.detail});
    case errc::missing_field:
      return alipay_refused({alipay::codes::missing_argument, "isv.missing-parameter", e.detail});
    default:
      return alipay_refused({alipay::codes::invalid_argument, "isv.invalid-parameter", e.detail});
  }
}

bool is_known(std::string_view method) {
  return method == alipay::methods::precreate || method == alipay::methods::query ||
         method == alipay::methods::close || method == alipay::methods::refund;
}

// Query-string and body parameters together; a name in both is refused.
channels::result<channels::params> read_params(std::string_view query_string, std::string_view body) {
  auto fields = channels::form_decode(query_string);
  if (!fields) return fields.error();
  auto from_body = channels::form_decode(body);
  if (!from_body) return from_body.error();
  for (auto& [name, value] : *from_body) {
    if (!fields->emplace(name, std::move(value)).second) {
      return channels::channel_error{errc::malformed_form, "parameter in both query and body: " + name};
    }
  }
  return fields;
}

std::string field_or_empty(const channels::params& fields, std::string_view name) {
  const auto it = fields.find(name);
  return it == fields.end() ? std::string{} : it->second;
}

bool is_http_url(const std::string& url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.rfind(scheme, 0) == 0 && url.size() > scheme.size()) return true;
  }
  return false;
}

std::string decimal(std::int64_t minor) {
  return channels::minor_to_decimal(minor, alipay::amount_exponent).value_or("0.00");
}

template <class T, class Fn>
json on_outcome(outcome<T> result, Fn on_success) {
  if (auto* r = std::get_if<refusal>(&result)) return alipay_refused(*r);
  return on_success(std::get<T>(result));
}

json trade_ids(const trade& t) {
  json body = success();
  body["trade_no"] = t.trade_no;
  body["out_trade_no"] = t.out_trade_no;
  return body;
}

}  // namespace

std::string gateway::handle(std::string_view query_string, std::string_view body) {
  const auto fields = read_params(query_string, body);
  if (!fields) return sign(alipay::error_response_key, request_refusal(fields.error()));
  const std::string method = field_or_empty(*fields, "method");
  if (!is_known(method)) {
    return sign(alipay::error_response_key,
                alipay_refused({alipay::codes::invalid_argument, alipay::sub_codes::invalid_method, "不存在的方法名"}));
  }
  const auto request = alipay::verify_request(*fields, app_key_);
  if (!request) return sign(alipay::response_key(method), request_refusal(request.error()));
  return sign(alipay::response_key(method), dispatch(*request));
}

std::string gateway::unavailable(std::string_view query_string, std::string_view body) {
  const auto fields = read_params(query_string, body);
  const std::string method = fields ? field_or_empty(*fields, "method") : std::string{};
  const auto key = is_known(method) ? alipay::response_key(method) : std::string(alipay::error_response_key);
  return sign(key, alipay_refused({alipay::codes::unavailable, alipay::sub_codes::unknown_error, "系统繁忙"}));
}

json gateway::dispatch(const alipay::gateway_request& request) {
  if (request.method == alipay::methods::precreate) return on_precreate(request);
  if (request.method == alipay::methods::query) return on_query(request);
  if (request.method == alipay::methods::close) return on_close(request);
  return on_refund(request);
}

json gateway::on_precreate(const alipay::gateway_request& request) {
  const auto biz = alipay::parse_precreate_biz(request.biz_content);
  if (!biz) return invalid_parameter(biz.error());
  if (!request.notify_url.empty() && !is_http_url(request.notify_url)) {
    return invalid_parameter({errc::bad_field, "notify_url must be an http(s) URL"});
  }
  return on_outcome(trades_.precreate(*biz, request.app_id, request.notify_url), [](const trade& t) {
    json body = success();
    body["out_trade_no"] = t.out_trade_no;
    body["qr_code"] = t.qr_code;
    return body;
  });
}

json gateway::on_query(const alipay::gateway_request& request) {
  const auto biz = alipay::parse_query_biz(request.biz_content);
  if (!biz) return invalid_parameter(biz.error());
  return on_outcome(trades_.query(biz->out_trade_no, biz->trade_no), [](const trade& t) {
    json body = trade_ids(t);
    body["trade_status"] = alipay::to_string(t.status);
    body["total_amount"] = decimal(t.reported_amount());
    if (t.paid_amount > 0) {
      body["receipt_amount"] = decimal(t.paid_amount);
      body["buyer_logon_id"] = sim_buyer_logon_id;
      body["buyer_user_id"] = sim_buyer_id;
      body["send_pay_date"] = t.gmt_payment;
    }
    return body;
  });
}

json gateway::on_close(const alipay::gateway_request& request) {
  const auto biz = alipay::parse_close_biz(request.biz_content);
  if (!biz) return invalid_parameter(biz.error());
  return on_outcome(trades_.close(biz->out_trade_no, biz->trade_no), [this](const change& c) {
    publish(notices_, sim_key_, c.after, c.notice);
    return trade_ids(c.after);
  });
}

json gateway::on_refund(const alipay::gateway_request& request) {
  const auto biz = alipay::parse_refund_biz(request.biz_content);
  if (!biz) return invalid_parameter(biz.error());
  return on_outcome(trades_.refund(*biz), [this](const refund_outcome& r) {
    publish(notices_, sim_key_, r.after, r.notice);
    json body = trade_ids(r.after);
    body["buyer_logon_id"] = sim_buyer_logon_id;
    body["fund_change"] = r.fund_change ? "Y" : "N";
    body["refund_fee"] = decimal(r.after.refunded_amount);
    body["gmt_refund_pay"] = r.refund.gmt_refund;
    return body;
  });
}

std::string gateway::sign(std::string_view member_key, const json& body) const {
  // Echoed request bytes may be invalid UTF-8: replaced, never thrown on.
  const auto body_text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  auto text = alipay::make_signed_response(member_key, body_text, sim_key_);
  if (!text) {  // only an OpenSSL failure gets here
    spdlog::error("cannot sign response: {}", text.error().detail);
    return R"({"error_response":{"code":"20000","msg":"Service Currently Unavailable"}})";
  }
  return std::move(text).value();
}

}  // namespace payengine::sim
