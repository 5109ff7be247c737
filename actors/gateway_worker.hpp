#pragma once
// A gateway worker: a detached actor (it blocks on HTTP) that owns one
// keep-alive connection to a channel and makes exactly one HTTP attempt per
// message, answering with the raw status and body or a transport error.
// It knows nothing of the channel's protocol, retries or breakers: the
// gateway (actors/gateway.cpp) decides all of that. The sync half of the
// half-sync/half-async split.

#include "net/outbound_call.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace payengine {

/// One signed request to the channel (channels/channel_protocol.hpp).
struct http_attempt {
  std::string method = "POST";
  std::string path; // empty: the worker's own (the gateway URL's path)
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_attempt& x) {
  return f(caf::meta::type_name("http_attempt"), x.method, x.path, x.content_type,
           x.headers, x.body);
}

/// What came back. `status` 0 means no usable HTTP answer (see `error`).
struct http_answer {
  int status = 0;
  std::string body;
  std::string error; // "Read", "deadline_exceeded: ...", ...; empty otherwise
  /// Sending it again cannot help: the address is forbidden, the URL
  /// unusable, the answer over the size cap (see net/outbound_call.hpp).
  bool final = false;
  std::vector<std::pair<std::string, std::string>> headers; // the answer's
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_answer& x) {
  return f(caf::meta::type_name("http_answer"), x.status, x.body, x.error, x.final,
           x.headers);
}

using gateway_worker_actor =
  caf::typed_actor<caf::replies_to<http_attempt>::with<http_answer>>;

struct worker_settings {
  uint32_t index = 0;
  std::string base_url; // scheme://host[:port]
  std::string path;     // e.g. "/gateway.do"
  std::string content_type = "application/x-www-form-urlencoded;charset=utf-8";
  /// Where it may connect, the total deadline, per-operation timeouts,
  /// the answer's size cap (keep-alive on).
  net::address_policy policy;
  net::call_limits limits;
};

struct gateway_worker_state {
  static inline const char* name = "gateway_worker";

  gateway_worker_state();
  ~gateway_worker_state();

  worker_settings settings;
  std::unique_ptr<net::outbound_caller> caller; // keep-alive; reconnects on demand
  uint64_t attempts = 0;
};

using gateway_worker_self =
  gateway_worker_actor::stateful_pointer<gateway_worker_state>;

/// Spawn with `caf::detached`: every message blocks for one HTTP exchange.
gateway_worker_actor::behavior_type gateway_worker_impl(gateway_worker_self self,
                                                        worker_settings settings);

} // namespace payengine
