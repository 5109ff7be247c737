// The configuration file (config/config.hpp): load_config reads a TOML
// file named by --config, as `payengine --config FILE` does. The input is
// written to one memfd, created once and rewritten each run.
#include "config/config.hpp"
#include "fuzz/fuzz_check.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace payengine;

extern char** environ;

namespace {

int config_fd() {
  static const int fd = [] {
    int f = ::memfd_create("payengine-fuzz-config", 0);
    FUZZ_CHECK(f >= 0);
    return f;
  }();
  return fd;
}

void write_input(const uint8_t* data, size_t size) {
  int fd = config_fd();
  FUZZ_CHECK(::ftruncate(fd, 0) == 0);
  size_t done = 0;
  while (done < size) {
    auto n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    FUZZ_CHECK(n > 0);
    done += static_cast<size_t>(n);
  }
}

void check_config(const engine_config& c) {
  FUZZ_CHECK(validate(c).empty());
  FUZZ_CHECK(!c.database_url.empty() && c.admin_token.size() >= 16);
  FUZZ_CHECK(!c.listen_host().empty() && c.listen_port() >= 1);
  FUZZ_CHECK(std::isfinite(c.time_scale) && c.time_scale >= 1.0);
  FUZZ_CHECK(c.writers() >= 1 && c.writers() <= 64);
  FUZZ_CHECK(c.scaled_ms(0) >= 1 && c.scaled_ms(UINT32_MAX) >= 1);
  FUZZ_CHECK(c.db_connect_timeout_s() >= 2);
  FUZZ_CHECK(c.gateway_call_worst_ms() <= c.channel_timeout_ms);
  FUZZ_CHECK(!c.public_url.empty() && !c.internal_url.empty() && !c.node_id.empty());
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Only the file is fuzzed: PAYENGINE_* variables of the caller are dropped.
  std::vector<std::string> names;
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("PAYENGINE_", 0) == 0)
      names.emplace_back(*e, std::string_view(*e).find('='));
  for (const auto& n : names)
    ::unsetenv(n.c_str());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  write_input(data, size);
  static std::string path = "/proc/self/fd/" + std::to_string(config_fd());
  std::string arg0 = "payengine", flag = "--config";
  char* argv[] = {arg0.data(), flag.data(), path.data(), nullptr};
  auto r = load_config(3, argv);
  if (auto* c = std::get_if<engine_config>(&r))
    check_config(*c);
  else
    FUZZ_CHECK(!std::get<config_error>(r).message.empty());
  return 0;
}
