#include "actors/gateway_worker.hpp"
#include "actors/thread_name.hpp"

#include <caf/all.hpp>

namespace payengine {

namespace {

/// One exchange; never throws (net::outbound_caller catches everything).
http_answer post(gateway_worker_self self, const http_attempt& attempt) {
  auto& st = self->state;
  ++st.attempts;
  net::call_request req;
  req.method = attempt.method;
  req.url = st.settings.base_url + (attempt.path.empty() ? st.settings.path : attempt.path);
  req.headers = attempt.headers;
  req.body = attempt.body;
  req.content_type = attempt.content_type.empty() ? st.settings.content_type
                                                  : attempt.content_type;
  auto r = st.caller->call(req);
  if (r.answered())
    return {r.status, std::move(r.body), {}, false, std::move(r.headers)};
  // A forbidden address, an unusable URL or an oversized answer is the same
  // on the next try; a deadline or a broken connection may not be.
  bool final = r.failure == net::call_failure::address_forbidden
               || r.failure == net::call_failure::invalid_target
               || r.failure == net::call_failure::response_too_large;
  // The gateway says "transport: <error>": "transport: Read",
  // "transport: deadline_exceeded: after 10000 ms".
  auto error = r.failure == net::call_failure::transport ? r.error.substr(r.error.find(": ") + 2)
                                                         : r.error;
  return {0, {}, std::move(error), final, {}};
}

} // namespace

gateway_worker_state::gateway_worker_state() = default;
gateway_worker_state::~gateway_worker_state() = default;

gateway_worker_actor::behavior_type gateway_worker_impl(gateway_worker_self self,
                                                        worker_settings settings) {
  settings.limits.keep_alive = true;
  name_this_thread("pe.gateway." + std::to_string(settings.index));
  self->state.caller = std::make_unique<net::outbound_caller>(settings.policy, settings.limits);
  self->state.settings = std::move(settings);
  // A worker lives as long as its gateway (linked), even when that one
  // quits normally.
  self->set_exit_handler([=](caf::exit_msg& msg) { self->quit(msg.reason); });
  return {
    [=](const http_attempt& attempt) { return post(self, attempt); },
  };
}

} // namespace payengine
