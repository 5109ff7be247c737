#pragma once
// What a failed storage transaction means for the request that caused it,
// decided from what the server said (SQLSTATE) and nothing else.

#include <string_view>

namespace payengine::storage {

enum class failure_kind : unsigned char {
  /// Rolled back for a reason of the moment (a deadlock, a serialization
  /// failure, a statement or lock timeout, a server short of resources or
  /// shutting down): nothing was applied, and running it again may work.
  transient,
  /// Rolled back because the request itself is impossible: a constraint
  /// the database keeps (a check, a unique key, a foreign key), bad data,
  /// or a statement the server does not understand. Nothing was applied,
  /// but running it again meets the same wall: a broken invariant, a bug.
  broken_invariant,
};

/// The kind of a failure with SQLSTATE `state` (5 characters).
failure_kind classify_sqlstate(std::string_view state);

} // namespace payengine::storage
