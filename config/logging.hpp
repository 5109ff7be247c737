#pragma once
// Structured logs: one JSON object per line on stderr, e.g.
// {"ts":"...","level":"info","event":"order.transition","order_id":"ord_..."}

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace payengine::logging {

enum class level { trace, debug, info, warn, error };

void init(std::string_view min_level);
bool enabled(level l);
void write(level l, std::string_view event, nlohmann::json fields = {});

inline void info(std::string_view event, nlohmann::json fields = {}) {
  write(level::info, event, std::move(fields));
}
inline void warn(std::string_view event, nlohmann::json fields = {}) {
  write(level::warn, event, std::move(fields));
}
inline void error(std::string_view event, nlohmann::json fields = {}) {
  write(level::error, event, std::move(fields));
}
inline void debug(std::string_view event, nlohmann::json fields = {}) {
  if (enabled(level::debug))
    write(level::debug, event, std::move(fields));
}

} // namespace payengine::logging
