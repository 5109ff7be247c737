#include "storage/tables.hpp"

#include "domain/wallet_decisions.hpp"
#include "storage/pg_array.hpp"

#include <array>
#include <stdexcept>

namespace payengine::storage {

namespace {

wallet_record wallet_from_row(const pqxx::row& r) {
  wallet_record w;
  w.id = r[0].as<std::string>();
  w.merchant_id = r[1].as<std::string>();
  w.customer_ref = r[2].as<std::string>();
  w.currency = r[3].as<std::string>();
  w.customer_phone = r[4].as<std::string>();
  w.debits_posted = r[5].as<int64_t>();
  w.credits_posted = r[6].as<int64_t>();
  w.debits_pending = r[7].as<int64_t>();
  w.credits_pending = r[8].as<int64_t>();
  w.created_at = r[9].as<int64_t>();
  w.updated_at = r[10].as<int64_t>();
  w.version = r[11].as<int64_t>();
  if (auto what = domain::check_wallet(w); !what.empty())
    throw std::logic_error("stored " + what);
  return w;
}

transfer_row transfer_from_row(const pqxx::row& r) {
  transfer_row t;
  t.id = r[0].as<std::string>();
  t.debit_account = r[1].as<std::string>();
  t.credit_account = r[2].as<std::string>();
  t.amount = r[3].as<int64_t>();
  t.currency = r[4].as<std::string>();
  auto phase = transfer_phase_from_code(r[5].as<int>());
  auto type = transfer_type_from_code(r[7].as<int>());
  if (!phase || !type)
    throw std::logic_error("stored transfer out of range: " + t.id);
  t.phase = *phase;
  t.pending_id = r[6].as<std::string>();
  t.type = *type;
  t.wallet_id = r[8].as<std::string>();
  t.order_id = r[9].as<std::string>();
  t.wallet_amount = r[10].as<int64_t>();
  t.ending_balance = r[11].as<int64_t>();
  t.wallet_seq = r[12].as<int64_t>();
  t.timeout_at = r[13].as<int64_t>();
  t.created_at = r[14].as<int64_t>();
  return t;
}

std::vector<transfer_row> transfers_of(const pqxx::result& rows) {
  std::vector<transfer_row> out;
  for (const auto& r : rows)
    out.push_back(transfer_from_row(r));
  return out;
}

/// The kind and owner of a counterpart account, from its id (messages/wallet.cpp).
std::pair<int, std::string> counterpart_kind(const std::string& id, const wallet_record& w) {
  if (id.rfind("clr_", 0) == 0)
    return {2, ""};
  if (id == merchant_account(w.merchant_id, w.currency))
    return {3, w.merchant_id};
  throw std::logic_error("transfer to an account no wallet may touch: " + id);
}

ledger_result insert_wallet(pqxx::work& tx, const ledger_write& w) {
  const auto& n = w.next;
  if (!w.transfers.empty() || n.version != 1 || n.posted() != 0 || n.pending() != 0)
    throw std::logic_error("a new wallet starts empty: " + n.id);
  auto r = tx.exec_prepared("wallet_insert", n.id, n.merchant_id, n.currency, n.customer_ref,
                            n.customer_phone, n.created_at);
  ledger_result out;
  if (!r.empty()) {
    out.applied = true;
    return out;
  }
  auto existing = tx.exec_prepared("wallet_by_customer", n.merchant_id, n.customer_ref, n.currency);
  if (existing.empty())
    throw std::logic_error("wallet insert refused without a duplicate: " + n.id);
  out.duplicate_of = existing[0][0].as<std::string>();
  return out;
}

} // namespace

ledger_result write_ledger(pqxx::work& tx, const ledger_write& w) {
  if (w.expected_version == 0)
    return insert_wallet(tx, w);
  const auto& n = w.next;
  if (n.version != w.expected_version + 1 || w.transfers.empty())
    throw std::logic_error("ledger write breaks its invariants: " + n.id);
  ledger_result out;
  // Found by id: the operation was done before. Nothing is written; the
  // wallet actor learns what exists and decides again.
  pg_array ids;
  for (const auto& t : w.transfers)
    ids.add(t.id);
  out.existing = transfers_of(tx.exec_prepared("transfers_existing", ids.str()));
  if (!out.existing.empty())
    return out;
  auto deltas = domain::deltas_of(w.transfers);
  domain::account_delta mine;
  for (const auto& d : deltas)
    if (d.account == n.id)
      mine = d;
  auto moved = tx.exec_prepared("wallet_update", n.id, mine.debits_posted, mine.credits_posted,
                                mine.debits_pending, mine.credits_pending, n.updated_at,
                                n.version, w.expected_version);
  if (moved.empty())
    return out; // rule 2: another writer moved the wallet
  const auto& m = moved[0];
  if (m[0].as<int64_t>() != n.debits_posted || m[1].as<int64_t>() != n.credits_posted
      || m[2].as<int64_t>() != n.debits_pending || m[3].as<int64_t>() != n.credits_pending)
    throw std::logic_error("wallet " + n.id + " sums disagree with storage");
  // The other side of every transfer, in account order (the lock order).
  for (const auto& d : deltas) {
    if (d.account == n.id)
      continue;
    auto [kind, owner] = counterpart_kind(d.account, n);
    tx.exec_prepared("account_ensure", d.account, kind, owner, n.currency, n.updated_at);
    tx.exec_prepared("account_add", d.account, d.debits_posted, d.credits_posted,
                     d.debits_pending, d.credits_pending, n.updated_at);
  }
  std::array<pg_array, 15> c;
  for (const auto& t : w.transfers) {
    if (t.amount <= 0 || t.wallet_id != n.id || t.currency != n.currency)
      throw std::logic_error("transfer breaks its invariants: " + t.id);
    c[0].add(t.id); c[1].add(t.debit_account); c[2].add(t.credit_account); c[3].add(t.amount);
    c[4].add(t.currency); c[5].add(int64_t{static_cast<int>(t.phase)}); c[6].add(t.pending_id);
    c[7].add(int64_t{static_cast<int>(t.type)}); c[8].add(t.wallet_id); c[9].add(t.order_id);
    c[10].add(t.wallet_amount); c[11].add(t.ending_balance); c[12].add(n.version);
    c[13].add(t.timeout_at); c[14].add(t.created_at);
  }
  tx.exec_prepared("transfers_insert_batch", c[0].str(), c[1].str(), c[2].str(), c[3].str(),
                   c[4].str(), c[5].str(), c[6].str(), c[7].str(), c[8].str(), c[9].str(),
                   c[10].str(), c[11].str(), c[12].str(), c[13].str(), c[14].str());
  insert_merchant_events(tx, w.events);
  out.applied = true;
  return out;
}

wallet_snapshot load_wallet(pqxx::work& tx, const std::string& id,
                            const std::vector<std::string>& named) {
  wallet_snapshot s;
  auto r = tx.exec_prepared("wallet_load", id);
  if (r.empty())
    return s;
  s.wallet.push_back(wallet_from_row(r[0]));
  s.pending = transfers_of(tx.exec_prepared("wallet_reservations", id));
  if (!named.empty()) {
    pg_array ids;
    for (const auto& n : named)
      ids.add(n);
    s.found = transfers_of(tx.exec_prepared("transfers_named", ids.str()));
  }
  return s;
}

std::vector<wallet_record> list_wallets(pqxx::work& tx, const std::string& merchant_id,
                                        const std::string& customer_ref,
                                        const std::string& starting_after, uint32_t limit) {
  std::vector<wallet_record> out;
  for (const auto& r : tx.exec_prepared("wallets_page", merchant_id, customer_ref, starting_after,
                                        static_cast<int64_t>(limit)))
    out.push_back(wallet_from_row(r));
  return out;
}

std::vector<transfer_row> wallet_transactions(pqxx::work& tx, const std::string& wallet_id,
                                              const std::string& starting_after, uint32_t limit) {
  return transfers_of(tx.exec_prepared("wallet_transactions", wallet_id, starting_after,
                                       static_cast<int64_t>(limit)));
}

std::vector<int64_t> ledger_sums(pqxx::work& tx) {
  auto r = tx.exec_prepared("ledger_totals");
  std::vector<int64_t> out;
  for (int i = 0; i < 7; ++i)
    out.push_back(r[0][i].as<int64_t>());
  return out;
}

std::vector<std::string> wallets_with_expired_reservations(pqxx::work& tx, timestamp_us now,
                                                           uint32_t limit) {
  std::vector<std::string> out;
  for (const auto& r : tx.exec_prepared("wallets_with_expired_reservations", now,
                                        static_cast<int64_t>(limit)))
    out.push_back(r[0].as<std::string>());
  return out;
}

std::vector<wallet_record> recent_wallets(pqxx::work& tx, uint32_t limit) {
  std::vector<wallet_record> out;
  for (const auto& r : tx.exec_prepared("wallets_recent", static_cast<int64_t>(limit)))
    out.push_back(wallet_from_row(r));
  return out;
}

std::vector<transfer_row> recent_transfers(pqxx::work& tx, uint32_t limit) {
  return transfers_of(tx.exec_prepared("transfers_recent", static_cast<int64_t>(limit)));
}

} // namespace payengine::storage
