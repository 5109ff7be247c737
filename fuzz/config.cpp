// The configuration file (config/config.hpp): config_from_file_text is the
// step of `payengine --config FILE` that reads the file (CLI11's TOML
// reader, each key into its field, then validate), without the command
// line around it, which would cost a CLI11 app of a hundred options per
// input (tests/config checks that both give the same configuration).
#include "config/config.hpp"
#include "fuzz/fuzz_check.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace payengine;

namespace {

void check_config(const engine_config& c) {
  FUZZ_CHECK(validate(c).empty());
  FUZZ_CHECK(!c.database_url.empty() && c.admin_token.size() >= 16);
  FUZZ_CHECK(!c.listen_host().empty() && c.listen_port() >= 1);
  FUZZ_CHECK(std::isfinite(c.time_scale) && c.time_scale >= 1.0);
  FUZZ_CHECK(c.writers() >= 1 && c.writers() <= 64);
  FUZZ_CHECK(c.scaled_ms(0) >= 1 && c.scaled_ms(UINT32_MAX) >= 1);
  FUZZ_CHECK(c.db_connect_timeout_s() >= 2);
  FUZZ_CHECK(c.gateway_call_worst_ms() <= c.channel_timeout_ms);
  FUZZ_CHECK(c.storage_worst_ms() <= c.storage_timeout_ms);
  FUZZ_CHECK(!c.public_url.empty() && !c.internal_url.empty() && !c.node_id.empty());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = config_from_file_text(std::string_view(reinterpret_cast<const char*>(data), size));
  if (auto* c = std::get_if<engine_config>(&r))
    check_config(*c);
  else
    FUZZ_CHECK(!std::get<config_error>(r).message.empty() && std::get<config_error>(r).exit_code == 2);
  return 0;
}
