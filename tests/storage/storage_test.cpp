// The SQL layer against a real PostgreSQL: migrations, the version check,
// duplicates, pagination, idempotency keys.
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"
#include "storage/database.hpp"
#include "storage/tables.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <future>
#include <set>

namespace payengine {
namespace {

using testing::test_database;

class storage_test : public ::testing::Test {
protected:
  void SetUp() override {
    PE_REQUIRE_DATABASE();
    db_ = std::make_unique<test_database>("storage");
    auto plain = storage::connect_for_migrations(db_->url());
    storage::migrate(*plain);
    conn_ = storage::connect(db_->url());
    merchant_.id = new_id("mch");
    merchant_.name = "m";
    merchant_.webhook_secret = "whsec_x";
    merchant_.created_at = now_us();
    pqxx::work tx{*conn_};
    ASSERT_TRUE(storage::insert_merchant(tx, merchant_, sha256_hex(merchant_.id)));
    tx.commit();
  }

  order_record draft(const std::string& no) {
    order_record o;
    o.id = new_id("ord");
    o.merchant_id = merchant_.id;
    o.merchant_order_no = no;
    o.amount = 8888;
    o.currency = "CNY";
    o.subject = "s";
    o.channel = "alipay";
    o.created_at = o.updated_at = now_us();
    o.expires_at = o.created_at + 900'000'000;
    o.version = 1;
    o.metadata = {{"k", "v"}};
    return o;
  }

  transition_write insert_of(const order_record& o) {
    order_event_row e;
    e.order_id = o.id;
    e.seq = 1;
    e.type = "order.created";
    e.to = o.status;
    e.at = o.created_at;
    transition_write w;
    w.next = o;
    w.events = {e};
    return w;
  }

  transition_write cancel_of(const order_record& o) {
    auto next = o;
    next.status = order_status::cancelled;
    next.version = o.version + 1;
    next.updated_at = o.updated_at + 1000;
    order_event_row e{o.id, next.version, "order.cancelled", true, o.status,
                      next.status, next.updated_at, "{}", "req_1"};
    transition_write w;
    w.next = next;
    w.expected_version = o.version;
    w.events = {e};
    return w;
  }

  write_result run(const transition_write& w) {
    pqxx::work tx{*conn_};
    auto r = storage::write_transition(tx, w);
    tx.commit();
    return r;
  }

  /// Waits (bounded) until backend `pid` shows `condition` (SQL on
  /// pg_stat_activity), e.g. that it waits on a lock.
  bool session_shows(int pid, const std::string& condition) {
    for (int i = 0; i < 2'000; ++i)
      if (db_->scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(pid)
                      + " AND " + condition) == "1")
        return true;
    return false;
  }

  /// Writes `w` alone on `trips` and ends its session once it shows
  /// `condition`: what the writer is told.
  storage::new_orders_written terminated_when(storage::one_trip_connection& trips,
                                              const transition_write& w,
                                              const std::string& condition) {
    const auto pid = trips.backend_pid();
    auto pending = std::async(std::launch::async,
                              [&] { return storage::insert_new_orders(trips, {&w}, {}, {}); });
    EXPECT_TRUE(session_shows(pid, condition));
    db_->scalar("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
    return pending.get();
  }

  std::unique_ptr<test_database> db_;
  std::unique_ptr<pqxx::connection> conn_;
  merchant_record merchant_;
};

TEST_F(storage_test, migrations_run_once) {
  auto again = storage::connect_for_migrations(db_->url());
  EXPECT_EQ(storage::migrate(*again), 0);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM schema_migrations"),
            std::to_string(storage::all_migrations().size()));
}

TEST_F(storage_test, a_merchant_patch_changes_only_the_fields_it_names) {
  pqxx::work tx{*conn_};
  auto read = storage::merchant_by_key_hash(tx, sha256_hex(merchant_.id));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->rate_per_s, 0u); // migration 008's default: unlimited
  EXPECT_EQ(read->burst, 0u);
  merchant_patch p;
  p.id = merchant_.id;
  p.has_rate_per_s = true;
  p.rate_per_s = 5;
  auto changed = storage::patch_merchant(tx, p);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->rate_per_s, 5u);
  EXPECT_EQ(changed->burst, 0u);
  EXPECT_EQ(changed->name, "m");
  EXPECT_EQ(changed->created_at, merchant_.created_at);
  p = {};
  p.id = merchant_.id;
  p.has_name = p.has_burst = p.has_notify_url = true;
  p.name = "renamed";
  p.burst = 9;
  p.notify_url = "https://example.com/hook";
  changed = storage::patch_merchant(tx, p);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->rate_per_s, 5u);
  EXPECT_EQ(changed->burst, 9u);
  EXPECT_EQ(changed->name, "renamed");
  EXPECT_EQ(storage::merchant_by_key_hash(tx, sha256_hex(merchant_.id))->notify_url, "https://example.com/hook");
  p.id = "mch_nobody";
  EXPECT_FALSE(storage::patch_merchant(tx, p));
  p.id = merchant_.id;
  p.rate_per_s = 1'000'001;
  p.has_rate_per_s = true;
  EXPECT_THROW(storage::patch_merchant(tx, p), std::logic_error);
}

TEST_F(storage_test, the_schema_refuses_rates_out_of_bounds) {
  for (const char* sql : {"UPDATE merchants SET rate_per_s = -1", "UPDATE merchants SET burst = 1000001"}) {
    pqxx::work tx{*conn_};
    EXPECT_THROW(tx.exec(sql), pqxx::check_violation) << sql;
  }
}

TEST_F(storage_test, an_order_round_trips_exactly) {
  auto o = draft("M-1");
  ASSERT_TRUE(run(insert_of(o)).applied);
  pqxx::work tx{*conn_};
  auto loaded = storage::load_order(tx, o.id);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->created_at, o.created_at);
  EXPECT_EQ(loaded->expires_at, o.expires_at);
  EXPECT_EQ(loaded->amount, 8888);
  EXPECT_EQ(loaded->metadata, o.metadata);
  EXPECT_EQ(loaded->version, 1);
  EXPECT_FALSE(storage::load_order(tx, "ord_missing").has_value());
}

TEST_F(storage_test, a_duplicate_merchant_order_no_names_the_existing_order) {
  auto first = draft("M-dup");
  ASSERT_TRUE(run(insert_of(first)).applied);
  auto second = draft("M-dup");
  auto r = run(insert_of(second));
  EXPECT_FALSE(r.applied);
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.existing_order_id, first.id);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "1");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM order_events"), "1");
}

TEST_F(storage_test, a_stale_version_changes_nothing) {
  auto o = draft("M-2");
  ASSERT_TRUE(run(insert_of(o)).applied);
  ASSERT_TRUE(run(cancel_of(o)).applied);
  auto stale = run(cancel_of(o)); // still expects version 1
  EXPECT_FALSE(stale.applied);
  EXPECT_EQ(db_->scalar("SELECT version FROM orders"), "2");
  EXPECT_EQ(db_->scalar("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM order_events"), "1,2");
  pqxx::work tx{*conn_};
  auto events = storage::load_events(tx, o.id, merchant_.id);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].from, order_status::created);
  EXPECT_EQ(events[1].to, order_status::cancelled);
  EXPECT_EQ(events[1].request_id, "req_1");
  EXPECT_TRUE(storage::load_events(tx, o.id, "mch_other").empty());
}

TEST_F(storage_test, writes_that_break_invariants_are_refused) {
  auto o = draft("M-3");
  auto w = insert_of(o);
  w.next.amount_refunded = w.next.amount + 1;
  pqxx::work tx{*conn_};
  EXPECT_THROW(storage::write_transition(tx, w), std::logic_error);
}

TEST_F(storage_test, pages_are_newest_first_without_gaps) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    auto o = draft("M-p" + std::to_string(i));
    o.created_at = o.updated_at = 1'800'000'000'000'000 + i * 1000;
    o.expires_at = o.created_at + 1'000'000;
    ASSERT_TRUE(run(insert_of(o)).applied);
    ids.insert(ids.begin(), o.id);
  }
  std::vector<std::string> seen;
  order_page_query q{merchant_.id, "", "", 3};
  for (int page = 0; page < 5; ++page) {
    pqxx::work tx{*conn_};
    auto p = storage::list_orders(tx, q);
    for (auto& o : p.data)
      seen.push_back(o.id);
    if (!p.has_more)
      break;
    q.starting_after = p.data.back().id;
  }
  EXPECT_EQ(seen, ids);
  pqxx::work tx{*conn_};
  EXPECT_TRUE(storage::list_orders(tx, {merchant_.id, "cancelled", "", 10}).data.empty());
  EXPECT_EQ(storage::list_orders(tx, {"mch_other", "", "", 10}).data.size(), 0u);
}

TEST_F(storage_test, due_orders_are_found_by_expiry) {
  auto soon = draft("M-soon");
  soon.expires_at = soon.created_at + 1000;
  auto later = draft("M-later");
  ASSERT_TRUE(run(insert_of(soon)).applied);
  ASSERT_TRUE(run(insert_of(later)).applied);
  pqxx::work tx{*conn_};
  auto due = storage::due_for_expiry(tx, soon.created_at + 2000, 10);
  EXPECT_EQ(due, std::vector<std::string>{soon.id});
}

TEST_F(storage_test, idempotency_keys_claim_replay_and_refuse) {
  idempotency_claim c{merchant_.id, "key-1", "fp-a"};
  auto in = [&](auto f) {
    pqxx::work tx{*conn_};
    auto r = f(tx);
    tx.commit();
    return r;
  };
  EXPECT_EQ(in([&](pqxx::work& tx) { return storage::claim_idempotency_key(tx, c); }).state,
            idempotency_state::claimed);
  EXPECT_EQ(in([&](pqxx::work& tx) { return storage::claim_idempotency_key(tx, c); }).state,
            idempotency_state::in_flight);
  auto other = c;
  other.fingerprint = "fp-b";
  EXPECT_EQ(in([&](pqxx::work& tx) { return storage::claim_idempotency_key(tx, other); }).state,
            idempotency_state::mismatch);
  EXPECT_TRUE(in([&](pqxx::work& tx) {
    return storage::complete_idempotency_key(tx, {merchant_.id, "key-1", 201, "{\"id\":1}"});
  }));
  auto replay = in([&](pqxx::work& tx) { return storage::claim_idempotency_key(tx, c); });
  EXPECT_EQ(replay.state, idempotency_state::replay);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, "{\"id\":1}");
  // A released key (the first attempt failed with a 5xx) can be claimed again.
  idempotency_claim c2{merchant_.id, "key-2", "fp"};
  in([&](pqxx::work& tx) { return storage::claim_idempotency_key(tx, c2); });
  EXPECT_TRUE(in([&](pqxx::work& tx) { return storage::release_idempotency_key(tx, merchant_.id, "key-2"); }));
  EXPECT_EQ(in([&](pqxx::work& tx) { return storage::claim_idempotency_key(tx, c2); }).state,
            idempotency_state::claimed);
}

} // namespace
} // namespace payengine

namespace payengine {
namespace {

TEST_F(storage_test, one_batch_mixes_inserts_duplicates_and_stale_versions) {
  auto a = draft("M-a");
  ASSERT_TRUE(run(insert_of(a)).applied);
  auto b = draft("M-b");
  auto b_twin = draft("M-b"); // same merchant_order_no, same batch
  auto c = draft("M-a");      // taken by a
  auto a_cancel = cancel_of(a);
  auto a_stale = cancel_of(a);
  a_stale.next.id = a.id;
  auto wb = insert_of(b);
  auto wt = insert_of(b_twin);
  auto wc = insert_of(c);
  pqxx::work tx{*conn_};
  auto results = storage::write_transitions(tx, {&wb, &wt, &wc, &a_cancel});
  tx.commit();
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].applied);
  EXPECT_TRUE(results[1].duplicate);
  EXPECT_EQ(results[1].existing_order_id, b.id);
  EXPECT_TRUE(results[2].duplicate);
  EXPECT_EQ(results[2].existing_order_id, a.id);
  EXPECT_TRUE(results[3].applied);
  EXPECT_FALSE(run(a_stale).applied);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "2");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM order_events"), "3");
}

// A batch writes the side rows of all its applied writes in a few
// statements (trades in one upsert, callbacks in one insert): each row lands
// exactly as one write by itself would leave it, a write whose version moved
// leaves none, and a batch naming one trade twice still upserts it in order.
TEST_F(storage_test, one_batch_writes_the_trades_and_callbacks_of_its_writes) {
  auto trade_of = [](const order_record& o, stored_trade_state state, const std::string& detail) {
    trade_row t;
    t.out_trade_no = o.id + "_1";
    t.order_id = o.id;
    t.attempt = 1;
    t.channel = "alipay";
    t.amount = o.amount;
    t.state = state;
    t.qr_code = state == stored_trade_state::opening ? "" : "https://qr/\"" + o.id + "\"";
    t.paid_amount = state == stored_trade_state::succeeded ? o.amount : 0;
    t.paid_at = state == stored_trade_state::succeeded ? o.updated_at : 0;
    t.detail = detail;
    t.at = o.updated_at;
    return t;
  };
  auto callback_of = [](const order_record& o) {
    callback_row c{"alipay", "ntf_" + o.id, o.id + "_1", "TRADE_SUCCESS", o.amount, "applied",
                   o.updated_at};
    return c;
  };
  std::vector<order_record> orders;
  for (int i = 0; i < 3; ++i) {
    orders.push_back(draft("M-side-" + std::to_string(i)));
    ASSERT_TRUE(run(insert_of(orders.back())).applied);
  }
  // Three transitions in one batch: two open a trade and one of them is told
  // it was paid; the third's version has moved, so its rows must not land.
  auto w0 = cancel_of(orders[0]);
  w0.trades = {trade_of(w0.next, stored_trade_state::waiting, "a, \"b\" {c}")};
  auto w1 = cancel_of(orders[1]);
  w1.trades = {trade_of(w1.next, stored_trade_state::succeeded, "")};
  w1.callbacks = {callback_of(w1.next)};
  auto stale = cancel_of(orders[2]);
  stale.expected_version = 7;
  stale.next.version = 8;
  stale.events.front().seq = 8;
  stale.trades = {trade_of(stale.next, stored_trade_state::waiting, "")};
  stale.callbacks = {callback_of(stale.next)};
  {
    pqxx::work tx{*conn_};
    auto results = storage::write_transitions(tx, {&w0, &w1, &stale});
    tx.commit();
    ASSERT_EQ(results.size(), 3u);
    EXPECT_TRUE(results[0].applied);
    EXPECT_TRUE(results[1].applied);
    EXPECT_FALSE(results[2].applied);
  }
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM channel_trades"), "2");
  EXPECT_EQ(db_->scalar("SELECT state || '|' || qr_code || '|' || detail || '|' || (paid_at IS NULL)"
                        " FROM channel_trades WHERE order_id = '" + orders[0].id + "'"),
            "1|https://qr/\"" + orders[0].id + "\"|a, \"b\" {c}|true");
  EXPECT_EQ(db_->scalar("SELECT state || '|' || paid_amount || '|' || (paid_at IS NOT NULL)"
                        " FROM channel_trades WHERE order_id = '" + orders[1].id + "'"),
            "2|8888|true");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM callbacks"), "1");
  EXPECT_EQ(db_->scalar("SELECT out_trade_no FROM callbacks"), orders[1].id + "_1");

  // One trade named twice in a batch: upserted row by row, the last one wins.
  auto first = trade_of(w0.next, stored_trade_state::waiting, "first");
  auto second = trade_of(w0.next, stored_trade_state::closed, "second");
  transition_write record;
  record.record_only = true;
  record.next = w0.next;
  record.trades = {first, second};
  {
    pqxx::work tx{*conn_};
    auto results = storage::write_transitions(tx, {&record});
    tx.commit();
    ASSERT_TRUE(results.front().applied);
  }
  EXPECT_EQ(db_->scalar("SELECT state || '|' || detail FROM channel_trades WHERE order_id = '"
                        + orders[0].id + "'"),
            "3|second");
}

// The batched side-row statements against the single-row ones they stand
// for, every column compared: the same record-only writes (two new trades
// and two callbacks, then both trades updated) once as one batch each, once
// one write per transaction, must leave the same rows. Every field differs
// between the two orders, so a swapped or dropped column shows.
TEST_F(storage_test, batched_side_rows_equal_the_rows_written_one_by_one) {
  std::vector<order_record> orders;
  for (int i = 0; i < 2; ++i) {
    orders.push_back(draft("M-eq-" + std::to_string(i)));
    ASSERT_TRUE(run(insert_of(orders.back())).applied);
  }
  auto record_of = [&](size_t i, stored_trade_state state, timestamp_us at) {
    const auto& o = orders[i];
    auto n = static_cast<int64_t>(i);
    trade_row t;
    t.out_trade_no = o.id + "_" + std::to_string(2 + i);
    t.order_id = o.id;
    t.attempt = static_cast<int32_t>(2 + i);
    t.channel = i == 0 ? "alipay" : "wechat";
    t.amount = 1'000 + n;
    t.state = state;
    t.qr_code = "https://qr/" + std::to_string(i) + "/" + std::to_string(static_cast<int>(state));
    t.channel_trade_no = state == stored_trade_state::succeeded ? "ct-" + std::to_string(i) : "";
    t.paid_amount = state == stored_trade_state::succeeded ? 900 + n : 0;
    t.paid_at = state == stored_trade_state::succeeded ? at + 7'000'000 + n : 0;
    t.detail = "d" + std::to_string(i) + " \"" + std::to_string(static_cast<int>(state)) + "\"";
    t.at = at + n;
    transition_write w;
    w.record_only = true;
    w.next = o;
    w.trades = {t};
    if (state == stored_trade_state::waiting)
      w.callbacks = {callback_row{t.channel, "ntf-" + std::to_string(i), t.out_trade_no,
                                  i == 0 ? "WAIT_BUYER_PAY" : "NOTPAY", 2'000 + n,
                                  i == 0 ? "ignored" : "duplicate", at + 3'000'000 + n}};
    return w;
  };
  auto t0 = orders[0].updated_at;
  std::vector<transition_write> opened{record_of(0, stored_trade_state::waiting, t0),
                                       record_of(1, stored_trade_state::waiting, t0)};
  std::vector<transition_write> paid{record_of(0, stored_trade_state::succeeded, t0 + 60'000'000),
                                     record_of(1, stored_trade_state::closed, t0 + 60'000'000)};
  auto rows = [&] {
    return db_->scalar("SELECT (SELECT string_agg(row_to_json(t)::text, E'\\n' ORDER BY out_trade_no)"
                       " FROM channel_trades t) || E'\\n' ||"
                       " (SELECT string_agg(row_to_json(c)::text, E'\\n' ORDER BY notify_id) FROM callbacks c)");
  };
  auto write = [&](std::vector<const transition_write*> ws) {
    pqxx::work tx{*conn_};
    for (const auto& r : storage::write_transitions(tx, ws))
      ASSERT_TRUE(r.applied);
    tx.commit();
  };
  write({&opened[0], &opened[1]}); // the batch statements: two rows each
  auto batched_opened = rows();
  write({&paid[0], &paid[1]}); // the upsert's update of two existing trades
  auto batched_paid = rows();
  {
    pqxx::work tx{*conn_};
    tx.exec("DELETE FROM callbacks");
    tx.exec("DELETE FROM channel_trades");
    tx.commit();
  }
  for (const auto& w : opened)
    write({&w}); // one row each: the single-row statements
  auto single_opened = rows();
  for (const auto& w : paid)
    write({&w});
  auto single_paid = rows();
  EXPECT_EQ(batched_opened, single_opened);
  EXPECT_EQ(batched_paid, single_paid);
  // And they say what was written (not two equal wrongs).
  EXPECT_NE(batched_paid.find("\"paid_amount\":900,\"paid_at\":\""), std::string::npos) << batched_paid;
  EXPECT_NE(batched_paid.find("\"channel_trade_no\":\"ct-0\""), std::string::npos) << batched_paid;
  EXPECT_NE(batched_opened.find("\"trade_status\":\"NOTPAY\""), std::string::npos) << batched_opened;
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM channel_trades"), "2");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM callbacks"), "2");
}

TEST_F(storage_test, delivery_outcomes_in_one_statement_record_each_delivery_and_its_attempt) {
  auto o = draft("M-out");
  ASSERT_TRUE(run(insert_of(o)).applied);
  auto fresh_outbox = [&] {
    pqxx::work tx{*conn_};
    tx.exec("DELETE FROM delivery_attempts");
    tx.exec("DELETE FROM outbox");
    tx.exec("DELETE FROM merchant_events");
    tx.exec("INSERT INTO merchant_events (id, merchant_id, order_id, type, created_at, data)"
            " VALUES ('evt_o', " + tx.quote(merchant_.id) + ", " + tx.quote(o.id) + ", 'order.paid', now(), '{}')");
    for (const char* id : {"ntf_a", "ntf_b", "ntf_c"})
      tx.exec(std::string{"INSERT INTO outbox (id, event_id, merchant_id, kind, target, status,"
                          " next_attempt_at, created_at, updated_at, leased_until) VALUES ('"} + id
              + "', 'evt_o', " + tx.quote(merchant_.id)
              + ", 1, '', 0, '2026-01-01Z', '2026-01-01Z', '2026-01-01Z', '2030-01-01Z')");
    tx.commit();
  };
  const timestamp_us at = 1'790'000'000'123'456;
  std::vector<delivery_outcome> outcomes(3);
  outcomes[0].id = "ntf_a"; // delivered
  outcomes[0].attempt = 3;
  outcomes[0].status_code = 204;
  outcomes[0].latency_ms = 17;
  outcomes[0].delivered = true;
  outcomes[0].at = at;
  outcomes[1].id = "ntf_b"; // failed, retried later
  outcomes[1].attempt = 1;
  outcomes[1].status_code = 500;
  outcomes[1].latency_ms = 9;
  outcomes[1].error = "boom \"quoted\", {braced}";
  outcomes[1].next_attempt_at = at + 240'000'000;
  outcomes[1].at = at + 1;
  outcomes[2].id = "ntf_c"; // nowhere to send: dead
  outcomes[2].attempt = 1;
  outcomes[2].error = "no_target";
  outcomes[2].dead = true;
  outcomes[2].at = at + 2;
  auto rows = [&] {
    return db_->scalar("SELECT (SELECT string_agg(row_to_json(x)::text, E'\\n' ORDER BY id) FROM"
                       " (SELECT id, status, attempts, last_status, last_error, leased_until,"
                       "  delivered_at, next_attempt_at, updated_at FROM outbox) x) || E'\\n' ||"
                       " (SELECT string_agg(row_to_json(a)::text, E'\\n' ORDER BY outbox_id) FROM delivery_attempts a)");
  };
  std::vector<const delivery_outcome*> all;
  for (const auto& x : outcomes)
    all.push_back(&x);

  fresh_outbox();
  std::vector<bool> found;
  {
    pqxx::work tx{*conn_};
    found = storage::record_deliveries(tx, all); // one statement
    tx.commit();
  }
  EXPECT_EQ(found, (std::vector<bool>{true, true, true}));
  auto batched = rows();

  fresh_outbox();
  {
    pqxx::work tx{*conn_};
    for (const auto& x : outcomes)
      storage::record_delivery(tx, x);
    tx.commit();
  }
  EXPECT_EQ(batched, rows());
  // And the rows (the same after either way) say what was recorded, field
  // by field: not two equal wrongs.
  auto state_of = [&](const std::string& id, timestamp_us when, timestamp_us next) {
    auto t = [](timestamp_us us) { return "pe_ts(" + std::to_string(us) + ")"; };
    return db_->scalar(
      "SELECT status || '|' || attempts || '|' || last_status || '|' || last_error || '|'"
      " || (leased_until IS NULL) || '|' || coalesce((delivered_at = " + t(when) + ")::text, 'null')"
      " || '|' || (next_attempt_at = " + (next ? t(next) : std::string{"'2026-01-01Z'"}) + ")"
      " || '|' || (updated_at = " + t(when) + ") FROM outbox WHERE id = '" + id + "'");
  };
  EXPECT_EQ(state_of("ntf_a", at, 0), "1|3|204||true|true|true|true") << batched;
  EXPECT_EQ(state_of("ntf_b", at + 1, at + 240'000'000),
            "0|1|500|boom \"quoted\", {braced}|true|null|true|true") << batched;
  EXPECT_EQ(state_of("ntf_c", at + 2, 0), "2|1|0|no_target|true|null|true|true") << batched;
  auto attempt_of = [&](const std::string& id, timestamp_us when) {
    return db_->scalar("SELECT attempt || '|' || status_code || '|' || latency_ms || '|' || error"
                       " || '|' || (at = pe_ts(" + std::to_string(when) + "))"
                       " FROM delivery_attempts WHERE outbox_id = '" + id + "'");
  };
  EXPECT_EQ(attempt_of("ntf_a", at), "3|204|17||true");
  EXPECT_EQ(attempt_of("ntf_b", at + 1), "1|500|9|boom \"quoted\", {braced}|true");
  EXPECT_EQ(attempt_of("ntf_c", at + 2), "1|0|0|no_target|true");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM delivery_attempts"), "3");

  // A delivery named twice in one batch is recorded in order, the later last.
  fresh_outbox();
  delivery_outcome again = outcomes[1];
  again.attempt = 2;
  again.status_code = 200;
  again.error.clear();
  again.delivered = true;
  again.next_attempt_at = 0;
  again.at = at + 10;
  {
    pqxx::work tx{*conn_};
    found = storage::record_deliveries(tx, {&outcomes[1], &again});
    tx.commit();
  }
  EXPECT_EQ(found, (std::vector<bool>{true, true}));
  EXPECT_EQ(db_->scalar("SELECT status || '/' || attempts FROM outbox WHERE id = 'ntf_b'"), "1/2");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM delivery_attempts WHERE outbox_id = 'ntf_b'"), "2");
}

// A batch of plain creates is one transaction of one statement (BEGIN and
// the statement in one round trip, COMMIT in another): committed when it
// returns, a taken merchant_order_no (in the batch or before it)
// inserts nothing, and the rows equal what the transaction path writes.
TEST_F(storage_test, plain_creates_are_one_transaction_of_one_statement) {
  auto a = draft("M-p1");
  ASSERT_TRUE(run(insert_of(a)).applied);
  auto b = draft("M-p2");
  auto twin = draft("M-p2"); // same merchant_order_no, same batch
  auto taken = draft("M-p1"); // a's
  auto wb = insert_of(b);
  auto wt = insert_of(twin);
  auto wa = insert_of(taken);
  storage::one_trip_connection trips{db_->url(), {}};
  auto written = storage::insert_new_orders(trips, {&wb, &wt, &wa}, {}, {});
  ASSERT_EQ(written.trip.result, storage::one_trip_result::outcome::committed) << written.trip.message;
  EXPECT_EQ(written.inserted, (std::set<std::string>{b.id}));
  EXPECT_TRUE(written.stored.empty());
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "2");
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM order_events"), "2");
  pqxx::nontransaction tx{*conn_};
  EXPECT_EQ(storage::order_id_by_merchant_order_no(tx, merchant_.id, "M-p2"), b.id);
  EXPECT_EQ(storage::order_id_by_merchant_order_no(tx, merchant_.id, "M-none"), std::nullopt);

  // Not plain: refused before anything is sent.
  auto cancel = cancel_of(a);
  auto with_event = insert_of(draft("M-p3"));
  with_event.merchant_events.push_back(merchant_event_row{"evt_1", merchant_.id, with_event.next.id,
                                                          "order.created", 1, "{}", "", ""});
  EXPECT_FALSE(storage::plain_create(cancel));
  EXPECT_FALSE(storage::plain_create(with_event));
  EXPECT_TRUE(storage::plain_create(wb));
  EXPECT_THROW(storage::insert_new_orders(trips, {&with_event}, {}, {}), std::logic_error);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "2");
}

TEST_F(storage_test, plain_creates_write_the_rows_the_transaction_path_writes) {
  std::vector<transition_write> ws;
  for (int i = 0; i < 3; ++i) {
    auto o = draft("M-rows-" + std::to_string(i));
    o.metadata = {{"k", "v \"" + std::to_string(i) + "\\"}};
    o.customer_phone = i == 1 ? "+8613800000000" : "";
    o.topup_wallet = i == 2 ? "wal_x" : "";
    ws.push_back(insert_of(o));
    ws.back().events[0].detail_json = R"({"amount":)" + std::to_string(i) + "}";
    ws.back().events[0].request_id = "req_" + std::to_string(i);
    ws.back().epoch = 5;
  }
  std::vector<const transition_write*> ptrs;
  for (const auto& w : ws)
    ptrs.push_back(&w);
  auto rows = [&] {
    return db_->scalar("SELECT (SELECT string_agg(row_to_json(o)::text, E'\\n' ORDER BY id) FROM orders o)"
                       " || E'\\n' || (SELECT string_agg(row_to_json(e)::text, E'\\n' ORDER BY order_id)"
                       " FROM order_events e)");
  };
  {
    pqxx::work tx{*conn_};
    for (const auto& r : storage::write_transitions(tx, ptrs))
      ASSERT_TRUE(r.applied);
    tx.commit();
  }
  auto by_transaction = rows();
  {
    pqxx::work tx{*conn_};
    tx.exec("DELETE FROM order_events");
    tx.exec("DELETE FROM orders");
    tx.commit();
  }
  storage::one_trip_connection trips{db_->url(), {}};
  EXPECT_EQ(storage::insert_new_orders(trips, ptrs, {}, {}).inserted.size(), 3u);
  EXPECT_EQ(rows(), by_transaction);
  EXPECT_NE(by_transaction.find("\"epoch\":5"), std::string::npos) << by_transaction;
  EXPECT_NE(by_transaction.find("wal_x"), std::string::npos) << by_transaction;
}

// A statement the server refuses commits nothing and says why; the
// connection stays usable (its failed transaction rolled back).
TEST_F(storage_test, a_refused_batch_of_creates_writes_nothing_and_the_connection_goes_on) {
  db_->scalar("ALTER TABLE orders ADD CONSTRAINT test_no_boom CHECK (subject <> 'boom')");
  auto good = insert_of(draft("M-r1"));
  auto bad = draft("M-r2");
  bad.subject = "boom";
  auto wb = insert_of(bad);
  storage::one_trip_connection trips{db_->url(), {}};
  auto refused = storage::insert_new_orders(trips, {&good, &wb}, {}, {});
  EXPECT_EQ(refused.trip.result, storage::one_trip_result::outcome::failed);
  EXPECT_EQ(refused.trip.sqlstate, "23514") << refused.trip.message;
  EXPECT_TRUE(refused.inserted.empty());
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "0");
  ASSERT_TRUE(trips.usable());
  auto again = storage::insert_new_orders(trips, {&good}, {}, {});
  EXPECT_EQ(again.trip.result, storage::one_trip_result::outcome::committed) << again.trip.message;
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "1");
}

// The database ends the session while the insert waits on a lock: the
// statement never answered, so no COMMIT went out and nothing was committed
// (not "in doubt"); the connection is gone.
TEST_F(storage_test, a_batch_of_creates_whose_session_is_terminated_mid_statement_committed_nothing) {
  pqxx::connection holder{db_->url()};
  pqxx::work lock{holder};
  lock.exec("LOCK TABLE orders IN EXCLUSIVE MODE");
  storage::one_trip_connection trips{db_->url(), {}};
  auto r = terminated_when(trips, insert_of(draft("M-t1")), "wait_event_type = 'Lock'");
  EXPECT_EQ(r.trip.result, storage::one_trip_result::outcome::failed) << r.trip.message;
  EXPECT_FALSE(trips.usable());
  lock.abort();
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "0");
}

// What happens at COMMIT (a deferred trigger runs there): a COMMIT the
// server refuses rolled back ("failed", the connection goes on); a session
// that ends while its COMMIT runs is in doubt, whatever it turned out to be.
TEST_F(storage_test, a_batch_of_creates_refused_at_commit_failed_and_one_cut_during_commit_is_in_doubt) {
  db_->scalar("CREATE FUNCTION test_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
              " BEGIN IF NEW.subject = 'refuse' THEN RAISE EXCEPTION 'refused at commit'; END IF;"
              " IF NEW.subject = 'slow' THEN PERFORM pg_sleep(30); END IF; RETURN NULL; END $$");
  db_->scalar("CREATE CONSTRAINT TRIGGER test_at_commit AFTER INSERT ON orders"
              " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_at_commit()");
  storage::one_trip_connection trips{db_->url(), {}};
  auto refused_order = draft("M-c1");
  refused_order.subject = "refuse";
  auto wr = insert_of(refused_order);
  auto refused = storage::insert_new_orders(trips, {&wr}, {}, {});
  EXPECT_EQ(refused.trip.result, storage::one_trip_result::outcome::failed) << refused.trip.message;
  EXPECT_EQ(refused.trip.sqlstate, "P0001") << refused.trip.message;
  EXPECT_TRUE(trips.usable());
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "0");

  auto slow_order = draft("M-c2");
  slow_order.subject = "slow";
  auto cut = terminated_when(trips, insert_of(slow_order), "query = 'COMMIT' AND wait_event = 'PgSleep'");
  EXPECT_EQ(cut.trip.result, storage::one_trip_result::outcome::in_doubt) << cut.trip.message;
  EXPECT_TRUE(cut.inserted.empty());
  EXPECT_FALSE(trips.usable());
}

// Several nodes: the statement locks its shards' lease rows and writes an
// order only under its shard's stored epoch, and returns the epochs it
// read. A takeover in progress is waited for, and its new epoch fences.
TEST_F(storage_test, plain_creates_on_several_nodes_are_fenced_in_the_same_transaction) {
  {
    pqxx::work tx{*conn_};
    ASSERT_EQ(storage::init_cluster(tx, 8), 8u);
    storage::lock_leases(tx);
    ASSERT_EQ(storage::take_leases(tx, "a", 60'000, {2, 5}).size(), 2u); // epoch 1 each
    tx.commit();
  }
  storage::one_trip_connection trips{db_->url(), {}};
  auto held = insert_of(draft("M-f1"));
  held.epoch = 1;
  auto stale = insert_of(draft("M-f2"));
  stale.epoch = 7; // not what shard 5 holds
  auto written = storage::insert_new_orders(trips, {&held, &stale}, {2, 5}, {2, 5});
  ASSERT_EQ(written.trip.result, storage::one_trip_result::outcome::committed) << written.trip.message;
  EXPECT_EQ(written.inserted, (std::set<std::string>{held.next.id}));
  EXPECT_EQ(written.stored, (storage::shard_epochs{{2, 1}, {5, 1}}));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "1");
  EXPECT_EQ(db_->scalar("SELECT epoch FROM order_events WHERE order_id = '" + held.next.id + "'"), "1");

  // Another node takes shard 2 (epoch 2) and has not committed yet.
  pqxx::connection other{db_->url()};
  pqxx::work takeover{other};
  takeover.exec("UPDATE shard_leases SET owner = 'b', epoch = epoch + 1 WHERE shard = 2");
  auto late = insert_of(draft("M-f3"));
  late.epoch = 1;
  const auto pid = trips.backend_pid();
  auto pending = std::async(std::launch::async,
                            [&] { return storage::insert_new_orders(trips, {&late}, {2}, {2}); });
  ASSERT_TRUE(session_shows(pid, "wait_event_type = 'Lock'"));
  takeover.commit();
  auto fenced = pending.get();
  ASSERT_EQ(fenced.trip.result, storage::one_trip_result::outcome::committed) << fenced.trip.message;
  EXPECT_TRUE(fenced.inserted.empty());
  EXPECT_EQ(fenced.stored, (storage::shard_epochs{{2, 2}}));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM orders"), "1");
  EXPECT_THROW(storage::insert_new_orders(trips, {&held}, {}, {2}), std::logic_error); // a shard each
}

TEST_F(storage_test, text_with_quotes_and_backslashes_survives_the_array_encoding) {
  auto o = draft("M-q");
  o.subject = "a \"quoted\" \\ back\\slash, {brace} 年";
  o.metadata = {{"k\"1", "v\\2"}, {"k,3", "{v}"}};
  ASSERT_TRUE(run(insert_of(o)).applied);
  pqxx::work tx{*conn_};
  auto loaded = storage::load_order(tx, o.id);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->subject, o.subject);
  EXPECT_EQ(loaded->metadata, o.metadata);
}

// --- session limits --------------------------------------------------------------

TEST(storage_session, the_connect_timeout_joins_either_form_of_connection_string) {
  EXPECT_EQ(storage::with_connect_timeout("dbname=x host=/tmp", 3),
            "dbname=x host=/tmp connect_timeout=3");
  EXPECT_EQ(storage::with_connect_timeout("", 2), "connect_timeout=2");
  EXPECT_EQ(storage::with_connect_timeout("postgresql://u@h:5432/db", 2),
            "postgresql://u@h:5432/db?connect_timeout=2");
  EXPECT_EQ(storage::with_connect_timeout("postgres://h/db?sslmode=disable", 4),
            "postgres://h/db?sslmode=disable&connect_timeout=4");
}

TEST(storage_session, a_writer_connection_carries_its_limits) {
  PE_REQUIRE_DATABASE();
  test_database db{"session"};
  auto conn = storage::connect(db.url(), {2, 250});
  pqxx::nontransaction tx{*conn};
  EXPECT_EQ(tx.exec("SHOW statement_timeout")[0][0].as<std::string>(), "250ms");
  EXPECT_THROW(tx.exec("SELECT pg_sleep(5)"), pqxx::sql_error); // cancelled at 250 ms
  EXPECT_EQ(tx.exec("SELECT 1")[0][0].as<int>(), 1);           // and still usable
  auto unbounded = storage::connect(db.url());
  pqxx::nontransaction plain{*unbounded};
  EXPECT_EQ(plain.exec("SHOW statement_timeout")[0][0].as<std::string>(), "0");
}

} // namespace
} // namespace payengine
