#pragma once
// Errors that cross actor boundaries. They are values, registered with CAF
// as the "payengine" error category; HTTP maps each to a status code.

#include "messages/type_ids.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <cstdint>
#include <string>

namespace payengine {

enum class engine_error : uint8_t {
  storage_unavailable = 1, // the database refused or is unreachable; nothing applied
  commit_in_doubt = 2,     // the connection broke during COMMIT; state unknown
  version_conflict = 3,    // another writer moved the row (rule 2)
  overloaded = 4,          // a bound (live actors, long polls, ...) is reached
  invariant_broken = 5,    // a bug: the actor stops and reloads from storage
  channel_unavailable = 6, // the channel's breaker is open or it is not configured
  channel_rate_limited = 7,// the channel's token bucket is empty
  shard_moved = 8,         // this node does not own the order's shard (now); nothing applied
};

std::string to_string(engine_error x);

caf::error make_error(engine_error x);
caf::error make_error(engine_error x, std::string context);

/// The CAF error category used for engine_error.
constexpr caf::atom_value engine_error_category = caf::atom("payengine");

} // namespace payengine
