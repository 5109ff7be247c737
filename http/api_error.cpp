#include "http/api_error.hpp"

namespace payengine::http {

namespace {

constexpr const char* json_type = "application/json; charset=utf-8";

} // namespace

api_error invalid_request(std::string code, std::string message, std::string param) {
  return {400, "invalid_request_error", std::move(code), std::move(message),
          std::move(param), {}};
}

api_error invalid_param(std::string param, std::string message) {
  return invalid_request("parameter_invalid", std::move(message), std::move(param));
}

api_error not_found(std::string what) {
  return {404, "invalid_request_error", "resource_missing",
          "No such " + what + ".", {}, {}};
}

api_error unauthorized() {
  return {401, "authentication_error", "invalid_api_key",
          "Provide a valid API key as 'Authorization: Bearer <key>'.", {}, {}};
}

api_error service_unavailable(std::string code, std::string message) {
  return {503, "api_error", std::move(code), std::move(message), {}, {}};
}

api_error unavailable_nothing_changed(std::string code, std::string message) {
  auto e = service_unavailable(std::move(code), std::move(message));
  e.nothing_changed = true;
  return e;
}

nlohmann::json to_json(const api_error& e) {
  nlohmann::json err = {{"type", e.type}, {"code", e.code}, {"message", e.message}};
  if (!e.param.empty())
    err["param"] = e.param;
  if (e.extra.is_object())
    err.update(e.extra);
  return {{"error", std::move(err)}};
}

void send(response& res, const api_error& e) {
  if (e.status == 429 || e.status == 503)
    res.set_header("Retry-After", std::to_string(e.retry_after_s));
  if (e.nothing_changed)
    res.set_header(nothing_changed_header, "true");
  send_json(res, e.status, to_json(e));
}

void send_json(response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  json_type);
}

void send_json_text(response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, json_type);
}

} // namespace payengine::http
