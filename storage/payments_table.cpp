#include "storage/tables.hpp"

#include <set>
#include <string_view>

#include "messages/ids.hpp"
#include "storage/pg_array.hpp"

namespace payengine::storage {

void upsert_trade(pqxx::work& tx, const trade_row& t) {
  tx.exec_prepared("trades_upsert", t.out_trade_no, t.order_id, t.attempt, t.channel,
                   t.amount, static_cast<int>(t.state), t.qr_code, t.channel_trade_no,
                   t.paid_amount, t.paid_at, t.detail, t.at);
}

void upsert_refund(pqxx::work& tx, const refund_row& r) {
  if (r.amount <= 0 || r.id.empty())
    throw std::logic_error("refund breaks its invariants: " + r.id);
  tx.exec_prepared("refunds_upsert", r.id, r.order_id, r.out_trade_no, r.amount, r.reason,
                   static_cast<int>(r.status), r.failure_reason, r.created_at, r.updated_at,
                   static_cast<int>(r.origin), r.channel);
}

bool insert_callback(pqxx::work& tx, const callback_row& c) {
  auto r = tx.exec_prepared("callbacks_insert", c.channel, c.notify_id, c.out_trade_no,
                            c.trade_status, c.amount, c.outcome, c.received_at);
  return r.affected_rows() == 1;
}

void insert_merchant_events(pqxx::work& tx, const std::vector<merchant_event_row>& events) {
  if (events.empty())
    return;
  pg_array id, merchant, order, type, at, data;
  pg_array o_id, o_event, o_merchant, o_kind, o_target, o_at;
  auto deliver = [&](const merchant_event_row& e, int kind, const std::string& target) {
    o_id.add(new_id("ntf")); o_event.add(e.id); o_merchant.add(e.merchant_id);
    o_kind.add(int64_t{kind}); o_target.add(target); o_at.add(e.created_at);
  };
  for (const auto& e : events) {
    id.add(e.id); merchant.add(e.merchant_id); order.add(e.order_id); type.add(e.type);
    at.add(e.created_at); data.add(e.data_json);
    deliver(e, 1, e.notify_url);
    if (!e.sms_to.empty())
      deliver(e, 2, e.sms_to);
  }
  tx.exec_prepared("events_insert_batch", id.str(), merchant.str(), order.str(), type.str(), at.str(),
                   data.str(), o_id.str(), o_event.str(), o_merchant.str(), o_kind.str(), o_target.str(),
                   o_at.str());
}

std::vector<std::string> merchant_events_page(pqxx::work& tx, const std::string& merchant_id,
                                              const std::string& starting_after, uint32_t limit) {
  std::vector<std::string> out;
  for (const auto& r : tx.exec_prepared("merchant_events_page", merchant_id, starting_after,
                                        static_cast<int64_t>(limit)))
    out.push_back(r[0].as<std::string>());
  return out;
}

std::vector<delivery> claim_deliveries(pqxx::work& tx, uint32_t limit, uint32_t lease_ms,
                                       const std::vector<std::string>& busy_merchants) {
  pg_array busy;
  for (const auto& m : busy_merchants)
    busy.add(m);
  std::vector<delivery> out;
  for (const auto& r : tx.exec_prepared("outbox_claim", static_cast<int64_t>(limit),
                                        static_cast<int64_t>(lease_ms), busy.str())) {
    delivery d;
    d.id = r[0].as<std::string>();
    d.event_id = r[1].as<std::string>();
    d.merchant_id = r[2].as<std::string>();
    d.kind = static_cast<uint8_t>(r[3].as<int>());
    d.target = r[4].as<std::string>();
    d.secret = r[5].as<std::string>();
    d.payload = r[6].as<std::string>();
    d.event_type = r[7].as<std::string>();
    d.attempts = r[8].as<int32_t>();
    out.push_back(std::move(d));
  }
  return out;
}

namespace {

/// Records `outcomes` (each delivery named once) in one statement; the ids
/// of the deliveries updated.
std::set<std::string> record_outcomes(pqxx::work& tx,
                                      const std::vector<const delivery_outcome*>& outcomes) {
  pg_array id, attempt, at, status_code, latency_ms, error, status, next_at;
  for (const auto* o : outcomes) {
    id.add(o->id); attempt.add(int64_t{o->attempt}); at.add(o->at);
    status_code.add(int64_t{o->status_code}); latency_ms.add(int64_t{o->latency_ms});
    error.add(o->error); status.add(int64_t{o->delivered ? 1 : o->dead ? 2 : 0});
    next_at.add(o->next_attempt_at);
  }
  std::set<std::string> updated;
  for (const auto& r : tx.exec_prepared("outbox_record", id.str(), attempt.str(), at.str(),
                                        status_code.str(), latency_ms.str(), error.str(),
                                        status.str(), next_at.str()))
    updated.insert(r[0].as<std::string>());
  return updated;
}

} // namespace

bool record_delivery(pqxx::work& tx, const delivery_outcome& o) {
  return record_outcomes(tx, {&o}).count(o.id) > 0;
}

std::vector<bool> record_deliveries(pqxx::work& tx,
                                    const std::vector<const delivery_outcome*>& outcomes) {
  std::vector<bool> found;
  found.reserve(outcomes.size());
  std::set<std::string_view> ids;
  for (const auto* o : outcomes)
    ids.insert(o->id);
  if (ids.size() != outcomes.size()) {
    // A delivery named twice (an attempt that outlived its lease, and the
    // next one): row by row, in order.
    for (const auto* o : outcomes)
      found.push_back(record_delivery(tx, *o));
    return found;
  }
  auto updated = record_outcomes(tx, outcomes);
  for (const auto* o : outcomes)
    found.push_back(updated.count(o->id) > 0);
  return found;
}

bool unlease_deliveries(pqxx::work& tx, timestamp_us ending_before) {
  tx.exec_prepared("outbox_unlease", ending_before);
  return true;
}

bool redeliver(pqxx::work& tx, const std::string& id) {
  return tx.exec_prepared("outbox_redeliver", id).affected_rows() == 1;
}

notifier_info outbox_summary(pqxx::work& tx) {
  auto r = tx.exec_prepared1("outbox_summary");
  notifier_info out;
  out.pending = r[0].as<uint64_t>();
  out.dead_rows = r[1].as<uint64_t>();
  out.next_attempt_at = r[2].as<int64_t>();
  return out;
}

std::vector<std::string> list_deliveries(pqxx::work& tx, int status, uint32_t limit) {
  std::vector<std::string> out;
  for (const auto& r : tx.exec_prepared("outbox_list", status, static_cast<int64_t>(limit)))
    out.push_back(r[0].as<std::string>());
  return out;
}

namespace {

void upsert_trades(pqxx::work& tx, const std::vector<const trade_row*>& trades) {
  if (trades.empty())
    return;
  // One statement cannot upsert a row twice: a batch naming a trade twice
  // (never seen: an order writes one transition at a time) goes row by row.
  std::set<std::string_view> names;
  for (const auto* t : trades)
    if (!names.insert(t->out_trade_no).second) {
      for (const auto* each : trades)
        upsert_trade(tx, *each);
      return;
    }
  if (trades.size() == 1)
    return upsert_trade(tx, *trades.front());
  pg_array no, order, attempt, channel, amount, state, qr, channel_no, paid_amount, paid_at, detail, at;
  for (const auto* t : trades) {
    no.add(t->out_trade_no); order.add(t->order_id); attempt.add(int64_t{t->attempt});
    channel.add(t->channel); amount.add(t->amount); state.add(int64_t{static_cast<int>(t->state)});
    qr.add(t->qr_code); channel_no.add(t->channel_trade_no); paid_amount.add(t->paid_amount);
    paid_at.add(t->paid_at); detail.add(t->detail); at.add(t->at);
  }
  tx.exec_prepared("trades_upsert_batch", no.str(), order.str(), attempt.str(), channel.str(),
                   amount.str(), state.str(), qr.str(), channel_no.str(), paid_amount.str(),
                   paid_at.str(), detail.str(), at.str());
}

void insert_callbacks(pqxx::work& tx, const std::vector<const callback_row*>& callbacks) {
  if (callbacks.empty())
    return;
  if (callbacks.size() == 1) {
    insert_callback(tx, *callbacks.front());
    return;
  }
  pg_array channel, notify_id, out_trade_no, trade_status, amount, outcome, received_at;
  for (const auto* c : callbacks) {
    channel.add(c->channel); notify_id.add(c->notify_id); out_trade_no.add(c->out_trade_no);
    trade_status.add(c->trade_status); amount.add(c->amount); outcome.add(c->outcome);
    received_at.add(c->received_at);
  }
  tx.exec_prepared("callbacks_insert_batch", channel.str(), notify_id.str(), out_trade_no.str(),
                   trade_status.str(), amount.str(), outcome.str(), received_at.str());
}

} // namespace

void write_side_rows(pqxx::work& tx, const std::vector<const transition_write*>& writes) {
  // Trades first, then refunds, then callbacks: the order of one write's
  // rows, kept for the whole batch.
  std::vector<const trade_row*> trades;
  std::vector<const callback_row*> callbacks;
  for (const auto* w : writes) {
    for (const auto& t : w->trades)
      trades.push_back(&t);
    for (const auto& c : w->callbacks)
      callbacks.push_back(&c);
  }
  upsert_trades(tx, trades);
  for (const auto* w : writes)
    for (const auto& r : w->refunds)
      upsert_refund(tx, r);
  insert_callbacks(tx, callbacks);
}

std::vector<refund_row> load_refunds(pqxx::work& tx, const std::string& order_id) {
  std::vector<refund_row> out;
  for (const auto& r : tx.exec_prepared("refunds_by_order", order_id)) {
    refund_row x;
    x.id = r[0].as<std::string>();
    x.order_id = r[1].as<std::string>();
    x.out_trade_no = r[2].as<std::string>();
    x.amount = r[3].as<int64_t>();
    x.reason = r[4].as<std::string>();
    auto status = r[5].as<int>();
    if (status < 0 || status > 2)
      throw std::logic_error("stored refund status out of range: " + x.id);
    x.status = static_cast<refund_status>(status);
    x.failure_reason = r[6].as<std::string>();
    x.created_at = r[7].as<int64_t>();
    x.updated_at = r[8].as<int64_t>();
    auto origin = refund_origin_from_code(r[9].as<int>());
    if (!origin)
      throw std::logic_error("stored refund origin out of range: " + x.id);
    x.origin = *origin;
    x.channel = r[10].as<std::string>();
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<std::string> unsettled_orders(pqxx::work& tx, timestamp_us until, uint32_t limit,
                                          const std::string& after_id) {
  std::vector<std::string> ids;
  for (const auto& r : tx.exec_prepared("orders_unsettled", until, static_cast<int64_t>(limit), after_id))
    ids.push_back(r[0].as<std::string>());
  return ids;
}

} // namespace payengine::storage
