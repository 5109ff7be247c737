#include "storage/one_trip.hpp"

#include <libpq-fe.h>

#include <array>
#include <memory>

namespace payengine::storage {

namespace {

using result_ptr = std::unique_ptr<PGresult, decltype(&PQclear)>;

std::string text_or_empty(const char* s) {
  return s ? std::string{s} : std::string{};
}

/// What the server said to one of the three commands.
struct step {
  bool seen = false;
  ExecStatusType status = PGRES_FATAL_ERROR;
  std::string sqlstate; // "" for libpq's own errors (a lost connection)
  std::string message;
  std::string tag; // "BEGIN", "COMMIT", "ROLLBACK", "INSERT 0 3"...
  std::vector<std::vector<std::string>> rows;
};

void record(step& s, const PGresult* r) {
  auto status = PQresultStatus(r);
  if (s.seen && status != PGRES_FATAL_ERROR)
    return; // the first answer stands, unless an error follows it
  s.seen = true;
  s.status = status;
  s.tag = text_or_empty(PQcmdStatus(const_cast<PGresult*>(r)));
  if (status == PGRES_FATAL_ERROR) {
    s.sqlstate = text_or_empty(PQresultErrorField(r, PG_DIAG_SQLSTATE));
    s.message = text_or_empty(PQresultErrorMessage(r));
    s.rows.clear();
    return;
  }
  if (status != PGRES_TUPLES_OK)
    return;
  const int n = PQntuples(r);
  const int cols = PQnfields(r);
  s.rows.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> row;
    row.reserve(static_cast<size_t>(cols));
    for (int c = 0; c < cols; ++c)
      row.emplace_back(PQgetvalue(r, i, c), static_cast<size_t>(PQgetlength(r, i, c)));
    s.rows.push_back(std::move(row));
  }
}

} // namespace

one_trip_connection::one_trip_connection(const std::string& url, const session_limits& limits) {
  auto conninfo = limits.connect_timeout_s > 0 ? with_connect_timeout(url, limits.connect_timeout_s) : url;
  conn_ = PQconnectdb(conninfo.c_str());
  if (conn_) // the server's notices (a ROLLBACK with nothing to roll back...) are not errors
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    auto why = conn_ ? text_or_empty(PQerrorMessage(conn_)) : std::string{"out of memory"};
    PQfinish(conn_);
    conn_ = nullptr;
    throw pqxx::broken_connection{why};
  }
  if (limits.statement_timeout_ms > 0) {
    auto set = "SET statement_timeout = " + std::to_string(limits.statement_timeout_ms);
    result_ptr r{PQexec(conn_, set.c_str()), &PQclear};
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      auto why = text_or_empty(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      throw pqxx::broken_connection{why};
    }
  }
}

one_trip_connection::~one_trip_connection() {
  PQfinish(conn_);
}

bool one_trip_connection::usable() const {
  return conn_ && PQstatus(conn_) == CONNECTION_OK;
}

int one_trip_connection::backend_pid() const {
  return conn_ ? PQbackendPID(conn_) : 0;
}

one_trip_result one_trip_connection::run(const std::string& name, const std::string& sql,
                                         const std::vector<std::string>& params) {
  using outcome = one_trip_result::outcome;
  one_trip_result out;
  auto drop = [&] {
    PQfinish(conn_);
    conn_ = nullptr;
  };
  if (!usable()) {
    out.result = outcome::failed;
    out.message = "no connection";
    return out;
  }
  if (!prepared_.count(name)) { // a round trip of its own, once per connection
    result_ptr r{PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr), &PQclear};
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      out.result = outcome::failed;
      out.sqlstate = text_or_empty(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE));
      out.message = text_or_empty(PQerrorMessage(conn_));
      if (!usable())
        drop();
      return out;
    }
    prepared_.insert(name);
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params)
    values.push_back(p.c_str());
  // BEGIN and the statement together; COMMIT only once the statement's
  // answer is in, so that a statement that did not finish (refused, or its
  // connection lost) is known to have committed nothing.
  if (PQenterPipelineMode(conn_) != 1
      || PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) != 1
      || PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(),
                             nullptr, nullptr, 0) != 1
      || PQpipelineSync(conn_) != 1) {
    out.result = outcome::failed; // no COMMIT went out
    out.message = text_or_empty(PQerrorMessage(conn_));
    drop(); // and with the connection, any open transaction
    return out;
  }
  // Each command's results end with a null; the sync point ends them all.
  std::array<step, 2> steps; // BEGIN, the statement
  size_t at = 0;
  bool synced = false;
  for (int guard = 0; guard < 64 && !synced; ++guard) {
    result_ptr r{PQgetResult(conn_), &PQclear};
    if (!r) {
      if (PQstatus(conn_) != CONNECTION_OK)
        break;
      if (at < steps.size() && steps[at].seen)
        ++at;
      continue;
    }
    if (PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC)
      synced = true;
    else if (at < steps.size())
      record(steps[at], r.get());
  }
  if (!synced || PQexitPipelineMode(conn_) != 1) {
    out.result = outcome::failed;
    out.message = text_or_empty(PQerrorMessage(conn_));
    for (const auto& s : steps)
      if (s.seen && s.status == PGRES_FATAL_ERROR && out.sqlstate.empty()) {
        out.sqlstate = s.sqlstate;
        if (!s.message.empty())
          out.message = s.message;
      }
    drop();
    return out;
  }
  if (steps[0].status != PGRES_COMMAND_OK || steps[1].status != PGRES_TUPLES_OK) {
    out.result = outcome::failed;
    const auto& s = steps[0].status == PGRES_FATAL_ERROR ? steps[0] : steps[1];
    out.sqlstate = s.sqlstate;
    out.message = s.message.empty() ? std::string{"the statement did not run"} : s.message;
    result_ptr r{PQexec(conn_, "ROLLBACK"), &PQclear};
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      drop();
    return out;
  }
  result_ptr commit{PQexec(conn_, "COMMIT"), &PQclear};
  const auto status = PQresultStatus(commit.get());
  const auto tag = text_or_empty(PQcmdStatus(commit.get()));
  if (status == PGRES_COMMAND_OK && tag == "COMMIT") {
    out.result = outcome::committed;
    out.rows = std::move(steps[1].rows);
    return out;
  }
  out.message = text_or_empty(PQerrorMessage(conn_));
  out.sqlstate = text_or_empty(PQresultErrorField(commit.get(), PG_DIAG_SQLSTATE));
  // Rolled back only when the server said so: a ROLLBACK tag, or its error
  // on a live connection that is out of the transaction.
  const bool refused = status == PGRES_FATAL_ERROR && !out.sqlstate.empty() && usable()
                       && PQtransactionStatus(conn_) == PQTRANS_IDLE;
  if (status == PGRES_COMMAND_OK || refused) {
    out.result = outcome::failed;
    return out;
  }
  out.result = outcome::in_doubt; // the COMMIT went out; its answer did not come
  drop();
  return out;
}

} // namespace payengine::storage
