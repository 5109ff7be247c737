#pragma once
// The HTTP API (cpp-httplib): a bounded worker pool, TCP_NODELAY, finite
// timeouts, JSON errors for everything that goes wrong before a route runs.

#include "config/config.hpp"
#include "http/context.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>
#include <httplib.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace payengine::http {

class api_server {
public:
  api_server(caf::actor_system& sys, std::shared_ptr<engine_directory> directory, engine_config cfg,
             std::optional<channels::public_key> alipay_key,
             std::shared_ptr<shard_map> cluster = {});
  ~api_server();

  /// Binds the listen address; false (with `error`) if it cannot.
  bool bind(std::string& error);

  /// Serves on a background thread until stop().
  void start();

  /// Stops accepting, lets in-flight requests finish, joins the workers.
  void stop();

  int port() const { return port_; }

private:
  void configure();

  std::unique_ptr<server_context> ctx_;
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
  socket_t listen_socket_ = -1;
};

} // namespace payengine::http
