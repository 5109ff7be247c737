#pragma once
// A storage writer: a detached actor (it blocks on libpqxx) that owns one
// connection and drains its mailbox into one transaction per batch (group
// commit). Each request is answered only after its batch has committed; a
// database error fails the requests of that batch with a clear error and
// never crashes the engine. Its queue is bounded: a request that finds
// `queue_max` others waiting is refused at once (overloaded, nothing
// applied), except the ones that finish work already done (completing or
// releasing an idempotency key, recording a delivery, ending leases).
// Each statement is bounded by the session's statement_timeout. A batch of
// new orders only goes as one transaction in one round trip on a second
// connection (storage/one_trip.hpp).

#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"
#include "storage/database.hpp"
#include "storage/one_trip.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace payengine {

struct writer_settings {
  uint32_t index = 0;
  std::string database_url;
  uint32_t batch_max = 256;
  /// Requests waiting (mailbox and open batch) beyond which a new one is
  /// refused at once with engine_error::overloaded, nothing applied.
  uint32_t queue_max = 4'096;
  storage::session_limits limits; // connect and statement timeouts
  /// This node's shards (several nodes): every order write is fenced by its
  /// shard's epoch. Null: no fencing (one node that owns everything).
  std::shared_ptr<shard_map> cluster;
};

struct storage_writer_state {
  static inline const char* name = "storage_writer";

  /// A transition waiting for the batch's one multi-row statement.
  struct transition_slot {
    transition_write write;
    write_result result;
    bool fenced = false; // its shard is not this node's (epoch moved): not written
    caf::error error;    // this write alone failed (a batch of plain creates)
  };

  /// A delivery attempt's outcome, recorded with the batch's others in one
  /// statement.
  struct outcome_slot {
    delivery_outcome outcome;
    bool found = false; // its outbox row was there
  };

  /// One request: `run` executes its statements inside the batch's
  /// transaction (transitions and delivery outcomes instead fill their slot,
  /// each kind written together); `deliver` answers after the commit;
  /// `fail` answers errors.
  struct job {
    std::function<void(pqxx::work&)> run;
    std::function<void()> deliver;
    std::function<void(const caf::error&)> fail;
    std::shared_ptr<transition_slot> transition;
    std::shared_ptr<outcome_slot> outcome;
  };

  writer_settings settings;
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<storage::one_trip_connection> creates_conn; // batches of new orders
  std::chrono::steady_clock::time_point creates_retry_at{};   // after a failed connect
  std::vector<job> batch;
  bool flush_scheduled = false;
  bool full = false;        // the last request was refused (for the log)
  uint64_t refused = 0;     // requests refused because the queue was full
  writer_info info;
};

using storage_writer_self = storage_writer_actor::stateful_pointer<storage_writer_state>;

storage_writer_actor::behavior_type storage_writer_impl(storage_writer_self self,
                                                        writer_settings settings);

} // namespace payengine
