#pragma once
// A transaction of one statement in two round trips instead of four:
// BEGIN and the statement are written together through libpq's pipeline
// mode (libpq 14 and later), then COMMIT once the statement has answered.
// libpqxx 6 sends BEGIN, each statement and COMMIT as round trips of their
// own and offers no pipeline for statements with parameters, so this runs
// on a libpq connection of its own. A storage writer's batch of new orders
// needs only the one statement.
//
// The outcome is as exact as a pqxx::work's: COMMIT goes out only after the
// statement succeeded, so a statement that failed or lost its connection
// committed nothing; a COMMIT whose answer was lost is in doubt.

#include "storage/database.hpp"

#include <set>
#include <string>
#include <vector>

struct pg_conn;

namespace payengine::storage {

struct one_trip_result {
  enum class outcome { committed, failed, in_doubt };
  outcome result = outcome::in_doubt;
  std::vector<std::vector<std::string>> rows; // the statement's rows, as text
  std::string sqlstate; // with `failed`: the server's code ("" when not the server's)
  std::string message;
};

class one_trip_connection {
public:
  /// Connects within `limits` (connect and statement timeouts, as
  /// storage::connect). Throws pqxx::broken_connection when it cannot.
  one_trip_connection(const std::string& url, const session_limits& limits);
  ~one_trip_connection();
  one_trip_connection(const one_trip_connection&) = delete;
  one_trip_connection& operator=(const one_trip_connection&) = delete;

  /// False once the connection broke: make a new one.
  bool usable() const;
  /// The server process of this connection (0 when none).
  int backend_pid() const;

  /// `sql` prepared as `name` on this connection (once), then run with
  /// `params` (text) between BEGIN and COMMIT.
  one_trip_result run(const std::string& name, const std::string& sql,
                      const std::vector<std::string>& params);

private:
  pg_conn* conn_ = nullptr;
  std::set<std::string> prepared_;
};

} // namespace payengine::storage
