#include "storage/database.hpp"

#include "config/logging.hpp"

namespace payengine::storage {

namespace {

constexpr long migration_lock_key = 0x70617965; // "paye"

} // namespace

std::string with_connect_timeout(const std::string& url, uint32_t seconds) {
  const auto setting = "connect_timeout=" + std::to_string(seconds);
  const bool uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!uri)
    return url.empty() ? setting : url + " " + setting;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + setting;
}

std::unique_ptr<pqxx::connection> connect(const std::string& url,
                                          const session_limits& limits) {
  auto conn = std::make_unique<pqxx::connection>(
    limits.connect_timeout_s > 0 ? with_connect_timeout(url, limits.connect_timeout_s) : url);
  if (limits.statement_timeout_ms > 0) {
    // SET at session level: every statement of this connection, kept
    // across its transactions.
    pqxx::nontransaction tx{*conn};
    tx.exec("SET statement_timeout = " + std::to_string(limits.statement_timeout_ms));
  }
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
