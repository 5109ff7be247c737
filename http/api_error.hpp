#pragma once
// The error object of API.md:
// {"error": {"type", "code", "message", "param"}} with an HTTP status.

#include "http/message.hpp"
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace payengine::http {

struct api_error {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string code;
  std::string message;
  std::string param;     // only where one field is at fault
  nlohmann::json extra;  // more members of the error object (e.g. "id")
  /// Known to have changed nothing (refused before any commit): running the
  /// request again is safe, and its Idempotency-Key is released. Sent as
  /// `Payengine-Nothing-Changed: true`.
  bool nothing_changed = false;
  /// Retry-After of a 429 or 503, in whole seconds.
  uint32_t retry_after_s = 1;
};

/// The header that carries api_error::nothing_changed.
constexpr const char* nothing_changed_header = "Payengine-Nothing-Changed";

api_error invalid_request(std::string code, std::string message, std::string param = {});
api_error invalid_param(std::string param, std::string message);
api_error not_found(std::string what = "order");
api_error unauthorized();
api_error service_unavailable(std::string code, std::string message);
/// 503 for a request refused before anything was committed.
api_error unavailable_nothing_changed(std::string code, std::string message);

nlohmann::json to_json(const api_error& e);

/// Writes `e` as the response (status, JSON body, Retry-After for 429/503).
void send(response& res, const api_error& e);

/// Writes a JSON body with `status`.
void send_json(response& res, int status, const nlohmann::json& body);
/// The same for a body already rendered as send_json would render it.
void send_json_text(response& res, int status, const std::string& body);

} // namespace payengine::http
