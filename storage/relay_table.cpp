#include "storage/relay_table.hpp"

#include "storage/pg_array.hpp"

namespace payengine::storage {

namespace {

void prepare_relay(pqxx::connection& c) {
  // The body is built exactly as the notifier's webhook body (outbox_claim
  // in statements.cpp; pe_rfc3339 is the same to_char): a consumer can
  // check one against the other byte for byte.
  // An event is offered only when every earlier event of its order is
  // recorded published: order per order holds even for an event whose
  // transaction committed after later ones had been scanned.
  c.prepare("relay_unpublished",
            "SELECT e.id, e.seq, e.merchant_id, e.order_id, e.type, pe_us(e.created_at),"
            " json_build_object('id', e.id, 'object', 'event', 'type', e.type,"
            "  'created_at', pe_rfc3339(e.created_at), 'data', e.data)::text"
            " FROM merchant_events e WHERE e.published_at IS NULL AND e.seq > $1"
            " AND NOT EXISTS (SELECT 1 FROM merchant_events p WHERE p.order_id = e.order_id"
            "   AND p.published_at IS NULL AND p.seq < e.seq)"
            " ORDER BY e.seq LIMIT $2");
  c.prepare("relay_mark",
            "UPDATE merchant_events SET published_at = clock_timestamp()"
            " WHERE id = ANY($1::text[]) AND published_at IS NULL");
  c.prepare("relay_lag",
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM merchant_events"
            "   WHERE published_at IS NULL LIMIT $1) u),"
            " coalesce((SELECT pe_us(created_at) FROM merchant_events"
            "   WHERE published_at IS NULL ORDER BY seq LIMIT 1), 0)");
}

} // namespace

relay_store::relay_store(std::string database_url, session_limits limits)
  : url_(std::move(database_url)), limits_(limits) {
}

relay_store::~relay_store() = default;

bool relay_store::ensure_connected() {
  if (conn_ && conn_->is_open())
    return true;
  try {
    conn_ = connect(url_, limits_);
    prepare_relay(*conn_);
    return true;
  } catch (const std::exception& e) {
    failed(e);
    return false;
  }
}

void relay_store::failed(const std::exception& e) {
  conn_.reset(); // the next call connects anew
  error_ = e.what();
  while (!error_.empty() && (error_.back() == '\n' || error_.back() == ' '))
    error_.pop_back();
}

std::optional<std::vector<outbox_event>> relay_store::unpublished(int64_t after_seq, uint32_t limit) {
  if (!ensure_connected())
    return std::nullopt;
  try {
    pqxx::read_transaction tx{*conn_};
    std::vector<outbox_event> out;
    for (const auto& r : tx.exec_prepared("relay_unpublished", after_seq, static_cast<int64_t>(limit))) {
      outbox_event e;
      e.id = r[0].as<std::string>();
      e.seq = r[1].as<int64_t>();
      e.merchant_id = r[2].as<std::string>();
      e.order_id = r[3].as<std::string>();
      e.type = r[4].as<std::string>();
      e.created_at = r[5].as<int64_t>();
      e.body = r[6].as<std::string>();
      out.push_back(std::move(e));
    }
    tx.commit();
    return out;
  } catch (const std::exception& e) {
    failed(e);
    return std::nullopt;
  }
}

bool relay_store::mark_published(const std::vector<std::string>& event_ids) {
  if (event_ids.empty())
    return true;
  if (!ensure_connected())
    return false;
  try {
    pg_array ids;
    for (const auto& id : event_ids)
      ids.add(id);
    pqxx::work tx{*conn_};
    // Not flushed at commit: a record lost in a crash only sends those
    // events again (at least once, same message_id), and the relay adds no
    // WAL flush to the writers' group commits.
    tx.exec0("SET LOCAL synchronous_commit = off");
    tx.exec_prepared("relay_mark", ids.str());
    tx.commit();
    return true;
  } catch (const std::exception& e) {
    failed(e);
    return false;
  }
}

std::optional<relay_lag> relay_store::lag(uint64_t count_max) {
  if (!ensure_connected())
    return std::nullopt;
  try {
    pqxx::read_transaction tx{*conn_};
    auto r = tx.exec_prepared1("relay_lag", static_cast<int64_t>(count_max));
    relay_lag out;
    out.unpublished = r[0].as<uint64_t>();
    out.oldest_created_at = r[1].as<int64_t>();
    tx.commit();
    return out;
  } catch (const std::exception& e) {
    failed(e);
    return std::nullopt;
  }
}

} // namespace payengine::storage
