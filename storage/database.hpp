#pragma once
// Connections, migrations and the error boundary of libpqxx: nothing above
// storage/ sees a pqxx exception.

#include <pqxx/pqxx>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace payengine::storage {

/// Bounds on one connection's session; 0 leaves libpq's (or the server's)
/// own default.
struct session_limits {
  uint32_t connect_timeout_s = 0;    // libpq connect_timeout (it takes at least 2)
  uint32_t statement_timeout_ms = 0; // the session's statement_timeout
};

/// `url` (a key=value conninfo or a postgres[ql]:// URI) with libpq's
/// connect_timeout set to `seconds` (a later key wins in libpq).
std::string with_connect_timeout(const std::string& url, uint32_t seconds);

/// Opens a connection within `limits` and prepares every statement of
/// statements.cpp. Throws pqxx::broken_connection when the database is
/// unreachable (or not reached within the connect timeout).
std::unique_ptr<pqxx::connection> connect(const std::string& url,
                                          const session_limits& limits = {});

/// A plain connection (no prepared statements) for applying migrations.
std::unique_ptr<pqxx::connection> connect_for_migrations(const std::string& url);

/// One embedded migration (storage/migrations/NNN_name.sql).
struct migration {
  int version;
  std::string name;
  std::string sql;
};

/// Compiled in from storage/migrations/*.sql, sorted by version.
const std::vector<migration>& all_migrations();

/// Applies pending migrations, each in its own transaction, under an
/// advisory lock so that concurrent starts are safe. Returns how many ran.
int migrate(pqxx::connection& conn);

/// Registers every named statement on a fresh connection.
void prepare_statements(pqxx::connection& conn);

/// A batch of new orders, each with its first event, in one statement
/// (one array parameter per column). `fenced`: with the lease check of
/// several nodes. The first is also prepared as "orders_insert_batch".
const std::string& new_orders_sql(bool fenced);

} // namespace payengine::storage
