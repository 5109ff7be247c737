#include "messages/order_json.hpp"

#include "messages/timestamps.hpp"

namespace payengine {

namespace {

nlohmann::json text_or_null(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

nlohmann::json time_or_null(timestamp_us t) {
  return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(to_rfc3339(t));
}

} // namespace

nlohmann::json order_json(const order_record& o) {
  return {
    {"id", o.id},
    {"object", "order"},
    {"merchant_order_no", o.merchant_order_no},
    {"amount", o.amount},
    {"currency", o.currency},
    {"subject", o.subject},
    {"channel", o.channel},
    {"status", to_string(o.status)},
    {"amount_refunded", o.amount_refunded},
    {"customer_phone", text_or_null(o.customer_phone)},
    {"notify_url", text_or_null(o.notify_url)},
    {"metadata", o.metadata},
    {"payment",
     {{"attempt", o.payment.attempt},
      {"channel_trade_no", text_or_null(o.payment.channel_trade_no)},
      {"qr_code", text_or_null(o.payment.qr_code)},
      {"paid_at", time_or_null(o.payment.paid_at)},
      {"failure_reason", text_or_null(o.payment.failure_reason)},
      {"method", o.payment.method.empty()
                   ? (o.payment.attempt > 0 ? nlohmann::json("channel") : nlohmann::json(nullptr))
                   : nlohmann::json(o.payment.method)},
      {"wallet", text_or_null(o.payment.wallet)},
      {"channel", o.payment.method == "balance" ? nlohmann::json(nullptr)
                                                : text_or_null(attempt_channel(o))}}},
    {"topup_wallet", text_or_null(o.topup_wallet)},
    {"fulfillment", {{"stage", to_string(o.fulfillment)}}},
    {"created_at", to_rfc3339(o.created_at)},
    {"updated_at", to_rfc3339(o.updated_at)},
    {"expires_at", to_rfc3339(o.expires_at)},
    {"version", o.version},
  };
}

nlohmann::json event_json(const order_event_row& e) {
  auto detail = nlohmann::json::parse(e.detail_json, nullptr, false);
  if (detail.is_discarded())
    detail = nlohmann::json::object();
  nlohmann::json out = {
    {"seq", e.seq},
    {"type", e.type},
    {"from", e.has_from ? nlohmann::json(to_string(e.from)) : nlohmann::json(nullptr)},
    {"to", to_string(e.to)},
    {"at", to_rfc3339(e.at)},
    {"detail", std::move(detail)},
  };
  if (!e.request_id.empty())
    out["request_id"] = e.request_id;
  return out;
}

nlohmann::json events_json(const std::vector<order_event_row>& events) {
  auto data = nlohmann::json::array();
  for (const auto& e : events)
    data.push_back(event_json(e));
  return {{"data", std::move(data)}};
}

} // namespace payengine
