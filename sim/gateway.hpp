#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "channels/alipay.hpp"
#include "sim/notifier.hpp"
#include "sim/trade_book.hpp"

// POST /gateway.do: Alipay's OpenAPI gateway for precreate, query, close
// and refund. Every answer is signed with the simulator's key, refusals
// included, as `{"<method>_response": {...}, "sign": "..."}`.
namespace payengine::sim {

class gateway {
 public:
  gateway(trade_book& trades, notifier& notices, const channels::private_key& sim_key,
          const channels::public_key& app_key)
      : trades_(trades), notices_(notices), sim_key_(sim_key), app_key_(app_key) {}

  // The answer to one call; parameters may come in the query string, the
  // form body, or both.
  [[nodiscard]] std::string handle(std::string_view query_string, std::string_view body);
  // The signed 20000 "service unavailable" answer injected by error_rate.
  [[nodiscard]] std::string unavailable(std::string_view query_string, std::string_view body);

 private:
  [[nodiscard]] nlohmann::json dispatch(const channels::alipay::gateway_request& request);
  [[nodiscard]] nlohmann::json on_precreate(const channels::alipay::gateway_request& request);
  [[nodiscard]] nlohmann::json on_query(const channels::alipay::gateway_request& request);
  [[nodiscard]] nlohmann::json on_close(const channels::alipay::gateway_request& request);
  [[nodiscard]] nlohmann::json on_refund(const channels::alipay::gateway_request& request);
  [[nodiscard]] std::string sign(std::string_view member_key, const nlohmann::json& body) const;

  trade_book& trades_;
  notifier& notices_;
  const channels::private_key& sim_key_;
  const channels::public_key& app_key_;
};

}  // namespace payengine::sim
