#include "broker/amqp_url.hpp"

#include <amqp.h>

#include <vector>

namespace payengine::broker {

std::variant<amqp_endpoint, std::string> parse_amqp_url(const std::string& url) {
  if (url.size() > 2'048)
    return std::string{"the URL is longer than 2048 characters"};
  std::vector<char> buf(url.begin(), url.end());
  buf.push_back('\0');
  struct amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK)
    return std::string{"not an amqp://user:password@host:port/vhost URL"};
  if (info.ssl)
    return std::string{"amqps:// is not supported (TLS is not built in); use amqp://"};
  amqp_endpoint e;
  e.host = info.host ? info.host : "";
  e.port = info.port;
  e.user = info.user ? info.user : "";
  e.password = info.password ? info.password : "";
  // "amqp://host/" has an empty path: RabbitMQ has no vhost "", it means "/".
  e.vhost = info.vhost && *info.vhost ? info.vhost : "/";
  if (e.host.empty() || e.port < 1 || e.port > 65535)
    return std::string{"the URL has no host or a bad port"};
  return e;
}

std::string describe(const amqp_endpoint& e) {
  return e.host + ":" + std::to_string(e.port) + "/" + (e.vhost == "/" ? "" : e.vhost);
}

} // namespace payengine::broker
