#pragma once
// A wallet's money rules as pure functions: no actors, no I/O, no clock
// (the caller passes `now`). The wallet actor (actors/wallet.cpp) only
// persists what these decide, then applies it and answers.
//
//   decide_wallet(book, op, now) -> wallet_decision
//
// What they guarantee (tests/domain/wallet_decisions_test.cpp, by tables
// and by seeded property runs):
// - a wallet never reserves or posts more than it holds:
//   credits_posted - debits_posted - debits_pending >= 0 after every step;
// - an operation names its transfer by an id derived from its cause, so a
//   second try finds the first and moves no money;
// - a reservation ends once: posted or voided, never both;
// - every transfer adds the same amount to one account's debits and
//   another's credits, so the ledger's sums stay equal.

#include "messages/wallet.hpp"

#include <map>
#include <string>
#include <vector>

namespace payengine::domain {

/// What a wallet actor knows when it decides.
struct wallet_book {
  wallet_record wallet;
  /// Open reservations by id.
  std::map<std::string, transfer_row> pending;
  /// Transfers known to be done, by the id an operation names: a credit by
  /// its own id; a reservation by its id, mapped to its post or void. A
  /// cache: what is not in it is found in storage (a write naming an id
  /// that exists is refused there, and the actor learns it).
  std::map<std::string, transfer_row> ended;
};

struct wallet_decision {
  wallet_outcome outcome = wallet_outcome::ok;
  /// Set: a rule would break an invariant. A bug: the actor stops.
  std::string broken_invariant;
  /// The ops's transfer was not in the book: only storage can tell (post,
  /// void of a reservation this book never saw).
  bool needs_lookup = false;
  /// New transfers and the merchant events they cause (none: nothing changes).
  std::vector<transfer_row> transfers;
  std::vector<merchant_event_row> events;
  /// What the operation made or found.
  transfer_row transfer;
};

wallet_decision decide_wallet(const wallet_book& book, const wallet_op& op, timestamp_us now);

/// Applies a decision's transfers to the book: the wallet's sums, its open
/// reservations and what has ended. The version is the caller's.
void apply_wallet(wallet_book& book, const wallet_decision& d);

/// Only the wallet's four sums (and updated_at) moved by `transfers`.
void apply_sums(wallet_record& w, const std::vector<transfer_row>& transfers);

/// The voids of reservations whose timeout has passed.
std::vector<wallet_op> expired_reservations(const wallet_book& book, timestamp_us now);

/// The earliest timeout among open reservations (0: none).
timestamp_us next_timeout(const wallet_book& book);

/// What transfers add to each account's four sums, one entry per account,
/// in account id order (the order storage locks them in).
struct account_delta {
  std::string account;
  int64_t debits_posted = 0;
  int64_t credits_posted = 0;
  int64_t debits_pending = 0;
  int64_t credits_pending = 0;
};
std::vector<account_delta> deltas_of(const std::vector<transfer_row>& transfers);

/// Empty when the wallet's row holds its invariants, else what broke.
std::string check_wallet(const wallet_record& w);

/// Ids derived from what caused a transfer.
std::string reservation_id(const std::string& order_id, int32_t attempt);
std::string topup_transfer_id(const std::string& order_id);
std::string refund_transfer_id(const std::string& refund_id);
std::string reversal_transfer_id(const std::string& refund_id);
/// The post or void ending reservation `pending_id`.
std::string end_transfer_id(const std::string& pending_id, transfer_phase phase);

/// The merchant event of a posted movement (wallet.credited / wallet.debited).
merchant_event_row wallet_event(const wallet_record& after, const transfer_row& t);

} // namespace payengine::domain
