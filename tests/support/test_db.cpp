#include "tests/support/test_db.hpp"

#include "messages/ids.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace payengine::testing {

std::string admin_database_url() {
  const char* url = std::getenv("PAYENGINE_TEST_DATABASE_URL");
  return url ? url : "";
}

namespace {

/// Replaces (or appends) dbname= in a key/value connection string.
std::string with_dbname(const std::string& url, const std::string& name) {
  auto pos = url.find("dbname=");
  if (pos == std::string::npos)
    return url + " dbname=" + name;
  auto end = url.find(' ', pos);
  return url.substr(0, pos) + "dbname=" + name
         + (end == std::string::npos ? "" : url.substr(end));
}

} // namespace

test_database::test_database(const std::string& hint) {
  auto suffix = new_id("t", 10).substr(2);
  std::transform(suffix.begin(), suffix.end(), suffix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string clean;
  for (char c : hint)
    clean += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  name_ = "pe_" + clean.substr(0, 30) + "_" + suffix;
  pqxx::connection admin{admin_database_url()};
  pqxx::nontransaction tx{admin};
  tx.exec("CREATE DATABASE " + name_);
  url_ = with_dbname(admin_database_url(), name_);
}

test_database::~test_database() {
  try {
    pqxx::connection admin{admin_database_url()};
    pqxx::nontransaction tx{admin};
    tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // A leftover database on a throwaway server is harmless.
  }
}

std::string test_database::scalar(const std::string& sql) const {
  pqxx::connection conn{url_};
  pqxx::nontransaction tx{conn};
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null())
    return "";
  return r[0][0].as<std::string>();
}

} // namespace payengine::testing
