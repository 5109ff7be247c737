#pragma once
// The one CAF type-id block of the project: every message type and atom.
// Kept in one place so the code stays close to newer CAF (0.18+).

#include <caf/type_id.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace payengine {
enum class order_status : uint8_t;
enum class order_outcome : uint8_t;
enum class engine_error : uint8_t;
enum class idempotency_state : uint8_t;
struct order_record;
struct order_event_row;
struct merchant_record;
struct merchant_patch;
struct order_reply;
struct create_order;
struct get_order;
struct watch_order;
struct cancel_order;
struct expire_order;
struct inspect_order;
struct order_actor_info;
struct transition_write;
struct write_result;
struct order_page_query;
struct order_page;
struct idempotency_claim;
struct idempotency_entry;
struct idempotency_result;
struct shard_info;
struct writer_info;
enum class channel_outcome : uint8_t;
enum class trade_state : uint8_t;
struct open_trade;
struct query_trade;
struct close_trade;
struct refund_trade;
struct channel_reply;
struct gateway_info;
struct refund_row;
struct pay_order;
struct channel_event;
struct reconcile_order;
struct refund_order;
struct fulfill_order;
struct delivery;
struct delivery_outcome;
struct actor_event;
struct inspector_info;
struct notifier_info;
enum class actor_event_kind : uint8_t;
struct wallet_record;
struct transfer_row;
struct wallet_op;
struct wallet_reply;
struct ledger_write;
struct ledger_result;
struct wallet_snapshot;
struct wallets_info;
enum class transfer_phase : uint8_t;
enum class transfer_type : uint8_t;
enum class wallet_op_kind : uint8_t;
enum class wallet_outcome : uint8_t;
} // namespace payengine

CAF_BEGIN_TYPE_ID_BLOCK(payengine, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(payengine, (payengine::order_status))
  CAF_ADD_TYPE_ID(payengine, (payengine::order_outcome))
  CAF_ADD_TYPE_ID(payengine, (payengine::engine_error))
  CAF_ADD_TYPE_ID(payengine, (payengine::idempotency_state))
  CAF_ADD_TYPE_ID(payengine, (payengine::order_record))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::order_record>))
  CAF_ADD_TYPE_ID(payengine, (payengine::order_event_row))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::order_event_row>))
  CAF_ADD_TYPE_ID(payengine, (payengine::merchant_record))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::merchant_record>))
  CAF_ADD_TYPE_ID(payengine, (payengine::merchant_patch))
  CAF_ADD_TYPE_ID(payengine, (payengine::order_reply))
  CAF_ADD_TYPE_ID(payengine, (payengine::create_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::get_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::watch_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::cancel_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::expire_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::inspect_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::order_actor_info))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::order_actor_info>))
  CAF_ADD_TYPE_ID(payengine, (payengine::transition_write))
  CAF_ADD_TYPE_ID(payengine, (payengine::write_result))
  CAF_ADD_TYPE_ID(payengine, (payengine::order_page_query))
  CAF_ADD_TYPE_ID(payengine, (payengine::order_page))
  CAF_ADD_TYPE_ID(payengine, (payengine::idempotency_claim))
  CAF_ADD_TYPE_ID(payengine, (payengine::idempotency_entry))
  CAF_ADD_TYPE_ID(payengine, (payengine::idempotency_result))
  CAF_ADD_TYPE_ID(payengine, (payengine::shard_info))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::shard_info>))
  CAF_ADD_TYPE_ID(payengine, (payengine::writer_info))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::writer_info>))
  CAF_ADD_TYPE_ID(payengine, (std::vector<std::string>))
  CAF_ADD_TYPE_ID(payengine, (payengine::channel_outcome))
  CAF_ADD_TYPE_ID(payengine, (payengine::trade_state))
  CAF_ADD_TYPE_ID(payengine, (payengine::open_trade))
  CAF_ADD_TYPE_ID(payengine, (payengine::query_trade))
  CAF_ADD_TYPE_ID(payengine, (payengine::close_trade))
  CAF_ADD_TYPE_ID(payengine, (payengine::refund_trade))
  CAF_ADD_TYPE_ID(payengine, (payengine::channel_reply))
  CAF_ADD_TYPE_ID(payengine, (payengine::gateway_info))
  CAF_ADD_TYPE_ID(payengine, (payengine::refund_row))
  CAF_ADD_TYPE_ID(payengine, (payengine::pay_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::channel_event))
  CAF_ADD_TYPE_ID(payengine, (payengine::reconcile_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::refund_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::fulfill_order))
  CAF_ADD_TYPE_ID(payengine, (payengine::delivery))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::delivery>))
  CAF_ADD_TYPE_ID(payengine, (payengine::delivery_outcome))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::refund_row>))
  CAF_ADD_TYPE_ID(payengine, (payengine::actor_event_kind))
  CAF_ADD_TYPE_ID(payengine, (payengine::actor_event))
  CAF_ADD_TYPE_ID(payengine, (payengine::inspector_info))
  CAF_ADD_TYPE_ID(payengine, (payengine::notifier_info))
  CAF_ADD_TYPE_ID(payengine, (payengine::wallet_record))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::wallet_record>))
  CAF_ADD_TYPE_ID(payengine, (payengine::transfer_row))
  CAF_ADD_TYPE_ID(payengine, (std::vector<payengine::transfer_row>))
  CAF_ADD_TYPE_ID(payengine, (payengine::wallet_op))
  CAF_ADD_TYPE_ID(payengine, (payengine::wallet_reply))
  CAF_ADD_TYPE_ID(payengine, (payengine::ledger_write))
  CAF_ADD_TYPE_ID(payengine, (payengine::ledger_result))
  CAF_ADD_TYPE_ID(payengine, (payengine::wallet_snapshot))
  CAF_ADD_TYPE_ID(payengine, (payengine::transfer_phase))
  CAF_ADD_TYPE_ID(payengine, (payengine::transfer_type))
  CAF_ADD_TYPE_ID(payengine, (payengine::wallet_op_kind))
  CAF_ADD_TYPE_ID(payengine, (payengine::wallet_outcome))
  CAF_ADD_TYPE_ID(payengine, (std::vector<int64_t>))
  CAF_ADD_TYPE_ID(payengine, (payengine::wallets_info))

  CAF_ADD_ATOM(payengine, payengine, load_atom, "load")
  CAF_ADD_ATOM(payengine, payengine, insert_atom, "insert")
  CAF_ADD_ATOM(payengine, payengine, events_atom, "events")
  CAF_ADD_ATOM(payengine, payengine, merchant_atom, "merchant")
  CAF_ADD_ATOM(payengine, payengine, by_key_atom, "by_key")
  CAF_ADD_ATOM(payengine, payengine, idem_atom, "idem")
  CAF_ADD_ATOM(payengine, payengine, release_atom, "release")
  CAF_ADD_ATOM(payengine, payengine, due_atom, "due")
  CAF_ADD_ATOM(payengine, payengine, ping_db_atom, "ping_db")
  CAF_ADD_ATOM(payengine, payengine, flush_atom, "flush")
  CAF_ADD_ATOM(payengine, payengine, idle_atom, "idle")
  CAF_ADD_ATOM(payengine, payengine, passivate_atom, "passivate")
  CAF_ADD_ATOM(payengine, payengine, expiry_atom, "expiry")
  CAF_ADD_ATOM(payengine, payengine, unwatch_atom, "unwatch")
  CAF_ADD_ATOM(payengine, payengine, sweep_atom, "sweep")
  CAF_ADD_ATOM(payengine, payengine, info_atom, "info")
  CAF_ADD_ATOM(payengine, payengine, list_atom, "list")
  CAF_ADD_ATOM(payengine, payengine, kill_atom, "kill")
  CAF_ADD_ATOM(payengine, payengine, refunds_atom, "refunds")
  CAF_ADD_ATOM(payengine, payengine, unsettled_atom, "unsettled")
  CAF_ADD_ATOM(payengine, payengine, retry_atom, "retry")
  CAF_ADD_ATOM(payengine, payengine, keep_atom, "keep")
  CAF_ADD_ATOM(payengine, payengine, claim_atom, "claim")
  CAF_ADD_ATOM(payengine, payengine, unlease_atom, "unlease")
  CAF_ADD_ATOM(payengine, payengine, redeliver_atom, "redeliver")
  CAF_ADD_ATOM(payengine, payengine, notifs_atom, "notifs")
  CAF_ADD_ATOM(payengine, payengine, outbox_atom, "outbox")
  CAF_ADD_ATOM(payengine, payengine, lost_atom, "lost")
  CAF_ADD_ATOM(payengine, payengine, wallet_atom, "wallet")
  CAF_ADD_ATOM(payengine, payengine, ledger_atom, "ledger")
  CAF_ADD_ATOM(payengine, payengine, reservation_atom, "rsv_expiry")

CAF_END_TYPE_ID_BLOCK(payengine)
