#pragma once

#include <optional>
#include <string>

#include "sim/notifier.hpp"
#include "sim/trade_book.hpp"
#include "sim/wechat_keys.hpp"
#include "sim/wechat_requests.hpp"

// WeChat Pay API v3 for one merchant: native prepay, query by
// out-trade-no, close and domestic refund. Each call's Authorization is
// verified with the merchant's key before anything else is read; the
// answer is a status and a JSON body (empty for 204), which the route signs
// with the platform key (routes.cpp).
namespace payengine::sim {

// One request as the merchant signed it.
struct wechat_call {
  std::string method;         // "GET" or "POST"
  std::string target;         // path and query, as sent
  std::string authorization;  // the header's value
  std::string body;
};

struct wechat_reply {
  int status = 200;
  std::string body;  // "" with 204
};

class wechat_gateway {
 public:
  wechat_gateway(trade_book& trades, notifier& notices, const wechat_keys& keys)
      : trades_(trades), notices_(notices), keys_(keys) {}

  // POST /v3/pay/transactions/native -> 200 {"code_url"}
  [[nodiscard]] wechat_reply prepay(const wechat_call& call);
  // GET /v3/pay/transactions/out-trade-no/{otn}?mchid= -> 200 transaction
  [[nodiscard]] wechat_reply query(const wechat_call& call, const std::string& out_trade_no,
                                   const std::optional<std::string>& mchid);
  // POST /v3/pay/transactions/out-trade-no/{otn}/close {"mchid"} -> 204
  [[nodiscard]] wechat_reply close(const wechat_call& call, const std::string& out_trade_no);
  // POST /v3/refund/domestic/refunds -> 200 refund
  [[nodiscard]] wechat_reply refund(const wechat_call& call);

 private:
  [[nodiscard]] std::optional<wechat_refusal> verify(const wechat_call& call) const;
  [[nodiscard]] std::optional<wechat_refusal> check_mchid(const std::string& mchid) const;

  trade_book& trades_;
  notifier& notices_;
  const wechat_keys& keys_;
};

// {"code", "message"} with the refusal's status.
[[nodiscard]] wechat_reply refused(const wechat_refusal& r);

}  // namespace payengine::sim
