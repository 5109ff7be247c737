#pragma once
// Requests to the storage writers. Each is answered only after the batch
// that holds it has committed (group commit).

#include "messages/order.hpp"

#include <caf/meta/type_name.hpp>

#include <string>
#include <vector>

namespace payengine {

/// Persist one transition of one order: the new row (optimistic version
/// check against expected_version; 0 means "insert a new order") plus its
/// event rows, in one transaction.
struct transition_write {
  order_record next;
  int64_t expected_version = 0;
  std::vector<order_event_row> events;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transition_write& x) {
  return f(caf::meta::type_name("transition_write"), x.next,
           x.expected_version, x.events);
}

struct write_result {
  bool applied = false;          // the row is committed
  bool duplicate = false;        // insert only: merchant_order_no taken
  std::string existing_order_id; // with duplicate
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_result& x) {
  return f(caf::meta::type_name("write_result"), x.applied, x.duplicate,
           x.existing_order_id);
}

/// `GET /v1/orders`: newest first, after the cursor.
struct order_page_query {
  std::string merchant_id;
  std::string status; // empty: any
  std::string starting_after;
  uint32_t limit = 10;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_page_query& x) {
  return f(caf::meta::type_name("order_page_query"), x.merchant_id, x.status,
           x.starting_after, x.limit);
}

struct order_page {
  std::vector<order_record> data;
  bool has_more = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_page& x) {
  return f(caf::meta::type_name("order_page"), x.data, x.has_more);
}

/// Claim an Idempotency-Key before doing the work.
struct idempotency_claim {
  std::string merchant_id;
  std::string key;
  std::string fingerprint; // sha256 of method, path and body
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, idempotency_claim& x) {
  return f(caf::meta::type_name("idempotency_claim"), x.merchant_id, x.key,
           x.fingerprint);
}

enum class idempotency_state : uint8_t {
  claimed = 0,   // ours: do the work, then complete it
  in_flight = 1, // another request holds it: 409
  mismatch = 2,  // same key, other body: 422
  replay = 3,    // finished before: answer status and body again
};

struct idempotency_result {
  idempotency_state state = idempotency_state::claimed;
  int status = 0;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, idempotency_result& x) {
  return f(caf::meta::type_name("idempotency_result"), x.state, x.status,
           x.body);
}

/// Record the response of a claimed key.
struct idempotency_entry {
  std::string merchant_id;
  std::string key;
  int status = 0;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, idempotency_entry& x) {
  return f(caf::meta::type_name("idempotency_entry"), x.merchant_id, x.key,
           x.status, x.body);
}

/// One storage writer, for the operator and /metrics.
struct writer_info {
  uint32_t index = 0;
  uint64_t batches = 0;
  uint64_t jobs = 0;
  uint64_t failed_batches = 0;
  uint64_t last_batch_size = 0;
  uint64_t max_batch_size = 0;
  int64_t last_commit_us = 0;
  int64_t total_commit_us = 0;
  uint64_t mailbox_depth = 0;
  bool connected = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, writer_info& x) {
  return f(caf::meta::type_name("writer_info"), x.index, x.batches, x.jobs,
           x.failed_batches, x.last_batch_size, x.max_batch_size,
           x.last_commit_us, x.total_commit_us, x.mailbox_depth, x.connected);
}

} // namespace payengine
