#include "messages/errors.hpp"

#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace payengine {

std::string to_string(engine_error x) {
  switch (x) {
    case engine_error::storage_unavailable: return "storage_unavailable";
    case engine_error::commit_in_doubt: return "commit_in_doubt";
    case engine_error::version_conflict: return "version_conflict";
    case engine_error::overloaded: return "overloaded";
    case engine_error::invariant_broken: return "invariant_broken";
    case engine_error::channel_unavailable: return "channel_unavailable";
    case engine_error::channel_rate_limited: return "channel_rate_limited";
    case engine_error::shard_moved: return "shard_moved";
  }
  return "unknown";
}

caf::error make_error(engine_error x) {
  return caf::error{static_cast<uint8_t>(x), engine_error_category};
}

caf::error make_error(engine_error x, std::string context) {
  return caf::error{static_cast<uint8_t>(x), engine_error_category,
                    caf::make_message(std::move(context))};
}

} // namespace payengine
