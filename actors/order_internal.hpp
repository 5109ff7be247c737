#pragma once
// Internals shared by the order actor's files: order.cpp (lifecycle,
// create, read, watch, persisting decisions) and order_payment.cpp (the
// effects of decisions: channel calls, refunds, reconciliation). Not for
// use outside the order actor.

#include "actors/order.hpp"
#include "actors/request_timer.hpp"

#include <functional>
#include <optional>
#include <string>

namespace payengine::order_detail {

using phase = order_state::phase;
using after_commit_fn = std::function<void(order_self)>;

std::chrono::milliseconds storage_timeout(order_self self);

/// An empty merchant_id is the operator, who sees every order.
bool visible_to(const order_state& st, const std::string& merchant_id);

order_reply not_found();

/// Who waits for the outcome of a write: the requester of the message being
/// handled, or nobody (a timer, a gateway reply: answering those would send
/// the actor an unexpected message).
using reply_to = std::optional<caf::typed_response_promise<order_reply>>;

/// Commits `w`, holding back every other message until then (await), then
/// applies it in memory, answers `rp` and runs `after_commit`.
/// `answer_success` false: the success is answered by `after_commit` (which
/// holds `rp`); errors are answered here.
void persist_into(order_self self, reply_to rp, transition_write w,
                  order_outcome on_success, after_commit_fn after_commit = {},
                  std::string created_id = {}, bool answer_success = true);

/// Decides `input` with the core and carries the decision out: a refusal
/// is answered, a broken invariant stops the actor, a write is committed
/// and then applied, answered and followed by its effects.
void act_into(order_self self, reply_to rp, const domain::order_input_event& input);

/// A broken invariant: logged, answered (if `rp`), and the actor stops (its
/// registry restarts it from storage).
void stop_on_invariant(order_self self, reply_to rp, const std::string& what);

/// Stops the actor on its own (`reason` empty: nothing went wrong). The
/// registry is told first, so that it holds back what comes next for the
/// successor; what is already in the mailbox bounces unprocessed
/// (request_receiver_down), and the HTTP bridge sends it once more, to the
/// registry, which holds it (see http/bridge.hpp).
void stop(order_self self, caf::error reason = {});

/// act_into, answering the current request (if the message is one).
caf::result<order_reply> act(order_self self, const domain::order_input_event& input);

/// True while the actor owes work that dies with it: long polls, gateway
/// replies still due, channel work to retry. It then refuses to passivate.
bool owes_work(const order_state& st);

// --- order_payment.cpp ---------------------------------------------------

/// Runs the effects of a committed (or write-less) decision.
void run_effects(order_self self, const std::vector<domain::effect>& effects);
caf::result<order_reply> on_pay(order_self self, const pay_order& cmd);
caf::result<order_reply> on_channel_event(order_self self, const channel_event& ev);

/// Fills the book's routes (an `auto` order's channels taking payments,
/// best first) from the gateways' health, right before a decision.
void refresh_routes(order_state& st);
caf::result<order_reply> on_reconcile(order_self self);
caf::result<order_reply> on_refund(order_self self, const refund_order& cmd);
void on_retry(order_self self);
/// Retries the channel work still owed after a back-off (doubling, capped).
void arm_retry(order_self self);
/// Picks up refunds still owed from storage (awaited). `required`: at
/// activation, where failing to read them stops the actor.
void load_pending_refunds(order_self self, bool required);

} // namespace payengine::order_detail
