#pragma once
// The order's money rules as one pure function: no actors, no I/O, no
// clock (the caller passes `now`), no randomness (ids are derived from
// what caused them, or passed in).
//
//   decide(book, input, now) -> decision
//
// `book` is what the order actor knows: the committed row and the refunds
// it still owes. A decision is either a typed refusal (nothing changes) or
// a write (the next row version, its event, outbox, trade, refund and
// callback rows, committed in one transaction) plus the effects to run
// once it is committed (open, close or query a trade; execute a refund).
// The order actor (actors/order.cpp) only persists a decision, applies it,
// answers and runs its effects; tests/domain walks these rules by tables
// and by seeded property tests.
//
// What it guarantees (each checked by tests/domain/order_properties_test.cpp):
// - the merchant refunds that did not fail never sum to more than the amount;
// - `amount_refunded` is the sum of succeeded merchant refunds;
// - an automatic refund returns exactly a trade's money that the order
//   could not keep (paid after cancel or expiry, or a second successful
//   trade), once per trade;
// - `refunded` means the merchant refunded the full amount, or the payment
//   came after the order ended; `paid` and `completed` keep money.
// Free text (a refund's reason, a fulfillment detail) is stored and shown,
// never read by a rule.

#include "domain/order_events.hpp"
#include "domain/order_transitions.hpp"
#include "messages/commands.hpp"
#include "messages/gateway_messages.hpp"
#include "messages/storage_messages.hpp"
#include "messages/wallet.hpp"

#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace payengine::domain {

/// What the order actor knows when it decides.
struct order_book {
  order_record order;
  std::vector<refund_row> owed;  // committed as pending, not settled yet
  std::set<std::string> settled; // refund ids whose outcome is committed
  /// For an `auto` order: the channels taking payments now, best first
  /// (domain/routing.hpp rank_routes over those whose breaker is not
  /// open), filled by the actor before it decides. Empty otherwise.
  std::vector<std::string> routes;
};

// --- inputs -------------------------------------------------------------------

struct pay_requested {
  std::string request_id;
  /// "channel" (or empty) opens a channel trade; "balance" pays from
  /// `wallet`, whose reservation `reservation` the actor made first.
  std::string method;
  std::string wallet;
  std::string reservation;
};

/// The wallet posted the reservation of attempt `attempt`: the money moved.
struct balance_settled {
  int32_t attempt = 0;
  transfer_row post;
};

/// The reservation of attempt `attempt` is gone (voided at its timeout).
struct balance_refused {
  int32_t attempt = 0;
  std::string reason;
};

/// The channel's answer to opening `out_trade_no`.
struct trade_open_answer {
  std::string out_trade_no;
  channel_reply reply;
};

/// A verified notification (notify_id set) or a query result.
struct trade_reported {
  channel_event event;
  /// The answer to the query an `auto` payment makes after an unknown
  /// outcome, before it may move to another channel.
  bool before_switch = false;
};

/// The channel accepted our close of `out_trade_no`.
struct trade_closed {
  std::string out_trade_no;
  bool before_switch = false; // the close an `auto` payment makes before moving on
};

struct cancel_requested {
  std::string request_id;
};

/// The expiry timer or the sweeper: the order expires if its time has come.
struct expiry_due {};

struct refund_requested {
  int64_t amount = 0;
  std::string reason;     // the merchant's free text
  std::string refund_id;  // always set by the caller (random, or from the Idempotency-Key)
  std::string request_id;
};

/// The channel's answer to executing refund `refund_id`.
struct refund_answer {
  std::string refund_id;
  channel_reply reply;
};

struct fulfillment_reported {
  fulfillment_stage stage = fulfillment_stage::none;
  std::string detail;     // free text
  std::string request_id;
};

/// Owed work is due: the retry timer (`reconcile` false) or the reconciler.
struct work_due {
  bool reconcile = false;
};

using order_input_event =
  std::variant<pay_requested, trade_open_answer, trade_reported, trade_closed,
               cancel_requested, expiry_due, refund_requested, refund_answer,
               fulfillment_reported, work_due, balance_settled, balance_refused>;

// --- decisions ------------------------------------------------------------------

enum class effect_kind : uint8_t {
  open_trade,     // ask the channel to open `out_trade_no` (the same number again is idempotent)
  close_trade,    // close `out_trade_no`; a refusal turns into a query
  query_trade,    // ask the channel for the truth about `out_trade_no`
  execute_refund, // send `refund` to the channel; owed until settled
  refund_settled, // `refund` is settled and committed: owed no more
  retry_later,    // nothing is known: try the owed work again after a back-off
  alert,          // money the engine must return was refused: keep trying, tell an operator
  post_reservation, // balance payment: post the wallet reservation (payment.channel_trade_no)
  void_reservation, // balance payment ended unpaid: void the reservation
  credit_topup,     // a paid top-up: credit its wallet (once; the id is derived)
};

std::string_view to_string(effect_kind x);

struct effect {
  effect_kind kind;
  std::string out_trade_no;
  refund_row refund;
  std::string reason;  // with alert
  std::string channel; // with open, close and query: the trade's channel
  /// With query and close: an `auto` payment asks before it moves to
  /// another channel (the answer comes back marked, see trade_reported).
  bool before_switch = false;
};

struct decision {
  /// Set: the input is refused and nothing changes.
  refusal_code refused = refusal_code::none;
  int64_t refundable = 0; // with refund_exceeds_amount
  /// Set: a rule would break an invariant. A bug: the actor stops.
  std::string broken_invariant;
  /// To commit before anything else happens.
  std::optional<transition_write> write;
  /// To run after the commit (or at once when there is no write).
  std::vector<effect> effects;
  order_outcome on_success = order_outcome::ok;
  std::string created_id; // the refund a request created (or found)

  bool is_refusal() const { return refused != refusal_code::none; }
};

decision decide(const order_book& book, const order_input_event& input, timestamp_us now);

// --- helpers the actor shares --------------------------------------------------

/// "<order id>_<attempt>": the channel's id of the order's current trade.
std::string out_trade_no_of(const order_record& o);

/// The attempt number in `otn` if it is one of this order's trades.
std::optional<int32_t> attempt_of(const std::string& otn, const std::string& order_id);

/// The next version of `current` in status `to`, with its event row. The
/// merchant events are added by `decide` (merchant_facts).
transition_write make_write(const order_record& current, order_status to, order_fact fact,
                            const std::string& request_id, const std::string& detail_json,
                            timestamp_us now);

/// The merchant event rows (and their deliveries) of a write, from the
/// fact table, with ids derived from the order, version and type.
void add_merchant_events(transition_write& w);

/// The id of the automatic refund of trade `otn`: however often the channel
/// reports that money, it is refunded once (the channel's out_request_no).
std::string automatic_refund_id(const std::string& otn);

/// A top-up whose payment the order kept: its wallet is owed the amount
/// (credited once; the wallet finds a second credit by its id).
bool topup_credit_owed(const order_record& o);

/// Sums the domain's checks over a book: empty when they hold, else what broke.
std::string check_invariants(const order_book& book);

} // namespace payengine::domain
