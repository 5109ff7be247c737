#include "sim/wechat_gateway.hpp"

#include <nlohmann/json.hpp>

#include "channels/wechat.hpp"
#include "sim/clock.hpp"
#include "sim/publish.hpp"

namespace payengine::sim {
namespace {

using nlohmann::json;

// The one simulated buyer, as WeChat names a payer to the merchant's appid.
constexpr std::string_view sim_payer_openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

std::string dump(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

// The transaction as WeChat's query answers it: the shared JSON
// (wechat::write_transaction) and, once paid, the payer and bank type.
std::string transaction_answer(const trade& t) {
  json body = json::parse(channels::wechat::write_transaction(to_transaction(t)));
  if (t.paid_amount > 0) {
    body["payer"] = {{"openid", sim_payer_openid}};
    body["bank_type"] = "OTHERS";
  }
  return dump(body);
}

// WeChat's refund answer: this refund's amount in `refund`, the trade's in `total`.
std::string refund_answer(const trade& t, const refund_record& r) {
  const json amount = {{"total", t.reported_amount()}, {"refund", r.amount},
                       {"payer_total", t.paid_amount}, {"payer_refund", r.amount},
                       {"settlement_total", t.paid_amount}, {"settlement_refund", r.amount},
                       {"discount_refund", 0},          {"currency", "CNY"}};
  return dump({{"refund_id", r.refund_id},
               {"out_refund_no", r.out_request_no},
               {"transaction_id", t.trade_no},
               {"out_trade_no", t.out_trade_no},
               {"channel", "ORIGINAL"},
               {"user_received_account", "支付用户零钱"},
               {"success_time", r.gmt_refund},
               {"create_time", r.gmt_refund},
               {"status", "SUCCESS"},
               {"funds_account", "AVAILABLE"},
               {"amount", amount},
               {"promotion_detail", json::array()}});
}

template <class T>
const wechat_refusal* refusal_in(const wechat_outcome<T>& outcome) {
  return std::get_if<wechat_refusal>(&outcome);
}

}  // namespace

wechat_reply refused(const wechat_refusal& r) {
  return {r.status, dump({{"code", r.code}, {"message", r.message}})};
}

std::optional<wechat_refusal> wechat_gateway::verify(const wechat_call& call) const {
  const auto checked = channels::wechat::verify_request(call.authorization, keys_.merchant_key, keys_.mch_id,
                                                        keys_.merchant_serial, call.method, call.target, call.body,
                                                        now_s());
  if (checked) return std::nullopt;
  return wechat_refusal{401, wechat_codes::sign_error, "签名错误: " + checked.error().detail};
}

// The body's (or query's) mchid must be the merchant who signed.
std::optional<wechat_refusal> wechat_gateway::check_mchid(const std::string& mchid) const {
  if (mchid == keys_.mch_id) return std::nullopt;
  return param_error("mchid " + mchid.substr(0, 32) + " is not the signing merchant");
}

wechat_reply wechat_gateway::prepay(const wechat_call& call) {
  if (auto bad = verify(call)) return refused(*bad);
  const auto order = parse_native_order(call.body);
  if (const auto* bad = refusal_in(order)) return refused(*bad);
  const auto& o = std::get<native_order>(order);
  if (auto bad = check_mchid(o.mchid)) return refused(*bad);
  if (o.appid != keys_.app_id) {
    return refused({400, wechat_codes::appid_mchid_not_match, "appid和mch_id不匹配"});
  }
  const auto opened = trades_.open_wechat(o);
  if (const auto* bad = refusal_in(opened)) return refused(*bad);
  return {200, dump({{"code_url", std::get<trade>(opened).qr_code}})};
}

wechat_reply wechat_gateway::query(const wechat_call& call, const std::string& out_trade_no,
                                   const std::optional<std::string>& mchid) {
  if (auto bad = verify(call)) return refused(*bad);
  if (!mchid) return refused(param_error("missing mchid"));
  if (auto bad = check_mchid(*mchid)) return refused(*bad);
  const auto found = trades_.query_wechat(out_trade_no);
  if (const auto* bad = refusal_in(found)) return refused(*bad);
  return {200, transaction_answer(std::get<trade>(found))};
}

wechat_reply wechat_gateway::close(const wechat_call& call, const std::string& out_trade_no) {
  if (auto bad = verify(call)) return refused(*bad);
  const auto mchid = parse_close_body(call.body);
  if (const auto* bad = refusal_in(mchid)) return refused(*bad);
  if (auto bad = check_mchid(std::get<std::string>(mchid))) return refused(*bad);
  const auto closed = trades_.close_wechat(out_trade_no);
  if (const auto* bad = refusal_in(closed)) return refused(*bad);
  return {204, ""};
}

wechat_reply wechat_gateway::refund(const wechat_call& call) {
  if (auto bad = verify(call)) return refused(*bad);
  const auto order = parse_refund_order(call.body);
  if (const auto* bad = refusal_in(order)) return refused(*bad);
  const auto done = trades_.refund_wechat(std::get<refund_order>(order));
  if (const auto* bad = refusal_in(done)) return refused(*bad);
  const auto& r = std::get<refund_outcome>(done);
  publish(notices_, keys_, r.after, r.wechat_event);
  return {200, refund_answer(r.after, r.refund)};
}

}  // namespace payengine::sim
