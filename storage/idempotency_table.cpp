#include "storage/tables.hpp"

namespace payengine::storage {

idempotency_result claim_idempotency_key(pqxx::work& tx, const idempotency_claim& c) {
  auto claimed = tx.exec_prepared("idempotency_claim", c.merchant_id, c.key,
                                  c.fingerprint);
  if (!claimed.empty())
    return {idempotency_state::claimed, 0, {}};
  auto r = tx.exec_prepared("idempotency_get", c.merchant_id, c.key);
  if (r.empty()) // released between the two statements: let the client retry
    return {idempotency_state::in_flight, 0, {}};
  if (r[0][0].as<std::string>() != c.fingerprint)
    return {idempotency_state::mismatch, 0, {}};
  auto status = r[0][1].as<int>();
  if (status == 0)
    return {idempotency_state::in_flight, 0, {}};
  return {idempotency_state::replay, status, r[0][2].as<std::string>()};
}

bool complete_idempotency_key(pqxx::work& tx, const idempotency_entry& e) {
  auto r = tx.exec_prepared("idempotency_complete", e.merchant_id, e.key,
                            e.status, e.body);
  return r.affected_rows() == 1;
}

bool release_idempotency_key(pqxx::work& tx, const std::string& merchant_id,
                             const std::string& key) {
  auto r = tx.exec_prepared("idempotency_release", merchant_id, key);
  return r.affected_rows() == 1;
}

} // namespace payengine::storage
