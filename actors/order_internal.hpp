#pragma once
// Internals shared by the order actor's files: order.cpp (lifecycle,
// create, read, cancel, expire) and order_payment.cpp (pay, channel
// events, refunds, reconciliation). Not for use outside the order actor.

#include "actors/order.hpp"
#include "actors/order_transitions.hpp"

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

/// The next version of `current` in status `to`, with its event.
transition_write make_write(const order_record& current, order_status to,
                            const std::string& event_type,
                            const std::string& request_id,
                            const std::string& detail_json = "{}");

/// Who waits for the outcome of a write: the requester of the message being
/// handled, or nobody (a timer, a gateway reply: answering those would send
/// the actor an unexpected message).
using reply_to = std::optional<caf::typed_response_promise<order_reply>>;

/// Commits `w`, holding back every other message until then (await), then
/// applies it in memory, answers `rp` and runs `after_commit`.
void persist_into(order_self self, reply_to rp, transition_write w,
                  order_outcome on_success, after_commit_fn after_commit = {},
                  std::string reply_detail = {});

caf::result<order_reply> persist(order_self self, transition_write w,
                                 order_outcome on_success,
                                 after_commit_fn after_commit = {});

/// The transition table's answer to `input`, persisted; `shape` adjusts the
/// next record and adds side rows before the write.
caf::result<order_reply>
apply_input(order_self self, order_input input, const std::string& request_id,
            const std::string& detail_json = "{}",
            const std::function<void(transition_write&)>& shape = {},
            after_commit_fn after_commit = {});

/// True while the actor owes work that dies with it: long polls, gateway
/// replies still due, channel work to retry. It then refuses to passivate.
bool owes_work(const order_state& st);

// --- order_payment.cpp ---------------------------------------------------

std::string out_trade_no_of(const order_record& o);
caf::result<order_reply> on_pay(order_self self, const pay_order& cmd);
caf::result<order_reply> on_channel_event(order_self self, const channel_event& ev);
caf::result<order_reply> on_reconcile(order_self self);
caf::result<order_reply> on_refund(order_self self, const refund_order& cmd);
caf::result<order_reply> on_fulfill(order_self self, const fulfill_order& cmd);
void on_retry(order_self self);
/// Retries the channel work still owed after a back-off (doubling, capped).
void arm_retry(order_self self);
/// After cancel or expiry: close the trade that may still be open.
void close_open_trade(order_self self, const std::string& out_trade_no);
/// Picks up refunds still owed from storage (awaited). `required`: at
/// activation, where failing to read them stops the actor.
void load_pending_refunds(order_self self, bool required);

} // namespace payengine::order_detail
