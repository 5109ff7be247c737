#pragma once
// The notifier: delivers merchant webhooks (signed per Standard Webhooks)
// and customer SMS from the transactional outbox. Half-sync/half-async: this
// event-based actor claims due deliveries, bounds each merchant's
// concurrency and schedules retries; a pool of detached workers does the
// blocking HTTP, each call with timeouts. Every attempt is recorded; after
// the last one of the schedule the delivery is `dead` until an operator
// redelivers it.

#include "messages/interfaces.hpp"
#include "net/outbound_call.hpp"

#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <memory>
#include <vector>

namespace payengine {

struct notifier_settings {
  /// Delay before attempt k+1 after attempt k failed (already time-scaled);
  /// its size is the number of retries.
  std::vector<uint32_t> retry_delays_ms;
  uint32_t poll_ms = 500;
  uint32_t batch_max = 100;
  uint32_t per_merchant_max = 2;
  uint32_t workers = 8;
  uint32_t timeout_ms = 5'000; // one attempt in total (not time-scaled)
  uint32_t connect_timeout_ms = 2'000;
  uint32_t response_max_bytes = 64 * 1024;
  /// Where webhooks and SMS may connect (API.md "Outbound calls").
  net::address_policy policy;
  uint32_t lease_ms = 600'000;
  /// Started by the top supervisor in a running process: the previous
  /// notifier's workers may still be finishing their attempts, so its
  /// leases are voided only after an attempt's deadline has passed.
  bool successor = false;
  std::string sms_url; // empty: SMS deliveries are recorded dead ("sms_disabled")
  /// Keeps the deadlines of its requests (null: CAF's own timeouts).
  std::shared_ptr<request_timer> timer;
};

/// One detached worker: one HTTP attempt per delivery.
using delivery_worker_actor = caf::typed_actor<caf::replies_to<delivery>::with<delivery_outcome>>;

struct notifier_state {
  static inline const char* name = "notifier";
  notifier_settings settings;
  storage_writer_actor writer;
  std::vector<delivery_worker_actor> workers;
  std::vector<bool> worker_busy; // an attempt goes only to an idle worker
  std::deque<delivery> waiting;                       // claimed, merchant at its bound
  std::unordered_map<std::string, uint32_t> in_flight; // by merchant
  bool claiming = false;
  bool claim_again = false; // a claim was asked for while one was running
  uint64_t attempts = 0;
  uint64_t delivered = 0;
  uint64_t dead = 0;
};

using notifier_self = notifier_actor::stateful_pointer<notifier_state>;

notifier_actor::behavior_type notifier_impl(notifier_self self, notifier_settings settings,
                                            storage_writer_actor writer);

/// The outcome of an attempt that needs no call: nowhere to send it (no
/// notify_url on the order nor the merchant; SMS off). Retrying cannot
/// help (the merchant pulls GET /v1/events instead), so the notifier settles
/// it itself rather than hand it to a worker's thread.
std::optional<delivery_outcome> settled_without_a_call(const delivery& d,
                                                      const notifier_settings& s);

/// The delivery for one attempt: its HTTP request and the answer (no CAF),
/// through `caller` (a worker's: its deadline, size cap and address policy).
delivery_outcome attempt_delivery(const delivery& d, const notifier_settings& s,
                                  net::outbound_caller& caller);

/// The limits of one webhook or SMS attempt.
net::call_limits delivery_limits(const notifier_settings& s);

/// "0,0,0,240,..." seconds -> delays in ms under `time_scale`; empty on error.
std::vector<uint32_t> parse_schedule(const std::string& seconds_csv, double time_scale);

} // namespace payengine
