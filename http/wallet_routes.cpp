// Wallets (API.md v1.1 "Wallets"): create, read and list wallets, a
// wallet's transactions, and the ledger's sums for the operator. Balances
// are read through the wallet's actor (the only writer), lists from storage.
#include "http/bridge.hpp"
#include "http/routes.hpp"
#include "http/validation.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"
#include "messages/wallet.hpp"

namespace payengine::http {

namespace {

using json = nlohmann::json;

void create_wallet(server_context& ctx, const request& req, response& res,
                   const merchant_record& m) {
  auto body = parse_json_object(req.body);
  if (auto* err = std::get_if<api_error>(&body))
    return send(res, *err);
  auto fields = parse_wallet_fields(std::get<json>(body));
  if (auto* err = std::get_if<api_error>(&fields))
    return send(res, *err);
  const auto& f = std::get<wallet_fields>(fields);
  ledger_write w;
  w.expected_version = 0;
  auto& n = w.next;
  n.id = new_id("wal");
  n.merchant_id = m.id;
  n.customer_ref = f.customer_ref;
  n.currency = f.currency;
  n.customer_phone = f.customer_phone;
  n.created_at = n.updated_at = now_us();
  n.version = 1;
  auto wallet = n;
  // Every ledger write goes through the ledger's writer (actors/engine.cpp).
  auto r = ask<ledger_result>(ctx.sys, ctx.handles()->ledger_writer, ctx.request_timeout(),
                              std::move(w));
  if (!r)
    return send(res, from_engine_error(r.error()));
  if (!r->duplicate_of.empty())
    return send(res, {409, "conflict_error", "duplicate_wallet",
                      "This customer has a wallet in " + f.currency + " already.", "customer_ref",
                      {{"id", r->duplicate_of}}});
  send_json(res, 201, wallet_json(wallet));
}

void get_wallet(server_context& ctx, const request& req, response& res, const merchant_record& m) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "wal"))
    return send(res, not_found("wallet"));
  wallet_op op;
  op.wallet_id = id;
  op.merchant_id = m.id;
  auto r = ask<wallet_reply>(ctx.sys, ctx.handles()->wallets, ctx.request_timeout(), op);
  if (!r)
    return send(res, from_engine_error(r.error()));
  if (r->outcome != wallet_outcome::ok)
    return send(res, not_found("wallet"));
  send_json(res, 200, wallet_json(r->wallet));
}

void list_wallets(server_context& ctx, const request& req, response& res, const merchant_record& m) {
  auto params = parse_wallet_list_params(req.params, true);
  if (auto* err = std::get_if<api_error>(&params))
    return send(res, *err);
  const auto& p = std::get<wallet_list_params>(params);
  auto rows = ask<std::vector<wallet_record>>(ctx.sys, ctx.handles()->writer_for(m.id),
                                              ctx.request_timeout(), wallet_atom_v, m.id,
                                              p.customer_ref, p.starting_after, p.limit + 1);
  if (!rows)
    return send(res, from_engine_error(rows.error()));
  auto data = json::array();
  for (size_t i = 0; i < rows->size() && i < p.limit; ++i)
    data.push_back(wallet_json((*rows)[i]));
  send_json(res, 200, {{"object", "list"}, {"data", std::move(data)}, {"has_more", rows->size() > p.limit}});
}

void list_transactions(server_context& ctx, const request& req, response& res,
                       const merchant_record& m) {
  auto id = req.matches[1];
  if (!well_formed_id(id, "wal"))
    return send(res, not_found("wallet"));
  auto params = parse_wallet_list_params(req.params, false);
  if (auto* err = std::get_if<api_error>(&params))
    return send(res, *err);
  const auto& p = std::get<wallet_list_params>(params);
  // The merchant's own wallet only (its actor says whose it is).
  wallet_op op;
  op.wallet_id = id;
  op.merchant_id = m.id;
  auto w = ask<wallet_reply>(ctx.sys, ctx.handles()->wallets, ctx.request_timeout(), op);
  if (!w)
    return send(res, from_engine_error(w.error()));
  if (w->outcome != wallet_outcome::ok)
    return send(res, not_found("wallet"));
  auto rows = ask<std::vector<transfer_row>>(ctx.sys, ctx.handles()->writer_for(id),
                                             ctx.request_timeout(), ledger_atom_v, id,
                                             p.starting_after, p.limit + 1);
  if (!rows)
    return send(res, from_engine_error(rows.error()));
  auto data = json::array();
  for (size_t i = 0; i < rows->size() && i < p.limit; ++i)
    data.push_back(wallet_transaction_json((*rows)[i]));
  send_json(res, 200, {{"object", "list"}, {"data", std::move(data)}, {"has_more", rows->size() > p.limit}});
}

/// GET /admin/ledger: the sums over every account (equal debits and
/// credits, posted and pending, at all times), with the wallets moved last
/// and the newest transfers for the console (`?recent=N`, default 10).
void ledger(server_context& ctx, const request& req, response& res) {
  if (!is_admin(ctx, req))
    return send(res, {401, "authentication_error", "invalid_admin_token",
                      "Provide the admin token as 'Authorization: Bearer <token>'.", {}, {}});
  uint32_t recent = 10;
  if (req.has_param("recent")) {
    auto n = parse_bounded_int(req.get_param_value("recent"), 0, 100);
    if (!n)
      return send(res, invalid_param("recent", "recent must be an integer from 0 to 100."));
    recent = static_cast<uint32_t>(*n);
  }
  auto handles = ctx.handles();
  const auto& writer = handles->ledger_writer;
  auto sums = ask<std::vector<int64_t>>(ctx.sys, writer, ctx.request_timeout(), ledger_atom_v);
  if (!sums || sums->size() != 7)
    return send(res, from_engine_error(sums ? caf::error{} : sums.error()));
  const auto& s = *sums;
  json out = {{"object", "ledger"},
              {"accounts", s[0]},
              {"debits_posted", s[1]},
              {"credits_posted", s[2]},
              {"debits_pending", s[3]},
              {"credits_pending", s[4]},
              {"balanced", s[1] == s[2] && s[3] == s[4]},
              {"wallets", s[5]},
              {"transfers", s[6]}};
  if (recent > 0) {
    auto wallets = ask<std::vector<wallet_record>>(ctx.sys, writer, ctx.request_timeout(),
                                                   wallet_atom_v, recent);
    auto transfers = ask<std::vector<transfer_row>>(ctx.sys, writer, ctx.request_timeout(),
                                                    ledger_atom_v, recent);
    auto ws = json::array();
    if (wallets)
      for (const auto& w : *wallets) {
        auto j = wallet_json(w);
        j["merchant_id"] = w.merchant_id;
        ws.push_back(std::move(j));
      }
    auto ts = json::array();
    if (transfers)
      for (const auto& t : *transfers)
        ts.push_back({{"id", t.id}, {"phase", to_string(t.phase)}, {"type", to_string(t.type)},
                      {"amount", t.amount}, {"currency", t.currency},
                      {"debit_account", t.debit_account}, {"credit_account", t.credit_account},
                      {"wallet_id", t.wallet_id}, {"order_id", t.order_id},
                      {"created_at", to_rfc3339(t.created_at)}});
    out["recent_wallets"] = std::move(ws);
    out["recent_transfers"] = std::move(ts);
  }
  send_json(res, 200, out);
}

} // namespace

void add_wallet_routes(router& svr, server_context& ctx) {
  svr.post("/v1/wallets",
           merchant_route(ctx, [&ctx](const request& req, response& res, const merchant_record& m) {
             with_idempotency(ctx, req, res, m, [&](response& r) { create_wallet(ctx, req, r, m); });
           }));
  svr.get("/v1/wallets",
          merchant_route(ctx, [&ctx](const request& req, response& res, const merchant_record& m) {
            list_wallets(ctx, req, res, m);
          }));
  svr.get(R"(/v1/wallets/([^/]+))",
          merchant_route(ctx, [&ctx](const request& req, response& res, const merchant_record& m) {
            get_wallet(ctx, req, res, m);
          }));
  svr.get(R"(/v1/wallets/([^/]+)/transactions)",
          merchant_route(ctx, [&ctx](const request& req, response& res, const merchant_record& m) {
            list_transactions(ctx, req, res, m);
          }));
  svr.get("/admin/ledger", [&ctx](const request& req, response& res) { ledger(ctx, req, res); });
}

} // namespace payengine::http
