#pragma once
// Wallets and their ledger as every part of the engine sees them (API.md
// v1.1 "Wallets"): the wallet account, the immutable transfers between
// accounts, the operations a wallet actor takes, and its one reply type.
//
// Accounts follow TigerBeetle: four sums per account; a transfer adds its
// amount to one account's debits and another's credits (posted, or
// pending for a reservation); a pending transfer ends with exactly one
// post or void. A wallet's posted balance is credits_posted - debits_posted;
// what is reserved is debits_pending; available = posted - pending >= 0.

#include "messages/order.hpp"
#include "messages/storage_messages.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace payengine {

/// One wallet: its ledger account row.
struct wallet_record {
  std::string id; // wal_...
  std::string merchant_id;
  std::string customer_ref;
  std::string currency;
  std::string customer_phone;
  int64_t debits_posted = 0;
  int64_t credits_posted = 0;
  int64_t debits_pending = 0;
  int64_t credits_pending = 0;
  timestamp_us created_at = 0;
  timestamp_us updated_at = 0;
  int64_t version = 0;

  int64_t posted() const { return credits_posted - debits_posted; }
  int64_t pending() const { return debits_pending; }
  int64_t available() const { return posted() - pending(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wallet_record& x) {
  return f(caf::meta::type_name("wallet_record"), x.id, x.merchant_id, x.customer_ref,
           x.currency, x.customer_phone, x.debits_posted, x.credits_posted,
           x.debits_pending, x.credits_pending, x.created_at, x.updated_at, x.version);
}

/// Stored: never renumber.
enum class transfer_phase : uint8_t { single = 0, pending = 1, post = 2, void_pending = 3 };
/// Stored and shown (API.md): never renumber or rename.
enum class transfer_type : uint8_t { topup = 1, payment = 2, refund = 3, topup_reversal = 4 };

std::string_view to_string(transfer_phase x);
std::string_view to_string(transfer_type x);
std::optional<transfer_type> transfer_type_from_code(int code);
std::optional<transfer_phase> transfer_phase_from_code(int code);

/// One immutable transfer (table ledger_transfers).
struct transfer_row {
  std::string id; // trf_...
  std::string debit_account;
  std::string credit_account;
  int64_t amount = 0;
  std::string currency;
  transfer_phase phase = transfer_phase::single;
  std::string pending_id; // with post and void
  transfer_type type = transfer_type::payment;
  std::string wallet_id;
  std::string order_id;
  int64_t wallet_amount = 0;  // signed change of the wallet's posted balance
  int64_t ending_balance = 0; // the wallet's posted balance after it
  int64_t wallet_seq = 0;     // the wallet version that wrote it
  timestamp_us timeout_at = 0; // pending: voided after it
  timestamp_us created_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_row& x) {
  return f(caf::meta::type_name("transfer_row"), x.id, x.debit_account, x.credit_account,
           x.amount, x.currency, x.phase, x.pending_id, x.type, x.wallet_id, x.order_id,
           x.wallet_amount, x.ending_balance, x.wallet_seq, x.timeout_at, x.created_at);
}

/// The account on the other side of a wallet's transfers.
std::string clearing_account(const std::string& channel, const std::string& currency);
std::string merchant_account(const std::string& merchant_id, const std::string& currency);

/// What a wallet actor is asked to do. Every operation names its transfer
/// by an id derived from what caused it, so doing it twice finds the first.
enum class wallet_op_kind : uint8_t {
  get = 0,     // read the wallet
  reserve = 1, // a pending debit (a payment or a top-up reversal in progress)
  post = 2,    // post the pending debit `pending_id`
  void_reservation = 3, // void it
  credit = 4,  // a posted credit (a top-up, a refund of a balance payment)
};

std::string_view to_string(wallet_op_kind x);

struct wallet_op {
  std::string wallet_id;
  std::string merchant_id; // empty: the engine itself (any merchant's wallet)
  wallet_op_kind kind = wallet_op_kind::get;
  std::string transfer_id; // reserve, credit: the new transfer; post, void: the pending one
  int64_t amount = 0;
  std::string currency;
  transfer_type type = transfer_type::payment;
  std::string order_id;
  std::string counterpart; // the other account (clearing_account / merchant_account)
  timestamp_us timeout_at = 0; // reserve: voided after it unless posted
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wallet_op& x) {
  return f(caf::meta::type_name("wallet_op"), x.wallet_id, x.merchant_id, x.kind,
           x.transfer_id, x.amount, x.currency, x.type, x.order_id, x.counterpart,
           x.timeout_at);
}

/// Numbers are part of the protocol.
enum class wallet_outcome : uint8_t {
  ok = 0,                 // done now, or found done before
  not_found = 1,          // no such wallet (for this merchant)
  insufficient_funds = 2, // available < amount: nothing changed
  currency_mismatch = 3,  // nothing changed
  voided = 4,             // post: the reservation was voided (timed out, or asked)
  unknown_transfer = 5,   // post/void: no such reservation
  already_posted = 6,     // void: it was posted; the money moved
};

std::string_view to_string(wallet_outcome x);

struct wallet_reply {
  wallet_outcome outcome = wallet_outcome::ok;
  wallet_record wallet;  // after the operation
  transfer_row transfer; // the transfer made or found (posted: the post)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wallet_reply& x) {
  return f(caf::meta::type_name("wallet_reply"), x.outcome, x.wallet, x.transfer);
}

/// One write of a wallet actor: its account row (optimistic version), the
/// transfers, and the merchant events they cause, in one transaction. The
/// other side of each transfer is updated in the same transaction.
struct ledger_write {
  wallet_record next;
  int64_t expected_version = 0; // 0: insert the wallet
  std::vector<transfer_row> transfers;
  std::vector<merchant_event_row> events;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ledger_write& x) {
  return f(caf::meta::type_name("ledger_write"), x.next, x.expected_version, x.transfers,
           x.events);
}

struct ledger_result {
  bool applied = false;
  /// Not applied: transfer ids of the write that exist already (found by
  /// id), as stored; empty when the wallet's version moved instead.
  std::vector<transfer_row> existing;
  /// Insert only: (merchant, customer_ref, currency) is taken by this wallet.
  std::string duplicate_of;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ledger_result& x) {
  return f(caf::meta::type_name("ledger_result"), x.applied, x.existing, x.duplicate_of);
}

/// A wallet as loaded: the row, its open reservations, and any transfers
/// asked for by id.
struct wallet_snapshot {
  std::vector<wallet_record> wallet; // empty: no such wallet
  std::vector<transfer_row> pending; // reservations neither posted nor voided
  std::vector<transfer_row> found;   // the transfers asked for, as stored (with their ends)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wallet_snapshot& x) {
  return f(caf::meta::type_name("wallet_snapshot"), x.wallet, x.pending, x.found);
}

/// The wallet actors of this node, for the operator and /metrics.
struct wallets_info {
  uint32_t live = 0;
  uint64_t activations = 0;
  uint64_t ops = 0;          // operations answered
  uint64_t writes = 0;       // ledger writes committed
  uint64_t max_batch = 0;    // most operations in one write
  uint64_t conflicts = 0;    // writes that found the version moved or an id taken
  uint64_t refused = 0;      // insufficient funds, currency mismatch
  uint64_t expired_voids = 0; // reservations voided at their timeout
  uint64_t queued = 0;       // operations waiting in wallet actors now
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wallets_info& x) {
  return f(caf::meta::type_name("wallets_info"), x.live, x.activations, x.ops, x.writes,
           x.max_batch, x.conflicts, x.refused, x.expired_voids, x.queued);
}

/// JSON shapes of API.md.
} // namespace payengine

#include <nlohmann/json_fwd.hpp>

namespace payengine {
nlohmann::json wallet_json(const wallet_record& w);
/// A wallet transaction as the wallet sees it (posted movements only).
nlohmann::json wallet_transaction_json(const transfer_row& t);
} // namespace payengine
