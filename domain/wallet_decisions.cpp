#include "domain/wallet_decisions.hpp"

#include "messages/ids.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace payengine::domain {

namespace {

wallet_decision outcome(wallet_outcome o, transfer_row t = {}) {
  wallet_decision d;
  d.outcome = o;
  d.transfer = std::move(t);
  return d;
}

wallet_decision broken(std::string what) {
  wallet_decision d;
  d.broken_invariant = std::move(what);
  return d;
}

transfer_row base_transfer(const wallet_book& b, const wallet_op& op, timestamp_us now) {
  transfer_row t;
  t.currency = b.wallet.currency;
  t.type = op.type;
  t.wallet_id = b.wallet.id;
  t.order_id = op.order_id;
  t.created_at = now;
  return t;
}

/// Adds the event of a posted movement, with the wallet as it will be.
void add_event(const wallet_book& b, wallet_decision& d) {
  auto after = b.wallet;
  apply_sums(after, d.transfers);
  for (const auto& t : d.transfers)
    if (t.wallet_amount != 0)
      d.events.push_back(wallet_event(after, t));
}

wallet_decision reserve(const wallet_book& b, const wallet_op& op, timestamp_us now) {
  const auto& w = b.wallet;
  if (auto i = b.pending.find(op.transfer_id); i != b.pending.end())
    return outcome(wallet_outcome::ok, i->second); // reserved before
  if (auto i = b.ended.find(op.transfer_id); i != b.ended.end()) {
    if (i->second.phase == transfer_phase::single)
      return broken("reservation " + op.transfer_id + " names a credit of wallet " + w.id);
    return outcome(i->second.phase == transfer_phase::post ? wallet_outcome::already_posted
                                                           : wallet_outcome::voided,
                   i->second);
  }
  if (op.currency != w.currency)
    return outcome(wallet_outcome::currency_mismatch);
  if (op.amount <= 0 || op.counterpart.empty() || op.counterpart == w.id)
    return broken("reservation " + op.transfer_id + " of wallet " + w.id + " is not a debit");
  if (op.amount > w.available())
    return outcome(wallet_outcome::insufficient_funds);
  wallet_decision d;
  auto t = base_transfer(b, op, now);
  t.id = op.transfer_id;
  t.debit_account = w.id;
  t.credit_account = op.counterpart;
  t.amount = op.amount;
  t.phase = transfer_phase::pending;
  t.ending_balance = w.posted();
  t.timeout_at = op.timeout_at;
  d.transfers.push_back(t);
  d.transfer = t;
  return d;
}

/// Post or void reservation `op.transfer_id`.
wallet_decision end_reservation(const wallet_book& b, const wallet_op& op, transfer_phase phase,
                                timestamp_us now) {
  const auto& w = b.wallet;
  bool posting = phase == transfer_phase::post;
  auto i = b.pending.find(op.transfer_id);
  if (i == b.pending.end()) {
    auto e = b.ended.find(op.transfer_id);
    if (e == b.ended.end()) {
      auto d = outcome(wallet_outcome::unknown_transfer);
      d.needs_lookup = true;
      return d;
    }
    bool was_posted = e->second.phase == transfer_phase::post;
    if (was_posted == posting)
      return outcome(wallet_outcome::ok, e->second); // done before
    return outcome(was_posted ? wallet_outcome::already_posted : wallet_outcome::voided, e->second);
  }
  const auto& p = i->second;
  if (p.amount > w.debits_pending)
    return broken("reservation " + p.id + " exceeds what wallet " + w.id + " holds reserved");
  wallet_decision d;
  transfer_row t = p;
  t.id = end_transfer_id(p.id, phase);
  t.phase = phase;
  t.pending_id = p.id;
  t.timeout_at = 0;
  t.created_at = now;
  t.wallet_amount = posting ? -p.amount : 0;
  t.ending_balance = w.posted() + t.wallet_amount;
  d.transfers.push_back(t);
  d.transfer = t;
  if (posting)
    add_event(b, d);
  return d;
}

wallet_decision credit(const wallet_book& b, const wallet_op& op, timestamp_us now) {
  const auto& w = b.wallet;
  auto e = b.ended.find(op.transfer_id);
  if (b.pending.count(op.transfer_id) || (e != b.ended.end() && e->second.phase != transfer_phase::single))
    return broken("credit " + op.transfer_id + " names a reservation of wallet " + w.id);
  if (e != b.ended.end())
    return outcome(wallet_outcome::ok, e->second); // credited before
  if (op.currency != w.currency)
    return outcome(wallet_outcome::currency_mismatch);
  if (op.amount <= 0 || op.counterpart.empty() || op.counterpart == w.id)
    return broken("credit " + op.transfer_id + " of wallet " + w.id + " is not a credit");
  wallet_decision d;
  auto t = base_transfer(b, op, now);
  t.id = op.transfer_id;
  t.debit_account = op.counterpart;
  t.credit_account = w.id;
  t.amount = op.amount;
  t.phase = transfer_phase::single;
  t.wallet_amount = op.amount;
  t.ending_balance = w.posted() + op.amount;
  d.transfers.push_back(t);
  d.transfer = t;
  add_event(b, d);
  return d;
}

void add_to(account_delta& a, const transfer_row& t, bool debit_side) {
  auto n = t.amount;
  auto& posted = debit_side ? a.debits_posted : a.credits_posted;
  auto& pending = debit_side ? a.debits_pending : a.credits_pending;
  switch (t.phase) {
    case transfer_phase::single: posted += n; break;
    case transfer_phase::pending: pending += n; break;
    case transfer_phase::post: pending -= n; posted += n; break;
    case transfer_phase::void_pending: pending -= n; break;
  }
}

} // namespace

wallet_decision decide_wallet(const wallet_book& book, const wallet_op& op, timestamp_us now) {
  const auto& w = book.wallet;
  if (w.id.empty() || op.wallet_id != w.id
      || (!op.merchant_id.empty() && op.merchant_id != w.merchant_id))
    return outcome(wallet_outcome::not_found);
  wallet_decision d;
  switch (op.kind) {
    case wallet_op_kind::get: return d;
    case wallet_op_kind::reserve: d = reserve(book, op, now); break;
    case wallet_op_kind::post: d = end_reservation(book, op, transfer_phase::post, now); break;
    case wallet_op_kind::void_reservation:
      d = end_reservation(book, op, transfer_phase::void_pending, now);
      break;
    case wallet_op_kind::credit: d = credit(book, op, now); break;
  }
  if (d.transfers.empty() || !d.broken_invariant.empty())
    return d;
  // Both sides of the boundary: what the rules wrote must hold what they promise.
  auto after = book.wallet;
  apply_sums(after, d.transfers);
  if (auto what = check_wallet(after); !what.empty())
    return broken(what);
  return d;
}

void apply_sums(wallet_record& w, const std::vector<transfer_row>& transfers) {
  for (const auto& t : transfers) {
    account_delta a;
    if (t.debit_account == w.id)
      add_to(a, t, true);
    if (t.credit_account == w.id)
      add_to(a, t, false);
    w.debits_posted += a.debits_posted;
    w.credits_posted += a.credits_posted;
    w.debits_pending += a.debits_pending;
    w.credits_pending += a.credits_pending;
    w.updated_at = std::max(w.updated_at, t.created_at);
  }
}

void apply_wallet(wallet_book& book, const wallet_decision& d) {
  apply_sums(book.wallet, d.transfers);
  for (const auto& t : d.transfers) {
    switch (t.phase) {
      case transfer_phase::pending: book.pending[t.id] = t; break;
      case transfer_phase::single: book.ended[t.id] = t; break;
      case transfer_phase::post:
      case transfer_phase::void_pending:
        book.pending.erase(t.pending_id);
        book.ended[t.pending_id] = t;
        break;
    }
  }
}

std::vector<wallet_op> expired_reservations(const wallet_book& book, timestamp_us now) {
  std::vector<wallet_op> out;
  for (const auto& [id, t] : book.pending) {
    if (t.timeout_at == 0 || t.timeout_at > now)
      continue;
    wallet_op op;
    op.wallet_id = book.wallet.id;
    op.kind = wallet_op_kind::void_reservation;
    op.transfer_id = id;
    op.order_id = t.order_id;
    op.type = t.type;
    out.push_back(std::move(op));
  }
  return out;
}

timestamp_us next_timeout(const wallet_book& book) {
  timestamp_us first = 0;
  for (const auto& [id, t] : book.pending)
    if (t.timeout_at != 0 && (first == 0 || t.timeout_at < first))
      first = t.timeout_at;
  return first;
}

std::vector<account_delta> deltas_of(const std::vector<transfer_row>& transfers) {
  std::map<std::string, account_delta> by_account;
  for (const auto& t : transfers) {
    auto& d = by_account[t.debit_account];
    d.account = t.debit_account;
    add_to(d, t, true);
    auto& c = by_account[t.credit_account];
    c.account = t.credit_account;
    add_to(c, t, false);
  }
  std::vector<account_delta> out;
  for (auto& [id, d] : by_account)
    out.push_back(std::move(d));
  return out;
}

std::string check_wallet(const wallet_record& w) {
  if (w.debits_posted < 0 || w.credits_posted < 0 || w.debits_pending < 0 || w.credits_pending < 0)
    return "wallet " + w.id + " has a negative sum";
  if (w.available() < 0)
    return "wallet " + w.id + " would be overdrawn";
  return {};
}

namespace {
std::string derived(std::string_view what) {
  return "trf_" + sha256_hex(std::string{"payengine/ledger/"} + std::string{what}).substr(0, 32);
}
} // namespace

std::string reservation_id(const std::string& order_id, int32_t attempt) {
  return derived("payment/" + order_id + "/" + std::to_string(attempt));
}

std::string topup_transfer_id(const std::string& order_id) {
  return derived("topup/" + order_id);
}

std::string refund_transfer_id(const std::string& refund_id) {
  return derived("refund/" + refund_id);
}

std::string reversal_transfer_id(const std::string& refund_id) {
  return derived("topup-reversal/" + refund_id);
}

std::string end_transfer_id(const std::string& pending_id, transfer_phase phase) {
  return derived(std::string{to_string(phase)} + "/" + pending_id);
}

merchant_event_row wallet_event(const wallet_record& after, const transfer_row& t) {
  merchant_event_row m;
  bool credited = t.wallet_amount > 0;
  m.type = credited ? "wallet.credited" : "wallet.debited";
  m.id = "evt_" + sha256_hex("payengine/wallet-event/" + t.id).substr(0, 32);
  m.merchant_id = after.merchant_id;
  m.order_id = t.order_id;
  m.created_at = t.created_at;
  auto wallet = wallet_json(after);
  // The wallet as this transaction left it (a later one in the same write
  // moves it on).
  wallet["balance"]["posted"] = t.ending_balance;
  wallet["balance"]["available"] = t.ending_balance - after.pending();
  m.data_json = nlohmann::json{{"object", "wallet_movement"},
                               {"wallet", std::move(wallet)},
                               {"transaction", wallet_transaction_json(t)}}
                  .dump();
  // The customer hears of money spent from the balance.
  if (!credited && t.type == transfer_type::payment)
    m.sms_to = after.customer_phone;
  return m;
}

} // namespace payengine::domain
