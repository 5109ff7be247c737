#include "sim/routes.hpp"

#include <deque>
#include <mutex>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "sim/publish.hpp"

namespace payengine::sim {
namespace {

using nlohmann::json;
namespace alipay = channels::alipay;

constexpr std::int64_t pay_amount_max = 1'000'000'000'000;  // API.md's bound on amounts

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json; charset=utf-8");
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  const char* type = status >= 500 ? "api_error" : status == 409 ? "conflict_error" : "invalid_request_error";
  reply(res, status, {{"error", {{"type", type}, {"message", message}}}});
}

json parse_body(const httplib::Request& req) { return json::parse(req.body, nullptr, false); }

std::string query_string(const httplib::Request& req) {
  const auto mark = req.target.find('?');
  return mark == std::string::npos ? std::string{} : req.target.substr(mark + 1);
}

void on_gateway(services& s, const httplib::Request& req, httplib::Response& res) {
  const faults f = s.faults.current(channel::alipay);
  if (f.latency_ms > 0) s.stopping.sleep_for(std::chrono::milliseconds(f.latency_ms));
  if (s.faults.roll(f.error_rate)) {
    if (s.faults.roll(0.5)) return reply_error(res, 500, "injected fault");
    return res.set_content(s.alipay_gateway.unavailable(query_string(req), req.body), "application/json;charset=utf-8");
  }
  const std::string answer = s.alipay_gateway.handle(query_string(req), req.body);
  // The work is done; only the answer is late, as with a real timeout.
  if (s.faults.roll(f.timeout_rate)) s.stopping.sleep_for(std::chrono::milliseconds(f.timeout_ms));
  res.set_content(answer, "application/json;charset=utf-8");
}

int status_of(const refusal& r) { return r.sub_code == alipay::sub_codes::trade_not_exist ? 404 : 409; }

// The buyer's side of a QR code: {"result": "success"|"fail", "amount": N}.
void on_qr_post(services& s, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  if (!body.is_object() || !body.contains("result") || !body["result"].is_string()) {
    return reply_error(res, 400, R"(body must be {"result": "success"|"fail"})");
  }
  const std::string result = body["result"].get<std::string>();
  std::optional<std::int64_t> amount;
  if (body.contains("amount")) {
    const auto& value = body["amount"];
    if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > pay_amount_max) {
      return reply_error(res, 400, "amount must be an integer from 1 to 10^12");
    }
    amount = value.get<std::int64_t>();
  }
  if (result != "success" && result != "fail") return reply_error(res, 400, "result must be success or fail");
  const std::string trade_no = req.matches[1];
  auto outcome = result == "success" ? s.trades.pay(trade_no, amount) : s.trades.fail(trade_no);
  if (auto* r = std::get_if<refusal>(&outcome)) return reply_error(res, status_of(*r), r->sub_msg);
  const auto& c = std::get<change>(outcome);
  publish(s.notices, s.sim_key, c.after, c.notice);
  if (s.wechat_identity != nullptr) publish(s.notices, *s.wechat_identity, c.after, c.wechat_event);
  reply(res, 200, to_json(c.after));
}

void on_qr_get(services& s, const httplib::Request& req, httplib::Response& res) {
  auto outcome = s.trades.scanned(req.matches[1]);
  if (auto* r = std::get_if<refusal>(&outcome)) return reply_error(res, 404, r->sub_msg);
  const auto& t = std::get<trade>(outcome);
  reply(res, 200,
        {{"trade_no", t.trade_no}, {"subject", t.subject}, {"total_amount", t.total_amount},
         {"channel", to_string(t.via)}, {"status", status_text(t)}});
}

// ?channel=alipay|wechat: nullopt when absent; false when unknown.
bool channel_param(const httplib::Request& req, std::optional<channel>& out) {
  if (!req.has_param("channel")) return true;
  out = channel_from(req.get_param_value("channel"));
  return out.has_value();
}

void on_faults_get(services& s, const httplib::Request& req, httplib::Response& res) {
  std::optional<channel> only;
  if (!channel_param(req, only)) return reply_error(res, 400, "channel must be alipay or wechat");
  reply(res, 200, s.faults.describe(only));
}

void on_faults_post(services& s, const httplib::Request& req, httplib::Response& res) {
  const auto parsed = parse_faults(parse_body(req));
  if (const auto* message = std::get_if<std::string>(&parsed)) return reply_error(res, 400, *message);
  const auto& setting = std::get<fault_setting>(parsed);
  s.faults.set(setting);
  const json current = s.faults.describe(setting.only);
  spdlog::info("faults set: {}", current.dump());
  reply(res, 200, current);
}

void on_trades(services& s, httplib::Response& res) {
  json data = json::array();
  for (const auto& t : s.trades.list()) data.push_back(to_json(t));
  reply(res, 200, {{"data", data}});
}

void on_trade(services& s, const httplib::Request& req, httplib::Response& res) {
  std::optional<channel> only;
  if (!channel_param(req, only)) return reply_error(res, 400, "channel must be alipay or wechat");
  const auto t = s.trades.find(req.matches[1], only);
  if (!t) return reply_error(res, 404, "no such trade");
  reply(res, 200, to_json(*t));
}

// --- WeChat Pay v3 ---------------------------------------------------------

// The answer with its platform signature (Wechatpay-Timestamp, -Nonce,
// -Signature, -Serial), errors and 204 included.
void reply_signed(const wechat_keys& keys, httplib::Response& res, const wechat_reply& answer) {
  auto headers = keys.sign(answer.body);
  if (!headers) {  // only an OpenSSL failure gets here
    spdlog::error("cannot sign WeChat answer: {}", headers.error().detail);
    return reply(res, 500, {{"code", wechat_codes::system_error}, {"message", "cannot sign"}});
  }
  res.status = answer.status;
  for (const auto& [name, value] : *headers) res.set_header(name.c_str(), value);
  if (!answer.body.empty()) res.set_content(answer.body, "application/json; charset=utf-8");
}

// error_rate: a signed 500 SYSTEM_ERROR or 429 FREQUENCY_LIMITED, half each.
wechat_reply injected_error(services& s) {
  if (s.faults.roll(0.5)) return refused({500, wechat_codes::system_error, "系统错误"});
  return refused({429, wechat_codes::frequency_limited, "频率超限"});
}

// Faults, then the call, for every WeChat route; without the WeChat
// settings, an unsigned 500 (there is no key to sign with).
template <class Call>
void on_wechat(services& s, const httplib::Request& req, httplib::Response& res, Call call) {
  if (s.wechat == nullptr) {
    return reply(res, 500, {{"code", wechat_codes::system_error}, {"message", "wechat not configured"}});
  }
  const faults f = s.faults.current(channel::wechat);
  if (f.latency_ms > 0) s.stopping.sleep_for(std::chrono::milliseconds(f.latency_ms));
  if (s.faults.roll(f.error_rate)) return reply_signed(*s.wechat_identity, res, injected_error(s));
  const wechat_call signed_call{req.method, req.target, req.get_header_value("Authorization"), req.body};
  const wechat_reply answer = call(*s.wechat, signed_call);
  // The work is done; only the answer is late, as with a real timeout.
  if (s.faults.roll(f.timeout_rate)) s.stopping.sleep_for(std::chrono::milliseconds(f.timeout_ms));
  reply_signed(*s.wechat_identity, res, answer);
}

void register_wechat_routes(httplib::Server& server, services& s) {
  using req_t = const httplib::Request&;
  using res_t = httplib::Response&;
  server.Post("/v3/pay/transactions/native", [&s](req_t req, res_t res) {
    on_wechat(s, req, res, [](wechat_gateway& g, const wechat_call& c) { return g.prepay(c); });
  });
  server.Get(R"(/v3/pay/transactions/out-trade-no/([^/]+))", [&s](req_t req, res_t res) {
    const std::string out_trade_no = req.matches[1];
    std::optional<std::string> mchid;
    if (req.has_param("mchid")) mchid = req.get_param_value("mchid");
    on_wechat(s, req, res, [&](wechat_gateway& g, const wechat_call& c) { return g.query(c, out_trade_no, mchid); });
  });
  server.Post(R"(/v3/pay/transactions/out-trade-no/([^/]+)/close)", [&s](req_t req, res_t res) {
    const std::string out_trade_no = req.matches[1];
    on_wechat(s, req, res, [&](wechat_gateway& g, const wechat_call& c) { return g.close(c, out_trade_no); });
  });
  server.Post("/v3/refund/domestic/refunds", [&s](req_t req, res_t res) {
    on_wechat(s, req, res, [](wechat_gateway& g, const wechat_call& c) { return g.refund(c); });
  });
}

void on_sms_send(services& s, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req);
  std::string detail;
  const auto result = s.sms.send(body, detail);
  if (result != sms_result::sent) return reply_error(res, static_cast<int>(result), detail);
  reply(res, 200, {{"id", body.at("id")}, {"status", "sent"}});
}

void on_sms_list(services& s, httplib::Response& res) {
  json data = json::array();
  for (const auto& m : s.sms.messages()) data.push_back(to_json(m));
  reply(res, 200, {{"data", data}});
}

// A stand-in for the merchant's server in demos: keeps the last webhooks
// it received (bounded), with their Standard Webhooks headers.
class webhook_sink {
 public:
  void add(const httplib::Request& req) {
    std::lock_guard lock{mutex_};
    if (received_.size() >= 1'000) received_.pop_front();
    auto body = json::parse(req.body, nullptr, false);
    received_.push_back({{"webhook-id", req.get_header_value("webhook-id")},
                         {"webhook-timestamp", req.get_header_value("webhook-timestamp")},
                         {"webhook-signature", req.get_header_value("webhook-signature")},
                         {"body", body.is_discarded() ? json(req.body) : body}});
  }
  json list() const {
    std::lock_guard lock{mutex_};
    return {{"data", json(std::vector<json>(received_.begin(), received_.end()))}};
  }

 private:
  mutable std::mutex mutex_;
  std::deque<json> received_;
};

webhook_sink& merchant_webhooks() {
  static webhook_sink sink;
  return sink;
}

}  // namespace

void register_routes(httplib::Server& server, services& s) {
  using req_t = const httplib::Request&;
  using res_t = httplib::Response&;
  server.Post("/gateway.do", [&s](req_t req, res_t res) { on_gateway(s, req, res); });
  server.Get(R"(/qr/([0-9A-Za-z_-]+))", [&s](req_t req, res_t res) { on_qr_get(s, req, res); });
  server.Post(R"(/qr/([0-9A-Za-z_-]+))", [&s](req_t req, res_t res) { on_qr_post(s, req, res); });
  register_wechat_routes(server, s);
  server.Get("/sim/faults", [&s](req_t req, res_t res) { on_faults_get(s, req, res); });
  server.Post("/sim/faults", [&s](req_t req, res_t res) { on_faults_post(s, req, res); });
  server.Get("/sim/trades", [&s](req_t, res_t res) { on_trades(s, res); });
  server.Get(R"(/sim/trades/(.+))", [&s](req_t req, res_t res) { on_trade(s, req, res); });
  server.Post("/sms/send", [&s](req_t req, res_t res) { on_sms_send(s, req, res); });
  server.Get("/sms/messages", [&s](req_t, res_t res) { on_sms_list(s, res); });
  server.Post("/merchant/webhooks", [](req_t req, res_t res) {
    merchant_webhooks().add(req);
    reply(res, 200, {{"received", true}});
  });
  server.Get("/merchant/webhooks", [](req_t, res_t res) { reply(res, 200, merchant_webhooks().list()); });
  server.Get("/healthz", [](req_t, res_t res) { reply(res, 200, {{"status", "ok"}}); });
  server.set_exception_handler([](req_t, res_t res, std::exception_ptr) { reply_error(res, 500, "internal error"); });
}

}  // namespace payengine::sim
