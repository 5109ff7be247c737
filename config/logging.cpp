#include "config/logging.hpp"

#include "messages/timestamps.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace payengine::logging {

namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};

std::shared_ptr<spdlog::logger> sink() {
  // spdlog serializes writers; we format the JSON ourselves ("%v").
  static auto logger = [] {
    auto l = spdlog::stderr_logger_mt("payengine");
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    return l;
  }();
  return logger;
}

const char* name(level l) {
  switch (l) {
    case level::trace: return "trace";
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

} // namespace

void init(std::string_view min) {
  for (auto l : {level::trace, level::debug, level::info, level::warn, level::error})
    if (min == name(l))
      min_level = static_cast<int>(l);
  sink();
}

bool enabled(level l) {
  return static_cast<int>(l) >= min_level.load(std::memory_order_relaxed);
}

void write(level l, std::string_view event, nlohmann::json fields) {
  if (!enabled(l))
    return;
  nlohmann::json line = {{"ts", to_rfc3339(now_us())}, {"level", name(l)},
                         {"event", event}};
  if (fields.is_object())
    line.update(fields);
  sink()->info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

} // namespace payengine::logging
