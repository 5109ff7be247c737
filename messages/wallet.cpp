#include "messages/wallet.hpp"

#include "messages/timestamps.hpp"

#include <nlohmann/json.hpp>

namespace payengine {

std::string_view to_string(transfer_phase x) {
  switch (x) {
    case transfer_phase::single: return "single";
    case transfer_phase::pending: return "pending";
    case transfer_phase::post: return "post";
    case transfer_phase::void_pending: return "void";
  }
  return "unknown";
}

std::string_view to_string(transfer_type x) {
  switch (x) {
    case transfer_type::topup: return "topup";
    case transfer_type::payment: return "payment";
    case transfer_type::refund: return "refund";
    case transfer_type::topup_reversal: return "topup_reversal";
  }
  return "unknown";
}

std::optional<transfer_type> transfer_type_from_code(int code) {
  if (code < 1 || code > 4)
    return std::nullopt;
  return static_cast<transfer_type>(code);
}

std::optional<transfer_phase> transfer_phase_from_code(int code) {
  if (code < 0 || code > 3)
    return std::nullopt;
  return static_cast<transfer_phase>(code);
}

std::string_view to_string(wallet_op_kind x) {
  switch (x) {
    case wallet_op_kind::get: return "get";
    case wallet_op_kind::reserve: return "reserve";
    case wallet_op_kind::post: return "post";
    case wallet_op_kind::void_reservation: return "void";
    case wallet_op_kind::credit: return "credit";
  }
  return "unknown";
}

std::string_view to_string(wallet_outcome x) {
  switch (x) {
    case wallet_outcome::ok: return "ok";
    case wallet_outcome::not_found: return "not_found";
    case wallet_outcome::insufficient_funds: return "insufficient_funds";
    case wallet_outcome::currency_mismatch: return "currency_mismatch";
    case wallet_outcome::voided: return "voided";
    case wallet_outcome::unknown_transfer: return "unknown_transfer";
    case wallet_outcome::already_posted: return "already_posted";
  }
  return "unknown";
}

std::string clearing_account(const std::string& channel, const std::string& currency) {
  return "clr_" + channel + "_" + currency;
}

std::string merchant_account(const std::string& merchant_id, const std::string& currency) {
  return "pay_" + merchant_id + "_" + currency;
}

nlohmann::json wallet_json(const wallet_record& w) {
  return {
    {"id", w.id},
    {"object", "wallet"},
    {"customer_ref", w.customer_ref},
    {"currency", w.currency},
    {"customer_phone", w.customer_phone.empty() ? nlohmann::json(nullptr)
                                                : nlohmann::json(w.customer_phone)},
    {"balance", {{"available", w.available()}, {"pending", w.pending()}, {"posted", w.posted()}}},
    {"created_at", to_rfc3339(w.created_at)},
    {"version", w.version},
  };
}

nlohmann::json wallet_transaction_json(const transfer_row& t) {
  return {
    {"id", t.id},
    {"object", "wallet_transaction"},
    {"type", to_string(t.type)},
    {"amount", t.wallet_amount},
    {"currency", t.currency},
    {"ending_balance", t.ending_balance},
    {"order_id", t.order_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.order_id)},
    {"created_at", to_rfc3339(t.created_at)},
  };
}

} // namespace payengine
