#include "actors/gateway_worker.hpp"

#include <caf/all.hpp>

#include <httplib.h>

#include <chrono>
#include <exception>

namespace payengine {

namespace {

std::unique_ptr<httplib::Client> make_client(const worker_settings& s) {
  auto client = std::make_unique<httplib::Client>(s.base_url);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::chrono::milliseconds{s.connect_timeout_ms});
  client->set_read_timeout(std::chrono::milliseconds{s.read_timeout_ms});
  client->set_write_timeout(std::chrono::milliseconds{s.write_timeout_ms});
  return client;
}

/// One exchange; never throws (httplib and the allocator are caught here).
http_answer post(gateway_worker_self self, const http_attempt& attempt) {
  auto& st = self->state;
  ++st.attempts;
  try {
    auto res = st.client->Post(st.settings.path, attempt.body,
                               st.settings.content_type);
    if (!res)
      return {0, {}, httplib::to_string(res.error())};
    return {res->status, std::move(res->body), {}};
  } catch (const std::exception& e) {
    return {0, {}, e.what()};
  }
}

} // namespace

gateway_worker_state::gateway_worker_state() = default;
gateway_worker_state::~gateway_worker_state() = default;

gateway_worker_actor::behavior_type gateway_worker_impl(gateway_worker_self self,
                                                        worker_settings settings) {
  self->state.client = make_client(settings);
  self->state.settings = std::move(settings);
  // A worker lives as long as its gateway (linked), even when that one
  // quits normally.
  self->set_exit_handler([=](caf::exit_msg& msg) { self->quit(msg.reason); });
  return {
    [=](const http_attempt& attempt) { return post(self, attempt); },
  };
}

} // namespace payengine
