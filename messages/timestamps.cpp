#include "messages/timestamps.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace payengine {

timestamp_us now_us() {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
  return ms.count() * 1000;
}

std::string to_rfc3339(timestamp_us t) {
  auto secs = static_cast<std::time_t>(t / 1'000'000);
  auto millis = static_cast<int>((t % 1'000'000) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, millis);
  return buf;
}

} // namespace payengine
