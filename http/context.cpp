#include "http/context.hpp"

#include "config/logging.hpp"
#include "http/bridge.hpp"
#include "messages/errors.hpp"
#include "messages/ids.hpp"

#include <algorithm>
#include <mutex>

namespace payengine::http {

void merchant_directory::remember(const std::string& key_hash, const merchant_record& m,
                                  time_point now) {
  std::unique_lock lock{mtx_};
  if (by_hash_.size() >= next_sweep_)
    drop_expired(now);
  by_hash_[key_hash] = {m, now};
  hash_by_id_[m.id] = key_hash;
}

std::optional<merchant_record> merchant_directory::cached(const std::string& key_hash,
                                                          time_point now) const {
  std::shared_lock lock{mtx_};
  auto i = by_hash_.find(key_hash);
  if (i == by_hash_.end() || now - i->second.at >= ttl_)
    return std::nullopt;
  return i->second.merchant;
}

void merchant_directory::update(const merchant_record& m, time_point now) {
  std::unique_lock lock{mtx_};
  auto id = hash_by_id_.find(m.id);
  if (id == hash_by_id_.end())
    return;
  by_hash_[id->second] = {m, now};
}

size_t merchant_directory::size() const {
  std::shared_lock lock{mtx_};
  return by_hash_.size();
}

void merchant_directory::drop_expired(time_point now) {
  for (auto i = by_hash_.begin(); i != by_hash_.end();) {
    if (now - i->second.at < ttl_) {
      ++i;
      continue;
    }
    hash_by_id_.erase(i->second.merchant.id);
    i = by_hash_.erase(i);
  }
  // All fresh: wait until the map doubles, so sweeps cost O(1) per insert.
  next_sweep_ = std::max<size_t>(1'024, by_hash_.size() * 2);
}

namespace {

std::optional<std::string> bearer_token(const request& req) {
  auto header = req.get_header_value("Authorization");
  constexpr std::string_view prefix = "Bearer ";
  if (header.size() <= prefix.size() || header.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  return header.substr(prefix.size());
}

} // namespace

std::variant<merchant_record, api_error> authenticate(server_context& ctx,
                                                     const request& req) {
  auto key = bearer_token(req);
  if (!key || key->size() > 128 || key->rfind("sk_", 0) != 0)
    return unauthorized();
  auto hash = sha256_hex(*key);
  if (auto m = ctx.merchants.cached(hash))
    return *m;
  auto found = ask<std::vector<merchant_record>>(ctx.sys, ctx.handles()->writer_for(hash),
                                                 ctx.request_timeout(), by_key_atom_v, hash);
  if (!found) // nothing is known to be wrong with the key: the database could not say
    return unavailable_nothing_changed(
      "storage_unavailable", "The API key cannot be checked now (database unavailable); retry later.");
  if (found->empty())
    return unauthorized();
  ctx.merchants.remember(hash, found->front());
  return found->front();
}

std::optional<std::variant<merchant_record, api_error>> authenticate_cached(server_context& ctx,
                                                                          const request& req) {
  auto key = bearer_token(req);
  if (!key || key->size() > 128 || key->rfind("sk_", 0) != 0)
    return unauthorized();
  if (auto m = ctx.merchants.cached(sha256_hex(*key)))
    return *m;
  return std::nullopt;
}

bool is_admin(const server_context& ctx, const request& req) {
  auto token = bearer_token(req);
  return token && secrets_equal(*token, ctx.cfg.admin_token);
}

std::string request_id_of(const request& req) {
  auto given = req.get_header_value("X-Request-Id");
  bool sane = !given.empty() && given.size() <= 64
              && std::all_of(given.begin(), given.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
                 });
  return sane ? given : new_id("req", 20);
}

api_error from_engine_error(const caf::error& err) {
  if (err.category() == engine_error_category) {
    switch (static_cast<engine_error>(err.code())) {
      case engine_error::storage_unavailable:
        return unavailable_nothing_changed("storage_unavailable", "The database is unavailable; nothing was changed. Retry later.");
      case engine_error::commit_in_doubt:
        return service_unavailable("commit_in_doubt", "The outcome is unknown; retry with the same Idempotency-Key or read the order.");
      case engine_error::version_conflict:
        // The version check refused the write: nothing of this request applied.
        return unavailable_nothing_changed("order_reloading", "The order is being reloaded from storage; nothing was changed. Retry.");
      case engine_error::overloaded: // a full queue (storage writers) or a stopped actor
        return unavailable_nothing_changed("overloaded", "The engine is at a limit; nothing was changed. Retry later.");
      case engine_error::channel_unavailable:
        return {503, "channel_error", "channel_unavailable",
                "The payment channel is unavailable (circuit open); nothing was changed. Retry later.", {}, {}, true};
      case engine_error::channel_rate_limited:
        return {429, "rate_limit_error", "channel_rate_limited",
                "Too many requests to the payment channel; retry later.", {}, {}, true};
      case engine_error::shard_moved:
        return unavailable_nothing_changed("shard_moving", "The order's shard is moving between nodes; nothing was changed. Retry.");
      case engine_error::invariant_broken:
        // A bug, caught before it was stored: the order actor stopped and is
        // reloaded from storage. Not "retry, nothing changed": a retry meets
        // the same bug, so the request's key stays claimed.
        logging::error("http.invariant_broken", {{"error", caf::to_string(err)}});
        return {500, "api_error", "invariant_broken",
                "An internal consistency check failed; the request was not applied. "
                "The operator has been alerted.", {}, {}};
    }
  } else if (err == caf::sec::request_timeout) {
    return service_unavailable("timeout", "The engine did not answer in time; the outcome is unknown. Retry with the same Idempotency-Key.");
  } else if (err == caf::sec::request_receiver_down) {
    return service_unavailable("actor_unavailable", "The order's actor stopped; retry.");
  }
  logging::error("http.internal_error", {{"error", caf::to_string(err)},
                                         {"category", caf::to_string(err.category())},
                                         {"code", err.code()}});
  return {500, "api_error", "internal_error", "An internal error occurred.", {}, {}};
}

} // namespace payengine::http
