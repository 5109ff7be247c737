#pragma once
// Wall-clock timestamps: microseconds since the epoch, UTC, shown as
// RFC 3339 with milliseconds ("2026-11-22T16:15:00.123Z").

#include "messages/order.hpp"

#include <string>

namespace payengine {

/// The current time, truncated to whole milliseconds so that what is stored,
/// kept in memory and shown are the same value.
timestamp_us now_us();

std::string to_rfc3339(timestamp_us t);

} // namespace payengine
