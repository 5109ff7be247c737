#pragma once
// The HTTP API's front door (Boost.Beast on Asio, in server.cpp): a few
// event-loop threads own every socket, so an idle or slow connection costs
// memory, never a thread. Each request has one deadline for its headers
// and body; idle keep-alive connections close; beyond http_connections_max
// a connection is refused at once. Admitted requests run their handler on
// a bounded pool (http/worker_pool.hpp) under an adaptive concurrency limit;
// past it the answer is an immediate 503 with Retry-After.

#include "config/config.hpp"
#include "http/context.hpp"
#include "messages/interfaces.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <optional>
#include <string>

namespace payengine::http {

class api_server {
public:
  api_server(caf::actor_system& sys, std::shared_ptr<engine_directory> directory, engine_config cfg,
             callback_keys keys, std::shared_ptr<shard_map> cluster = {});
  ~api_server();

  /// Binds the listen address; false (with `error`) if it cannot.
  bool bind(std::string& error);

  /// Serves on background threads until stop().
  void start();

  /// Stops accepting, lets in-flight requests finish, joins the threads.
  void stop();

  int port() const { return port_; }

  class front; // server.cpp: the event loop, the router, the worker pool

private:
  std::shared_ptr<server_context> ctx_;
  std::shared_ptr<front> front_;
  int port_ = 0;
};

} // namespace payengine::http
