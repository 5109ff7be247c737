#pragma once
// PostgreSQL array literals ('{"a","b\"c"}') for passing a whole batch as
// one parameter per column to a prepared statement (unnest). libpqxx 6 has
// no array parameters of its own.

#include <cstdint>
#include <string>
#include <string_view>

namespace payengine::storage {

class pg_array {
public:
  pg_array& add(std::string_view text);
  pg_array& add(int64_t number);
  /// The literal, e.g. {"a","b"}; empty arrays are "{}".
  std::string str() const { return body_ + "}"; }

private:
  void separator();
  std::string body_ = "{";
};

} // namespace payengine::storage
