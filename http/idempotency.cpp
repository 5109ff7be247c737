#include "config/logging.hpp"
#include "http/bridge.hpp"
#include "http/routes.hpp"
#include "messages/ids.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>

namespace payengine::http {

namespace {

constexpr size_t key_length_max = 255;

void replay(response& res, const idempotency_result& r) {
  res.status = r.status;
  res.set_header("Idempotent-Replayed", "true");
  res.set_content(r.body, "application/json; charset=utf-8");
}

/// True when the engine knows the request changed nothing (refused before
/// any commit), so that running it again is safe: set from the typed error
/// (api_error::nothing_changed), never read back from the body.
bool nothing_applied(const response& res) {
  return res.get_header_value(nothing_changed_header) == "true";
}

/// A claim is taken over by another request only after its lock expired
/// (storage/statements.cpp: 60 s); until then a late release is still ours.
constexpr auto release_window = std::chrono::seconds{50};
constexpr size_t unreleased_max = 10'000;

void remember_unreleased(server_context& ctx, const std::string& merchant_id, const std::string& key) {
  std::lock_guard lock{ctx.unreleased_keys.mtx};
  auto& keys = ctx.unreleased_keys.keys;
  if (keys.size() < unreleased_max)
    keys[{merchant_id, key}] = std::chrono::steady_clock::now();
}

/// Releases the key first if an earlier request of this node could not.
void release_if_owed(server_context& ctx, const storage_writer_actor& writer,
                     const std::string& merchant_id, const std::string& key) {
  std::chrono::steady_clock::time_point since;
  {
    std::lock_guard lock{ctx.unreleased_keys.mtx};
    auto i = ctx.unreleased_keys.keys.find({merchant_id, key});
    if (i == ctx.unreleased_keys.keys.end())
      return;
    since = i->second;
    ctx.unreleased_keys.keys.erase(i);
  }
  if (std::chrono::steady_clock::now() - since > release_window)
    return; // its lock expires on its own; another request may hold it now
  auto r = ask<bool>(ctx.sys, writer, ctx.request_timeout(), release_atom_v, merchant_id, key);
  if (!r)
    remember_unreleased(ctx, merchant_id, key);
}

/// Keeps the response of a claimed key. A refusal that changed nothing
/// (429, 503 before any commit) frees the key so that a retry runs the
/// request again (now, or with the next request of the key if the database
/// is down). An unknown outcome (a timeout, a COMMIT in doubt, a broken
/// invariant) keeps the key claimed: a retry answers 409 in progress, never
/// runs it twice concurrently, and may take the key over once its lock has
/// expired.
void finish(server_context& ctx, const storage_writer_actor& writer,
            const merchant_record& m, const std::string& key,
            const response& res) {
  bool ok = false;
  if (nothing_applied(res)) {
    auto r = ask<bool>(ctx.sys, writer, ctx.request_timeout(), release_atom_v, m.id, key);
    ok = static_cast<bool>(r);
    if (!ok)
      remember_unreleased(ctx, m.id, key);
  } else if (res.status < 500) {
    auto r = ask<bool>(ctx.sys, writer, ctx.request_timeout(),
                       idempotency_entry{m.id, key, res.status, res.body});
    ok = static_cast<bool>(r);
  } else {
    return; // outcome unknown: the claim stays until its lock expires
  }
  if (!ok) // the key stays claimed; it is taken over after its lock expires
    logging::warn("idempotency.finish_failed", {{"merchant_id", m.id}, {"key", key}});
}

} // namespace

void with_idempotency(server_context& ctx, const request& req,
                      response& res, const merchant_record& m,
                      const std::function<void(response&)>& handler) {
  if (!req.has_header("Idempotency-Key")) {
    handler(res);
    return;
  }
  auto key = req.get_header_value("Idempotency-Key");
  // Printable ASCII: what clients send (UUIDs), and what the database's
  // UTF-8 text takes whatever the bytes.
  bool printable = std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
  if (key.empty() || key.size() > key_length_max || !printable) {
    send(res, invalid_request("idempotency_key_invalid",
                              "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                              "Idempotency-Key"));
    return;
  }
  auto fingerprint = sha256_hex(req.method + " " + req.path + "\n" + req.body);
  auto handles = ctx.handles();
  const auto& writer = handles->writer_for(m.id + "/" + key);
  release_if_owed(ctx, writer, m.id, key);
  auto claim = ask<idempotency_result>(ctx.sys, writer, ctx.request_timeout(),
                                       idempotency_claim{m.id, key, fingerprint});
  if (!claim) {
    send(res, from_engine_error(claim.error()));
    return;
  }
  switch (claim->state) {
    case idempotency_state::replay:
      replay(res, *claim);
      return;
    case idempotency_state::in_flight:
      send(res, {409, "conflict_error", "idempotency_in_progress",
                 "A request with this Idempotency-Key is still in progress.", {}, {}});
      return;
    case idempotency_state::mismatch:
      send(res, {422, "idempotency_error", "idempotency_key_reused",
                 "This Idempotency-Key was used with a different request.", {}, {}});
      return;
    case idempotency_state::claimed:
      break;
  }
  handler(res);
  // The writers of now: the supervisor may have restarted them meanwhile.
  auto now_handles = ctx.handles();
  finish(ctx, now_handles->writer_for(m.id + "/" + key), m, key, res);
}

} // namespace payengine::http
