#pragma once
// Connections, migrations and the error boundary of libpqxx: nothing above
// storage/ sees a pqxx exception.

#include <pqxx/pqxx>

#include <memory>
#include <string>
#include <vector>

namespace payengine::storage {

/// Opens a connection and prepares every statement of statements.cpp.
/// Throws pqxx::broken_connection when the database is unreachable.
std::unique_ptr<pqxx::connection> connect(const std::string& url);

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

} // namespace payengine::storage
