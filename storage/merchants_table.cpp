#include "storage/tables.hpp"

#include <stdexcept>

namespace payengine::storage {

namespace {

/// The bounds of migration 008's CHECKs.
constexpr int64_t merchant_rate_max = 1'000'000;

/// Both sides of the boundary: out of bounds is a bug, never stored or used.
void check_rate_fields(uint32_t rate_per_s, uint32_t burst, const std::string& id) {
  if (rate_per_s > merchant_rate_max || burst > merchant_rate_max)
    throw std::logic_error("merchant rate or burst out of range: " + id);
}

/// A row of PE_MERCHANT_COLUMNS (statements.cpp).
merchant_record merchant_from_row(const pqxx::row& row) {
  merchant_record m;
  m.id = row[0].as<std::string>();
  m.name = row[1].as<std::string>();
  m.notify_url = row[2].as<std::string>();
  m.webhook_secret = row[3].as<std::string>();
  m.created_at = row[4].as<int64_t>();
  m.rate_per_s = row[5].as<uint32_t>();
  m.burst = row[6].as<uint32_t>();
  check_rate_fields(m.rate_per_s, m.burst, m.id);
  return m;
}

} // namespace

bool insert_merchant(pqxx::work& tx, const merchant_record& m,
                     const std::string& api_key_hash) {
  check_rate_fields(m.rate_per_s, m.burst, m.id);
  auto r = tx.exec_prepared("merchants_insert", m.id, m.name, m.notify_url,
                            api_key_hash, m.webhook_secret, m.created_at,
                            m.rate_per_s, m.burst);
  return r.affected_rows() == 1;
}

std::optional<merchant_record> merchant_by_key_hash(pqxx::work& tx,
                                                    const std::string& hash) {
  auto r = tx.exec_prepared("merchants_by_key_hash", hash);
  if (r.empty())
    return std::nullopt;
  return merchant_from_row(r[0]);
}

std::optional<merchant_record> patch_merchant(pqxx::work& tx, const merchant_patch& p) {
  check_rate_fields(p.rate_per_s, p.burst, p.id);
  auto r = tx.exec_prepared("merchants_patch", p.id, p.has_name, p.name, p.has_notify_url,
                            p.notify_url, p.has_rate_per_s, p.rate_per_s, p.has_burst, p.burst);
  if (r.empty())
    return std::nullopt;
  return merchant_from_row(r[0]);
}

} // namespace payengine::storage
