#include "storage/tables.hpp"

#include <nlohmann/json.hpp>

#include <cassert>
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
  if (!order_invariants_hold(o))
    throw std::logic_error("stored order breaks its invariants: " + o.id);
  return o;
}

void insert_event(pqxx::work& tx, const order_event_row& e) {
  tx.exec_prepared("order_events_insert", e.order_id, e.seq, e.type,
                   e.has_from ? status_code(e.from) : 0, status_code(e.to),
                   e.at, e.detail_json, e.request_id);
}

write_result insert_order(pqxx::work& tx, const transition_write& w) {
  const auto& o = w.next;
  const auto& e = w.events.front();
  auto r = tx.exec_prepared("orders_insert", o.id, o.merchant_id,
                            o.merchant_order_no, o.amount, o.currency,
                            o.subject, o.channel, status_code(o.status),
                            o.notify_url, o.customer_phone, metadata_json(o),
                            o.created_at, o.expires_at, o.version, e.type, e.at,
                            e.detail_json, e.request_id);
  if (r.affected_rows() == 0) {
    auto existing = tx.exec_prepared("orders_id_by_merchant_order_no",
                                     o.merchant_id, o.merchant_order_no);
    if (existing.empty()) // the id itself collided: astronomically unlikely
      throw std::logic_error("order insert refused without a duplicate: " + o.id);
    return {false, true, existing[0][0].as<std::string>()};
  }
  return {true, false, {}};
}

write_result update_order(pqxx::work& tx, const transition_write& w) {
  const auto& o = w.next;
  const auto& e = w.events.front();
  auto r = tx.exec_prepared(
    "orders_update", o.id, w.expected_version, status_code(o.status),
    o.amount_refunded, o.payment.attempt, o.payment.channel_trade_no,
    o.payment.qr_code, o.payment.paid_at, o.payment.failure_reason,
    static_cast<int>(o.fulfillment), o.updated_at, e.seq, e.type,
    status_code(e.from), status_code(e.to), e.at, e.detail_json, e.request_id);
  return {r.affected_rows() == 1, false, {}};
}

} // namespace

write_result write_transition(pqxx::work& tx, const transition_write& w) {
  // Both sides of the boundary: a write that breaks the invariants is a bug.
  if (w.events.empty() || !order_invariants_hold(w.next)
      || w.events.back().seq != w.next.version
      || w.next.version != w.expected_version + 1)
    throw std::logic_error("transition breaks its invariants: " + w.next.id);
  auto result = w.expected_version == 0 ? insert_order(tx, w) : update_order(tx, w);
  if (result.applied)
    for (size_t i = 1; i < w.events.size(); ++i)
      insert_event(tx, w.events[i]);
  return result;
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
