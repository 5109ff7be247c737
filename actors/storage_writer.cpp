#include "actors/storage_writer.hpp"
#include "actors/thread_name.hpp"

#include "config/logging.hpp"
#include "messages/errors.hpp"
#include "storage/database.hpp"
#include "storage/failures.hpp"
#include "storage/tables.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <unordered_map>

namespace payengine {

namespace {

using job = storage_writer_state::job;

/// rolled_back: nothing applied, and the cause may be one request of the
/// batch (they are then run one by one); broken: the (single) request
/// breaks an invariant that storage keeps.
enum class batch_outcome { committed, rolled_back, broken, unavailable, in_doubt };

void schedule_flush(storage_writer_self self);

/// Whether a request may wait here. `bounded` false: it finishes work
/// already done, and refusing it would leave that work dangling.
enum class admission : bool { bounded, always };

/// True when the queue is full: the request is refused, unqueued.
bool refuse(storage_writer_self self, admission a) {
  auto& st = self->state;
  const auto waiting = st.batch.size() + self->mailbox().size();
  const bool full = a == admission::bounded && waiting >= st.settings.queue_max;
  if (full) {
    ++st.refused;
    if (!st.full)
      logging::warn("storage.queue_full", {{"writer", st.settings.index},
                                           {"waiting", waiting},
                                           {"refused", st.refused}});
  }
  st.full = full;
  return full;
}

caf::error queue_full() {
  return make_error(engine_error::overloaded, "storage queue full");
}

/// Queues `query` for the next batch; the promise is kept after the commit.
template <class T, class Query>
caf::result<T> enqueue(storage_writer_self self, Query query,
                       admission a = admission::bounded) {
  if (refuse(self, a))
    return queue_full();
  auto rp = self->make_response_promise<T>();
  auto out = std::make_shared<T>();
  self->state.batch.push_back(job{
    [query = std::move(query), out](pqxx::work& tx) { *out = query(tx); },
    [rp, out]() mutable { rp.deliver(std::move(*out)); },
    [rp](const caf::error& err) mutable { rp.deliver(err); },
    nullptr,
    nullptr,
  });
  schedule_flush(self);
  return rp;
}

/// A delivery's outcome: it finishes an attempt already made, so it is
/// never refused (admission::always), and it is written with the batch's
/// other outcomes in one statement.
caf::result<bool> enqueue_outcome(storage_writer_self self, delivery_outcome o) {
  refuse(self, admission::always); // never refused; keeps the queue-full log's state
  auto rp = self->make_response_promise<bool>();
  auto slot = std::make_shared<storage_writer_state::outcome_slot>();
  slot->outcome = std::move(o);
  self->state.batch.push_back(job{
    nullptr,
    [rp, slot]() mutable { rp.deliver(slot->found); },
    [rp](const caf::error& err) mutable { rp.deliver(err); },
    nullptr,
    slot,
  });
  schedule_flush(self);
  return rp;
}

caf::result<write_result> enqueue_transition(storage_writer_self self, transition_write w) {
  if (refuse(self, admission::bounded))
    return queue_full();
  auto rp = self->make_response_promise<write_result>();
  auto slot = std::make_shared<storage_writer_state::transition_slot>();
  slot->write = std::move(w);
  self->state.batch.push_back(job{
    nullptr,
    [rp, slot]() mutable {
      if (slot->fenced)
        rp.deliver(make_error(engine_error::shard_moved, slot->write.next.id));
      else if (slot->error)
        rp.deliver(slot->error);
      else
        rp.deliver(slot->result);
    },
    [rp](const caf::error& err) mutable { rp.deliver(err); },
    slot,
    nullptr,
  });
  schedule_flush(self);
  return rp;
}

bool ensure_connected(storage_writer_self self) {
  auto& st = self->state;
  if (st.conn && st.conn->is_open())
    return true;
  try {
    st.conn = storage::connect(st.settings.database_url, st.settings.limits);
    st.info.connected = true;
    return true;
  } catch (const std::exception& e) {
    st.conn.reset();
    st.info.connected = false;
    logging::error("storage.connect_failed",
                   {{"writer", st.settings.index}, {"error", e.what()}});
    return false;
  }
}

/// Fencing (several nodes): each transition is written under the epoch this
/// node holds for its order's shard, checked against the lease rows inside
/// this transaction (locked FOR SHARE until the commit, so no takeover can
/// commit in between). A write whose shard is not held, or whose epoch the
/// database has moved past, is left out (answered shard_moved) and the
/// shard is given up here; the others of the batch are written.
///
/// First half: each transition's epoch (0 without a cluster); those whose
/// shard this node does not hold are fenced at once. Returns the distinct
/// shards to check.
std::vector<uint32_t> plan_fence(const std::shared_ptr<shard_map>& cluster, std::vector<job>& jobs) {
  std::vector<uint32_t> shards;
  for (auto& j : jobs) {
    if (!j.transition)
      continue;
    auto& slot = *j.transition;
    slot.fenced = false;
    slot.error = {};
    slot.write.epoch = 0;
    if (!cluster)
      continue;
    auto shard = cluster->shard_of(slot.write.next.id);
    slot.write.epoch = cluster->epoch(shard);
    slot.fenced = slot.write.epoch == 0;
    if (!slot.fenced)
      shards.push_back(shard);
  }
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  return shards;
}

/// Second half: the epochs the database holds (`stored`, read under the
/// lock) fence the writes planned under another.
void apply_fence(const std::shared_ptr<shard_map>& cluster, const storage::shard_epochs& stored_rows,
                 std::vector<job>& jobs) {
  std::unordered_map<uint32_t, uint64_t> stored;
  for (const auto& [s, e] : stored_rows)
    stored[s] = e;
  for (auto& j : jobs) {
    if (!j.transition || j.transition->fenced)
      continue;
    auto& slot = *j.transition;
    auto shard = cluster->shard_of(slot.write.next.id);
    if (stored[shard] == slot.write.epoch)
      continue;
    slot.fenced = true;
    cluster->stats.fenced++;
    if (cluster->revoke_if(shard, slot.write.epoch))
      logging::warn("cluster.fenced", {{"shard", shard}, {"epoch", slot.write.epoch},
                                       {"stored_epoch", stored[shard]}});
  }
}

void fence(const std::shared_ptr<shard_map>& cluster, pqxx::work& tx, std::vector<job>& jobs) {
  auto shards = plan_fence(cluster, jobs);
  if (!shards.empty())
    apply_fence(cluster, storage::fence_epochs(tx, shards), jobs);
}

/// Every transition of the batch in one multi-row statement, then the rest.
void run_jobs(storage_writer_self self, pqxx::work& tx, std::vector<job>& jobs) {
  fence(self->state.settings.cluster, tx, jobs);
  std::vector<const transition_write*> writes;
  for (auto& j : jobs)
    if (j.transition && !j.transition->fenced)
      writes.push_back(&j.transition->write);
  if (!writes.empty()) {
    auto results = storage::write_transitions(tx, writes);
    size_t i = 0;
    for (auto& j : jobs)
      if (j.transition && !j.transition->fenced)
        j.transition->result = results[i++];
  }
  // Outcomes before the other requests (a claim among them finds the
  // recorded rows, as it would in the next batch).
  std::vector<const delivery_outcome*> outcomes;
  for (auto& j : jobs)
    if (j.outcome)
      outcomes.push_back(&j.outcome->outcome);
  if (!outcomes.empty()) {
    auto found = storage::record_deliveries(tx, outcomes);
    size_t i = 0;
    for (auto& j : jobs)
      if (j.outcome)
        j.outcome->found = found[i++];
  }
  for (auto& j : jobs)
    if (j.run)
      j.run(tx);
}

/// A batch of plain creates only (storage::plain_create): the common batch
/// under a burst of new orders.
bool plain_creates(const std::vector<job>& jobs) {
  return std::all_of(jobs.begin(), jobs.end(), [](const job& j) {
    return j.transition && !j.run && storage::plain_create(j.transition->write);
  });
}

/// How long batches of new orders take the common way after the second
/// connection could not be made (while the main one works).
constexpr auto creates_connect_retry = std::chrono::seconds{5};

/// The second connection, for batches of new orders. Never throws.
bool ensure_creates_connected(storage_writer_self self) {
  auto& st = self->state;
  if (st.creates_conn && st.creates_conn->usable())
    return true;
  st.creates_conn.reset();
  const auto now = std::chrono::steady_clock::now();
  if (now < st.creates_retry_at)
    return false;
  try {
    st.creates_conn = std::make_unique<storage::one_trip_connection>(st.settings.database_url,
                                                                      st.settings.limits);
    return true;
  } catch (const std::exception& e) {
    st.creates_retry_at = now + creates_connect_retry;
    logging::error("storage.connect_failed", {{"writer", st.settings.index},
                                              {"connection", "creates"}, {"error", e.what()}});
    return false;
  }
}

/// Plain creates as one transaction of one statement (storage/one_trip.hpp):
/// BEGIN and the insert (on several nodes with the fence in it) in one round
/// trip, then COMMIT. After the commit, a write not inserted (and not
/// fenced) found its merchant_order_no taken: a lookup on the main
/// connection answers it alone. Never throws.
batch_outcome run_creates(storage_writer_self self, std::vector<job>& jobs,
                          std::string& error_text) {
  auto& st = self->state;
  const auto& cluster = st.settings.cluster;
  auto shards = plan_fence(cluster, jobs);
  std::vector<const transition_write*> writes;
  std::vector<uint32_t> shard_of_write;
  for (auto& j : jobs) {
    if (j.transition->fenced)
      continue;
    writes.push_back(&j.transition->write);
    if (cluster)
      shard_of_write.push_back(cluster->shard_of(j.transition->write.next.id));
  }
  if (writes.empty())
    return batch_outcome::committed; // all fenced: nothing to write
  storage::new_orders_written written;
  try {
    written = storage::insert_new_orders(*st.creates_conn, writes, shard_of_write, shards);
  } catch (const std::logic_error& e) { // our own checks, before anything was sent
    error_text = e.what();
    return jobs.size() > 1 ? batch_outcome::rolled_back : batch_outcome::broken;
  } catch (const std::exception& e) { // not known to have sent nothing
    error_text = e.what();
    return batch_outcome::in_doubt;
  }
  using trip = storage::one_trip_result::outcome;
  if (written.trip.result == trip::in_doubt) {
    error_text = written.trip.message;
    return batch_outcome::in_doubt;
  }
  if (written.trip.result == trip::failed) {
    error_text = written.trip.message;
    if (!st.creates_conn->usable())
      return batch_outcome::unavailable;
    auto kind = storage::classify_sqlstate(written.trip.sqlstate);
    if (kind == storage::failure_kind::broken_invariant)
      return jobs.size() > 1 ? batch_outcome::rolled_back : batch_outcome::broken;
    return batch_outcome::rolled_back;
  }
  st.info.single_statement_batches++;
  if (cluster)
    apply_fence(cluster, written.stored, jobs);
  bool broken = false;
  for (auto& j : jobs) {
    auto& slot = *j.transition;
    if (slot.fenced)
      continue;
    const auto& o = slot.write.next;
    if (written.inserted.count(o.id)) {
      slot.result = {true, false, {}};
      continue;
    }
    try {
      pqxx::nontransaction tx{*st.conn};
      auto existing = storage::order_id_by_merchant_order_no(tx, o.merchant_id, o.merchant_order_no);
      if (existing && *existing != o.id) {
        slot.result = {false, true, *existing};
        continue;
      }
      slot.error = make_error(engine_error::invariant_broken,
                              "order insert refused without a duplicate: " + o.id);
      st.info.broken_invariants++;
      logging::error("storage.invariant_broken", {{"writer", st.settings.index}, {"order", o.id}});
    } catch (const std::exception& e) {
      // This order was not written: nothing changed for it.
      broken = broken || dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr;
      slot.error = make_error(engine_error::storage_unavailable, e.what());
    }
  }
  if (broken)
    st.conn.reset(); // no transaction object is left on it
  return batch_outcome::committed;
}

/// Runs `jobs` in one transaction. Never throws.
batch_outcome run_batch(storage_writer_self self, std::vector<job>& jobs,
                        std::string& error_text) {
  auto& st = self->state;
  if (!ensure_connected(self))
    return batch_outcome::unavailable;
  // Without its second connection, a batch of new orders goes the common way.
  if (plain_creates(jobs) && ensure_creates_connected(self))
    return run_creates(self, jobs, error_text);
  try {
    pqxx::work tx{*st.conn};
    run_jobs(self, tx, jobs);
    tx.commit();
    return batch_outcome::committed;
  } catch (const pqxx::in_doubt_error& e) {
    error_text = e.what();
    st.conn.reset();
    return batch_outcome::in_doubt;
  } catch (const pqxx::broken_connection& e) {
    error_text = e.what();
    st.conn.reset();
    return batch_outcome::unavailable;
  } catch (const pqxx::sql_error& e) {
    error_text = e.what();
    auto kind = storage::classify_sqlstate(e.sqlstate());
    if (kind == storage::failure_kind::broken_invariant)
      return jobs.size() > 1 ? batch_outcome::rolled_back : batch_outcome::broken;
    return batch_outcome::rolled_back;
  } catch (const std::logic_error& e) { // our own checks at the storage boundary
    error_text = e.what();
    return jobs.size() > 1 ? batch_outcome::rolled_back : batch_outcome::broken;
  } catch (const std::exception& e) {
    error_text = e.what();
    return batch_outcome::rolled_back;
  }
}

/// What the requester hears. Only a failure known to have applied nothing
/// for a reason of the moment is "unavailable, nothing changed, retry".
caf::error error_for(batch_outcome outcome, const std::string& text) {
  if (outcome == batch_outcome::in_doubt)
    return make_error(engine_error::commit_in_doubt, text);
  if (outcome == batch_outcome::broken)
    return make_error(engine_error::invariant_broken, text);
  return make_error(engine_error::storage_unavailable, text);
}

/// After a batch failed on one bad request, each runs alone so that the
/// others still commit.
void run_one_by_one(storage_writer_self self, std::vector<job>& jobs) {
  for (auto& j : jobs) {
    std::vector<job> single{std::move(j)};
    std::string text;
    auto outcome = run_batch(self, single, text);
    if (outcome == batch_outcome::committed) {
      single.front().deliver();
      continue;
    }
    logging::error(outcome == batch_outcome::broken ? "storage.invariant_broken" : "storage.request_failed",
                   {{"writer", self->state.settings.index}, {"error", text}});
    if (outcome == batch_outcome::broken)
      self->state.info.broken_invariants++;
    single.front().fail(error_for(outcome, text));
  }
}

/// For /metrics: committed status changes by target status.
void count_transitions(writer_info& info, const std::vector<job>& jobs) {
  for (const auto& j : jobs) {
    if (!j.transition || !j.transition->result.applied || j.transition->write.record_only)
      continue;
    auto code = static_cast<size_t>(j.transition->write.next.status);
    if (code < info.transitions_by_status.size())
      info.transitions_by_status[code]++;
  }
}

void flush(storage_writer_self self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.batch.empty())
    return;
  auto jobs = std::move(st.batch);
  st.batch.clear();
  auto started = std::chrono::steady_clock::now();
  std::string text;
  auto outcome = run_batch(self, jobs, text);
  auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - started).count();
  auto& info = st.info;
  info.batches++;
  info.jobs += jobs.size();
  info.last_batch_size = jobs.size();
  info.max_batch_size = std::max<uint64_t>(info.max_batch_size, jobs.size());
  info.last_commit_us = elapsed;
  info.total_commit_us += elapsed;
  for (size_t i = 0; i < writer_info::batch_size_bounds.size(); ++i)
    info.batch_size_le[i] += jobs.size() <= writer_info::batch_size_bounds[i] ? 1 : 0;
  for (size_t i = 0; i < writer_info::commit_us_bounds.size(); ++i)
    info.commit_us_le[i] += elapsed <= writer_info::commit_us_bounds[i] ? 1 : 0;
  if (outcome == batch_outcome::committed) {
    count_transitions(info, jobs);
    for (auto& j : jobs)
      j.deliver();
    return;
  }
  info.failed_batches++;
  logging::warn("storage.batch_failed", {{"writer", st.settings.index},
                                         {"size", jobs.size()},
                                         {"error", text}});
  if (outcome == batch_outcome::rolled_back && jobs.size() > 1) {
    run_one_by_one(self, jobs);
    return;
  }
  if (outcome == batch_outcome::broken) {
    info.broken_invariants++;
    logging::error("storage.invariant_broken", {{"writer", st.settings.index}, {"error", text}});
  }
  for (auto& j : jobs)
    j.fail(error_for(outcome, text));
}

void schedule_flush(storage_writer_self self) {
  auto& st = self->state;
  if (st.batch.size() >= st.settings.batch_max) {
    flush(self);
    return;
  }
  if (!st.flush_scheduled) {
    // Queued behind every request already in the mailbox: those join this batch.
    st.flush_scheduled = true;
    self->send(caf::actor_cast<storage_writer_actor>(self), flush_atom_v);
  }
}

} // namespace

storage_writer_actor::behavior_type storage_writer_impl(storage_writer_self self,
                                                        writer_settings settings) {
  self->state.settings = std::move(settings);
  self->state.info.index = self->state.settings.index;
  name_this_thread("pe.writer." + std::to_string(self->state.info.index));
  ensure_connected(self);
  return {
    [=](transition_write& w) { return enqueue_transition(self, std::move(w)); },
    [=](load_atom, const std::string& id) {
      return enqueue<std::vector<order_record>>(self, [id](pqxx::work& tx) {
        std::vector<order_record> out;
        if (auto o = storage::load_order(tx, id))
          out.push_back(std::move(*o));
        return out;
      });
    },
    [=](events_atom, const std::string& order_id, const std::string& merchant_id) {
      return enqueue<std::vector<order_event_row>>(
        self, [order_id, merchant_id](pqxx::work& tx) {
          return storage::load_events(tx, order_id, merchant_id);
        });
    },
    [=](events_atom, const std::string& merchant_id, const std::string& after, uint32_t limit) {
      return enqueue<std::vector<std::string>>(self, [merchant_id, after, limit](pqxx::work& tx) {
        return storage::merchant_events_page(tx, merchant_id, after, limit);
      });
    },
    [=](const order_page_query& q) {
      return enqueue<order_page>(self, [q](pqxx::work& tx) {
        return storage::list_orders(tx, q);
      });
    },
    [=](insert_atom, const merchant_record& m, const std::string& key_hash) {
      return enqueue<bool>(self, [m, key_hash](pqxx::work& tx) {
        return storage::insert_merchant(tx, m, key_hash);
      });
    },
    [=](by_key_atom, const std::string& key_hash) {
      return enqueue<std::vector<merchant_record>>(self, [key_hash](pqxx::work& tx) {
        std::vector<merchant_record> out;
        if (auto m = storage::merchant_by_key_hash(tx, key_hash))
          out.push_back(std::move(*m));
        return out;
      });
    },
    [=](const merchant_patch& p) {
      return enqueue<std::vector<merchant_record>>(self, [p](pqxx::work& tx) {
        std::vector<merchant_record> out;
        if (auto m = storage::patch_merchant(tx, p))
          out.push_back(std::move(*m));
        return out;
      });
    },
    [=](const idempotency_claim& c) {
      return enqueue<idempotency_result>(self, [c](pqxx::work& tx) {
        return storage::claim_idempotency_key(tx, c);
      });
    },
    [=](const idempotency_entry& e) {
      return enqueue<bool>(self, [e](pqxx::work& tx) {
        return storage::complete_idempotency_key(tx, e);
      }, admission::always);
    },
    [=](release_atom, const std::string& merchant_id, const std::string& key) {
      return enqueue<bool>(self, [merchant_id, key](pqxx::work& tx) {
        return storage::release_idempotency_key(tx, merchant_id, key);
      }, admission::always);
    },
    [=](due_atom, timestamp_us until, uint32_t limit) {
      return enqueue<std::vector<std::string>>(self, [until, limit](pqxx::work& tx) {
        return storage::due_for_expiry(tx, until, limit);
      });
    },
    [=](unsettled_atom, timestamp_us until, uint32_t limit, const std::string& after_id) {
      return enqueue<std::vector<std::string>>(self, [until, limit, after_id](pqxx::work& tx) {
        return storage::unsettled_orders(tx, until, limit, after_id);
      });
    },
    [=](refunds_atom, const std::string& order_id) {
      return enqueue<std::vector<refund_row>>(self, [order_id](pqxx::work& tx) {
        return storage::load_refunds(tx, order_id);
      });
    },
    [=](claim_atom, uint32_t limit, uint32_t lease_ms, const std::vector<std::string>& busy) {
      return enqueue<std::vector<delivery>>(self, [limit, lease_ms, busy](pqxx::work& tx) {
        return storage::claim_deliveries(tx, limit, lease_ms, busy);
      });
    },
    [=](delivery_outcome& o) { return enqueue_outcome(self, std::move(o)); },
    [=](unlease_atom, timestamp_us ending_before) {
      return enqueue<bool>(self, [ending_before](pqxx::work& tx) {
        return storage::unlease_deliveries(tx, ending_before);
      }, admission::always);
    },
    [=](redeliver_atom, const std::string& id) {
      return enqueue<bool>(self, [id](pqxx::work& tx) { return storage::redeliver(tx, id); });
    },
    [=](notifs_atom, const std::string& status, uint32_t limit) {
      return enqueue<std::vector<std::string>>(self, [status, limit](pqxx::work& tx) {
        int code = status == "pending" ? 0 : status == "delivered" ? 1 : status == "dead" ? 2 : -1;
        return storage::list_deliveries(tx, code, limit);
      });
    },
    [=](outbox_atom) {
      return enqueue<notifier_info>(self, [](pqxx::work& tx) { return storage::outbox_summary(tx); });
    },
    [=](ping_db_atom) {
      return enqueue<bool>(self, [](pqxx::work& tx) {
        tx.exec("SELECT 1");
        return true;
      });
    },
    [=](info_atom) {
      auto info = self->state.info;
      info.mailbox_depth = self->mailbox().size();
      return info;
    },
    [=](flush_atom) { flush(self); },
    // --- the ledger (wallet actors, the wallet API) ---
    [=](ledger_write& w) {
      return enqueue<ledger_result>(self, [w = std::move(w)](pqxx::work& tx) {
        return storage::write_ledger(tx, w);
      });
    },
    [=](wallet_atom, const std::string& id, const std::vector<std::string>& named) {
      return enqueue<wallet_snapshot>(self, [id, named](pqxx::work& tx) {
        return storage::load_wallet(tx, id, named);
      });
    },
    [=](wallet_atom, const std::string& merchant_id, const std::string& customer_ref,
        const std::string& after, uint32_t limit) {
      return enqueue<std::vector<wallet_record>>(
        self, [merchant_id, customer_ref, after, limit](pqxx::work& tx) {
          return storage::list_wallets(tx, merchant_id, customer_ref, after, limit);
        });
    },
    [=](ledger_atom, const std::string& wallet_id, const std::string& after, uint32_t limit) {
      return enqueue<std::vector<transfer_row>>(self, [wallet_id, after, limit](pqxx::work& tx) {
        return storage::wallet_transactions(tx, wallet_id, after, limit);
      });
    },
    [=](ledger_atom) {
      return enqueue<std::vector<int64_t>>(self, [](pqxx::work& tx) { return storage::ledger_sums(tx); });
    },
    [=](reservation_atom, timestamp_us now, uint32_t limit) {
      return enqueue<std::vector<std::string>>(self, [now, limit](pqxx::work& tx) {
        return storage::wallets_with_expired_reservations(tx, now, limit);
      });
    },
    [=](wallet_atom, uint32_t limit) {
      return enqueue<std::vector<wallet_record>>(self, [limit](pqxx::work& tx) {
        return storage::recent_wallets(tx, limit);
      });
    },
    [=](ledger_atom, uint32_t limit) {
      return enqueue<std::vector<transfer_row>>(self, [limit](pqxx::work& tx) {
        return storage::recent_transfers(tx, limit);
      });
    },
  };
}

} // namespace payengine
