#include "storage/tables.hpp"

namespace payengine::storage {

bool insert_merchant(pqxx::work& tx, const merchant_record& m,
                     const std::string& api_key_hash) {
  auto r = tx.exec_prepared("merchants_insert", m.id, m.name, m.notify_url,
                            api_key_hash, m.webhook_secret, m.created_at);
  return r.affected_rows() == 1;
}

std::optional<merchant_record> merchant_by_key_hash(pqxx::work& tx,
                                                    const std::string& hash) {
  auto r = tx.exec_prepared("merchants_by_key_hash", hash);
  if (r.empty())
    return std::nullopt;
  merchant_record m;
  m.id = r[0][0].as<std::string>();
  m.name = r[0][1].as<std::string>();
  m.notify_url = r[0][2].as<std::string>();
  m.webhook_secret = r[0][3].as<std::string>();
  m.created_at = r[0][4].as<int64_t>();
  return m;
}

} // namespace payengine::storage
