#include "storage/tables.hpp"

#include "storage/pg_array.hpp"

#include <nlohmann/json.hpp>

#include <cassert>
#include <array>
#include <set>
#include <utility>
#include <stdexcept>

namespace payengine::storage {

namespace {

int status_code(order_status s) {
  return static_cast<int>(s);
}

order_status status_at(const pqxx::field& f) {
  auto s = order_status_from_code(f.as<int>());
  if (!s)
    throw std::logic_error("stored order status out of range: " + f.as<std::string>());
  return *s;
}

std::string metadata_json(const order_record& o) {
  return nlohmann::json(o.metadata).dump();
}

order_record order_from_row(const pqxx::row& r) {
  order_record o;
  o.id = r[0].as<std::string>();
  o.merchant_id = r[1].as<std::string>();
  o.merchant_order_no = r[2].as<std::string>();
  o.amount = r[3].as<int64_t>();
  o.currency = r[4].as<std::string>();
  o.subject = r[5].as<std::string>();
  o.channel = r[6].as<std::string>();
  o.status = status_at(r[7]);
  o.amount_refunded = r[8].as<int64_t>();
  o.notify_url = r[9].as<std::string>();
  o.customer_phone = r[10].as<std::string>();
  auto meta = nlohmann::json::parse(r[11].as<std::string>());
  for (auto& [k, v] : meta.items())
    o.metadata.emplace(k, v.get<std::string>());
  o.payment.attempt = r[12].as<int32_t>();
  o.payment.channel_trade_no = r[13].as<std::string>();
  o.payment.qr_code = r[14].as<std::string>();
  o.payment.paid_at = r[15].as<int64_t>();
  o.payment.failure_reason = r[16].as<std::string>();
  o.fulfillment = static_cast<fulfillment_stage>(r[17].as<int>());
  o.created_at = r[18].as<int64_t>();
  o.updated_at = r[19].as<int64_t>();
  o.expires_at = r[20].as<int64_t>();
  o.version = r[21].as<int64_t>();
  o.topup_wallet = r[22].as<std::string>();
  o.payment.method = r[23].as<std::string>();
  o.payment.wallet = r[24].as<std::string>();
  o.payment.channel = r[25].as<std::string>();
  o.payment.tried = r[26].as<std::string>();
  if (!order_invariants_hold(o))
    throw std::logic_error("stored order breaks its invariants: " + o.id);
  return o;
}

void insert_event(pqxx::work& tx, const order_event_row& e, uint64_t epoch) {
  tx.exec_prepared("order_events_insert", e.order_id, e.seq, e.type,
                   e.has_from ? status_code(e.from) : 0, status_code(e.to),
                   e.at, e.detail_json, e.request_id, static_cast<int64_t>(epoch));
}

void check_write(const transition_write& w) {
  // Both sides of the boundary: a write that breaks the invariants is a bug.
  if (w.events.empty() || !order_invariants_hold(w.next)
      || w.events.front().seq != w.next.version
      || w.next.version != w.expected_version + 1)
    throw std::logic_error("transition breaks its invariants: " + w.next.id);
}

std::set<std::string> returned_ids(const pqxx::result& r) {
  std::set<std::string> ids;
  for (const auto& row : r)
    ids.insert(row[0].as<std::string>());
  return ids;
}

template <size_t N>
using column_arrays = std::array<pg_array, N>;

/// One parameter per column array.
template <size_t N, size_t... I>
pqxx::result exec_arrays(pqxx::transaction_base& tx, const char* statement,
                         const column_arrays<N>& c, std::index_sequence<I...>) {
  return tx.exec_prepared(statement, c[I].str()...);
}

template <size_t N>
pqxx::result exec_columns(pqxx::transaction_base& tx, const char* statement,
                          const column_arrays<N>& c) {
  return exec_arrays(tx, statement, c, std::make_index_sequence<N>{});
}

/// The first 20 columns of new orders ($1-$20 of orders_insert_batch).
template <size_t N>
void add_new_orders(column_arrays<N>& c, const std::vector<const transition_write*>& ws) {
  static_assert(N >= 20);
  for (const auto* w : ws) {
    const auto& o = w->next;
    const auto& e = w->events.front();
    c[0].add(o.id); c[1].add(o.merchant_id); c[2].add(o.merchant_order_no);
    c[3].add(o.amount); c[4].add(o.currency); c[5].add(o.subject);
    c[6].add(o.channel); c[7].add(status_code(o.status)); c[8].add(o.notify_url);
    c[9].add(o.customer_phone); c[10].add(metadata_json(o)); c[11].add(o.created_at);
    c[12].add(o.expires_at); c[13].add(o.version); c[14].add(e.type);
    c[15].add(e.at); c[16].add(e.detail_json); c[17].add(e.request_id);
    c[18].add(static_cast<int64_t>(w->epoch)); c[19].add(o.topup_wallet);
  }
}

/// New orders, one statement for the whole batch.
std::set<std::string> insert_orders(pqxx::work& tx, const std::vector<const transition_write*>& ws) {
  column_arrays<20> c;
  add_new_orders(c, ws);
  return returned_ids(exec_columns(tx, "orders_insert_batch", c));
}

/// Version-checked transitions, one statement for the whole batch.
std::set<std::string> update_orders(pqxx::work& tx, const std::vector<const transition_write*>& ws) {
  column_arrays<23> c;
  for (const auto* w : ws) {
    const auto& o = w->next;
    const auto& e = w->events.front();
    c[0].add(o.id); c[1].add(w->expected_version); c[2].add(status_code(o.status));
    c[3].add(o.amount_refunded); c[4].add(int64_t{o.payment.attempt});
    c[5].add(o.payment.channel_trade_no); c[6].add(o.payment.qr_code);
    c[7].add(o.payment.paid_at); c[8].add(o.payment.failure_reason);
    c[9].add(int64_t{static_cast<int>(o.fulfillment)}); c[10].add(o.updated_at);
    c[11].add(o.version); c[12].add(e.type); c[13].add(status_code(e.from));
    c[14].add(status_code(e.to)); c[15].add(e.at); c[16].add(e.detail_json);
    c[17].add(e.request_id); c[18].add(static_cast<int64_t>(w->epoch));
    c[19].add(o.payment.method); c[20].add(o.payment.wallet);
    c[21].add(o.payment.channel); c[22].add(o.payment.tried);
  }
  return returned_ids(exec_columns(tx, "orders_update_batch", c));
}

/// `events` and `sides`: the merchant events and side rows of applied
/// writes, written together after.
write_result outcome_of(pqxx::work& tx, const transition_write& w,
                        const std::set<std::string>& applied,
                        std::vector<merchant_event_row>& events,
                        std::vector<const transition_write*>& sides) {
  if (w.record_only || applied.count(w.next.id)) {
    // Events belong to a version: a record-only write has none.
    for (size_t i = 1; !w.record_only && i < w.events.size(); ++i)
      insert_event(tx, w.events[i], w.epoch);
    sides.push_back(&w);
    events.insert(events.end(), w.merchant_events.begin(), w.merchant_events.end());
    return {true, false, {}};
  }
  if (w.expected_version != 0)
    return {false, false, {}}; // the version moved: rule 2
  auto existing = order_id_by_merchant_order_no(tx, w.next.merchant_id, w.next.merchant_order_no);
  if (!existing || *existing == w.next.id)
    throw std::logic_error("order insert refused without a duplicate: " + w.next.id);
  return {false, true, *existing};
}

} // namespace

std::vector<write_result> write_transitions(pqxx::work& tx,
                                            const std::vector<const transition_write*>& writes) {
  std::vector<const transition_write*> inserts;
  std::vector<const transition_write*> updates;
  for (const auto* w : writes) {
    if (w->record_only)
      continue; // side rows only: written below with the batch's
    check_write(*w);
    (w->expected_version == 0 ? inserts : updates).push_back(w);
  }
  std::set<std::string> applied;
  if (!inserts.empty())
    applied = insert_orders(tx, inserts);
  if (!updates.empty())
    applied.merge(update_orders(tx, updates));
  std::vector<write_result> out;
  out.reserve(writes.size());
  std::vector<merchant_event_row> events;
  std::vector<const transition_write*> sides;
  for (const auto* w : writes)
    out.push_back(outcome_of(tx, *w, applied, events, sides));
  write_side_rows(tx, sides);         // the whole batch's trades, refunds, callbacks
  insert_merchant_events(tx, events); // the whole batch's events and deliveries
  return out;
}

write_result write_transition(pqxx::work& tx, const transition_write& w) {
  return write_transitions(tx, {&w}).front();
}

bool plain_create(const transition_write& w) {
  return !w.record_only && w.expected_version == 0 && w.events.size() == 1
         && w.trades.empty() && w.refunds.empty() && w.callbacks.empty()
         && w.merchant_events.empty();
}

new_orders_written insert_new_orders(one_trip_connection& conn,
                                     const std::vector<const transition_write*>& writes,
                                     const std::vector<uint32_t>& shard_of_write,
                                     const std::vector<uint32_t>& fence_shards) {
  for (const auto* w : writes) {
    if (!plain_create(*w))
      throw std::logic_error("not a plain create: " + w->next.id);
    check_write(*w);
  }
  const bool fenced = !fence_shards.empty();
  if (fenced && shard_of_write.size() != writes.size())
    throw std::logic_error("a shard for each new order");
  column_arrays<22> c;
  add_new_orders(c, writes);
  for (auto s : shard_of_write)
    c[20].add(static_cast<int64_t>(s));
  for (auto s : fence_shards)
    c[21].add(static_cast<int64_t>(s));
  std::vector<std::string> params;
  for (size_t i = 0; i < (fenced ? 22u : 20u); ++i)
    params.push_back(c[i].str());
  new_orders_written out;
  out.trip = conn.run(fenced ? "orders_insert_fenced" : "orders_insert_batch",
                      new_orders_sql(fenced), params);
  if (out.trip.result != one_trip_result::outcome::committed)
    return out;
  try {
    for (const auto& row : out.trip.rows) {
      if (!fenced)
        out.inserted.insert(row.at(0));
      else if (row.at(0) == "0")
        out.inserted.insert(row.at(1));
      else
        out.stored.emplace_back(static_cast<uint32_t>(std::stoul(row.at(1))),
                                static_cast<uint64_t>(std::stoull(row.at(2))));
    }
  } catch (const std::exception& e) {
    // Committed, but which orders it wrote cannot be told: in doubt.
    out.inserted.clear();
    out.stored.clear();
    out.trip.result = one_trip_result::outcome::in_doubt;
    out.trip.message = std::string{"committed, unreadable answer: "} + e.what();
  }
  return out;
}

std::optional<std::string> order_id_by_merchant_order_no(pqxx::transaction_base& tx,
                                                         const std::string& merchant_id,
                                                         const std::string& merchant_order_no) {
  auto r = tx.exec_prepared("orders_id_by_merchant_order_no", merchant_id, merchant_order_no);
  if (r.empty())
    return std::nullopt;
  return r[0][0].as<std::string>();
}

std::optional<order_record> load_order(pqxx::work& tx, const std::string& id) {
  auto r = tx.exec_prepared("orders_load", id);
  if (r.empty())
    return std::nullopt;
  return order_from_row(r[0]);
}

std::vector<order_event_row> load_events(pqxx::work& tx, const std::string& order_id,
                                         const std::string& merchant_id) {
  std::vector<order_event_row> out;
  for (const auto& r : tx.exec_prepared("order_events_load", order_id, merchant_id)) {
    order_event_row e;
    e.order_id = r[0].as<std::string>();
    e.seq = r[1].as<int64_t>();
    e.type = r[2].as<std::string>();
    auto from = r[3].as<int>();
    e.has_from = from != 0;
    if (e.has_from)
      e.from = status_at(r[3]);
    e.to = status_at(r[4]);
    e.at = r[5].as<int64_t>();
    e.detail_json = r[6].as<std::string>();
    e.request_id = r[7].as<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

order_page list_orders(pqxx::work& tx, const order_page_query& q) {
  int status = 0;
  if (!q.status.empty()) {
    auto s = order_status_from_string(q.status);
    if (!s)
      throw std::invalid_argument("unknown status filter");
    status = status_code(*s);
  }
  order_page page;
  auto rows = tx.exec_prepared("orders_page", q.merchant_id, status,
                               q.starting_after, static_cast<int64_t>(q.limit) + 1);
  for (const auto& r : rows) {
    if (page.data.size() == q.limit) {
      page.has_more = true;
      break;
    }
    page.data.push_back(order_from_row(r));
  }
  return page;
}

std::vector<std::string> due_for_expiry(pqxx::work& tx, timestamp_us until,
                                        uint32_t limit) {
  std::vector<std::string> ids;
  for (const auto& r : tx.exec_prepared("orders_due_for_expiry", until,
                                        static_cast<int64_t>(limit)))
    ids.push_back(r[0].as<std::string>());
  return ids;
}

} // namespace payengine::storage
