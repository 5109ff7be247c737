#pragma once
// PAYENGINE_AMQP_URL: where the broker is (API.md "Events on RabbitMQ").

#include <string>
#include <variant>

namespace payengine::broker {

/// Where the broker is: PAYENGINE_AMQP_URL, amqp://user:pass@host:port/vhost.
struct amqp_endpoint {
  std::string host;
  int port = 5672;
  std::string user;
  std::string password;
  std::string vhost;
};

/// Parses an amqp:// URL (rabbitmq-c's own parser: %-escapes, default port
/// 5672, vhost "/" when there is no path); the error text otherwise.
std::variant<amqp_endpoint, std::string> parse_amqp_url(const std::string& url);

/// host:port/vhost, without the credentials (for logs and /admin).
std::string describe(const amqp_endpoint& e);

} // namespace payengine::broker
