#pragma once
// A fresh PostgreSQL database per test, on the throwaway server that
// scripts/test.sh starts (PAYENGINE_TEST_DATABASE_URL points at its
// maintenance database). Tests that need one carry the CTest label "db".

#include <string>

namespace payengine::testing {

/// The admin connection string, or empty if the tests run without a database.
std::string admin_database_url();

class test_database {
public:
  /// Creates an empty database with a unique name.
  explicit test_database(const std::string& hint);
  ~test_database();
  test_database(const test_database&) = delete;
  test_database& operator=(const test_database&) = delete;

  /// A libpq connection string for it.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  /// Runs SQL and returns the first column of the first row ("" if none).
  std::string scalar(const std::string& sql) const;

private:
  std::string name_;
  std::string url_;
};

} // namespace payengine::testing

/// Skips the current test when no database is configured.
#define PE_REQUIRE_DATABASE()                                                  \
  do {                                                                         \
    if (::payengine::testing::admin_database_url().empty())                    \
      GTEST_SKIP() << "PAYENGINE_TEST_DATABASE_URL is not set (run scripts/test.sh)"; \
  } while (false)
