#include "storage/database.hpp"

#include "config/logging.hpp"

namespace payengine::storage {

namespace {

constexpr long migration_lock_key = 0x70617965; // "paye"

} // namespace

std::unique_ptr<pqxx::connection> connect(const std::string& url) {
  auto conn = std::make_unique<pqxx::connection>(url);
  prepare_statements(*conn);
  return conn;
}

std::unique_ptr<pqxx::connection> connect_for_migrations(const std::string& url) {
  return std::make_unique<pqxx::connection>(url);
}

int migrate(pqxx::connection& conn) {
  {
    pqxx::work tx{conn};
    tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())");
    tx.commit();
  }
  int applied = 0;
  for (const auto& m : all_migrations()) {
    pqxx::work tx{conn};
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(migration_lock_key) + ")");
    auto done = tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1",
                               m.version);
    if (!done.empty())
      continue;
    tx.exec(m.sql);
    tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                   m.version, m.name);
    tx.commit();
    logging::info("storage.migration_applied",
                  {{"version", m.version}, {"name", m.name}});
    ++applied;
  }
  return applied;
}

} // namespace payengine::storage
