// Configuration: file < environment < flags, and one clear line when bad.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <vector>

extern char** environ;

namespace payengine {
namespace {

struct args {
  std::vector<std::string> items;
  std::vector<char*> argv;
  explicit args(std::vector<std::string> xs) : items(std::move(xs)) {
    items.insert(items.begin(), "payengine");
    for (auto& s : items)
      argv.push_back(s.data());
  }
  std::variant<engine_config, config_error> load() {
    return load_config(static_cast<int>(argv.size()), argv.data());
  }
};

class config_test : public ::testing::Test {
protected:
  void SetUp() override {
    for (auto name : {"PAYENGINE_DATABASE_URL", "PAYENGINE_ADMIN_TOKEN", "PAYENGINE_LISTEN",
                      "PAYENGINE_TIME_SCALE", "PAYENGINE_PUBLIC_URL", "PAYENGINE_GATEWAY_ATTEMPTS_MAX",
                      "PAYENGINE_GATEWAY_READ_TIMEOUT_MS", "PAYENGINE_CHANNEL_TIMEOUT_MS",
                      "PAYENGINE_DB_STATEMENT_TIMEOUT_MS", "PAYENGINE_STORAGE_QUEUE_MAX",
                      "PAYENGINE_OUTBOUND_ALLOW", "PAYENGINE_MERCHANT_RATE_PER_S",
                      "PAYENGINE_MERCHANT_BURST", "PAYENGINE_MERCHANT_CACHE_TTL_MS"})
      ::unsetenv(name);
  }
  std::string write_file(const std::string& text) {
    // One file per test: ctest runs the tests of this file in parallel.
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = ::testing::TempDir() + "payengine-" + info->name() + ".toml";
    std::ofstream{path_} << text;
    return path_;
  }
  std::string path_;
};

TEST_F(config_test, required_settings_are_named_in_one_line) {
  auto r = args{{}}.load();
  ASSERT_TRUE(std::holds_alternative<config_error>(r));
  auto& e = std::get<config_error>(r);
  EXPECT_NE(e.exit_code, 0);
  EXPECT_NE(e.message.find("PAYENGINE_DATABASE_URL"), std::string::npos);
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
}

TEST_F(config_test, environment_overrides_file_and_flags_override_environment) {
  auto file = write_file("database_url = \"dbname=from_file\"\n"
                         "admin_token = \"file-token-0123456789\"\n"
                         "listen = \"127.0.0.1:1111\"\n"
                         "registry_shards = 8\n");
  ::setenv("PAYENGINE_LISTEN", "127.0.0.1:2222", 1);
  auto r = args{{"--config", file}}.load();
  ASSERT_TRUE(std::holds_alternative<engine_config>(r)) << std::get<config_error>(r).message;
  auto& c = std::get<engine_config>(r);
  EXPECT_EQ(c.database_url, "dbname=from_file");
  EXPECT_EQ(c.listen, "127.0.0.1:2222");
  EXPECT_EQ(c.registry_shards, 8u);
  EXPECT_EQ(c.public_url, "http://127.0.0.1:2222");
  auto flagged = args{{"--config", file, "--listen", "127.0.0.1:3333"}}.load();
  EXPECT_EQ(std::get<engine_config>(flagged).listen, "127.0.0.1:3333");
}

TEST_F(config_test, bad_values_are_refused) {
  ::setenv("PAYENGINE_DATABASE_URL", "dbname=x", 1);
  ::setenv("PAYENGINE_ADMIN_TOKEN", "token-0123456789abcdef", 1);
  for (auto bad : std::vector<std::vector<std::string>>{
         {"--listen", "nohost"}, {"--listen", "127.0.0.1:99999"}, {"--listen", "127.0.0.1:0"},
         {"--listen", "127.0.0.1:00"}, {"--time-scale", "0.5"},
         {"--time-scale", "nan"}, {"--registry-shards", "0"}, {"--storage-batch-max", "-1"},
         {"--log-level", "loud"}, {"--unknown-flag", "1"}, {"--http-threads", "abc"}}) {
    auto r = args{bad}.load();
    ASSERT_TRUE(std::holds_alternative<config_error>(r)) << bad[0] << " " << bad[1];
    EXPECT_EQ(std::get<config_error>(r).exit_code, 2);
  }
  ::setenv("PAYENGINE_ADMIN_TOKEN", "short", 1);
  EXPECT_TRUE(std::holds_alternative<config_error>(args{{}}.load()));
}

TEST_F(config_test, an_invalid_outbound_allow_list_stops_the_start_with_one_line) {
  ::setenv("PAYENGINE_DATABASE_URL", "dbname=x", 1);
  ::setenv("PAYENGINE_ADMIN_TOKEN", "token-0123456789abcdef", 1);
  for (auto bad : {"127.0.0.0/33", "10.0.0.1/8", "localhost", "127.0.0.0/8,,fe80::/129", "1.2.3/24"}) {
    ::setenv("PAYENGINE_OUTBOUND_ALLOW", bad, 1);
    auto r = args{{}}.load();
    ASSERT_TRUE(std::holds_alternative<config_error>(r)) << bad;
    const auto& e = std::get<config_error>(r);
    EXPECT_EQ(e.exit_code, 2);
    EXPECT_NE(e.message.find("PAYENGINE_OUTBOUND_ALLOW"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find('\n'), std::string::npos);
  }
  ::setenv("PAYENGINE_OUTBOUND_ALLOW", " 127.0.0.0/8, ::1/128 ,fd00::/8", 1);
  auto good = args{{}}.load();
  ASSERT_TRUE(std::holds_alternative<engine_config>(good)) << std::get<config_error>(good).message;
  EXPECT_EQ(std::get<engine_config>(good).outbound_allow, " 127.0.0.0/8, ::1/128 ,fd00::/8");
  EXPECT_TRUE(std::holds_alternative<engine_config>(args{{"--outbound-allow", ""}}.load()));
  // Set but empty (the refusal tests start engines so): empty, and the
  // next argument is not taken for its value.
  ::setenv("PAYENGINE_OUTBOUND_ALLOW", "", 1);
  auto empty = args{{"--registry-shards", "8"}}.load();
  ASSERT_TRUE(std::holds_alternative<engine_config>(empty)) << std::get<config_error>(empty).message;
  EXPECT_EQ(std::get<engine_config>(empty).outbound_allow, "");
  EXPECT_EQ(std::get<engine_config>(empty).registry_shards, 8u);
}

TEST_F(config_test, merchant_rate_defaults_come_from_the_environment_within_bounds) {
  ::setenv("PAYENGINE_DATABASE_URL", "dbname=x", 1);
  ::setenv("PAYENGINE_ADMIN_TOKEN", "token-0123456789abcdef", 1);
  auto plain = args{{}}.load();
  ASSERT_TRUE(std::holds_alternative<engine_config>(plain));
  EXPECT_EQ(std::get<engine_config>(plain).merchant_rate_per_s, 0u); // unlimited by default
  EXPECT_EQ(std::get<engine_config>(plain).merchant_burst, 0u);
  EXPECT_EQ(std::get<engine_config>(plain).merchant_cache_ttl_ms, 5000u);
  ::setenv("PAYENGINE_MERCHANT_RATE_PER_S", "50", 1);
  ::setenv("PAYENGINE_MERCHANT_BURST", "100", 1);
  auto set = args{{}}.load();
  ASSERT_TRUE(std::holds_alternative<engine_config>(set)) << std::get<config_error>(set).message;
  EXPECT_EQ(std::get<engine_config>(set).merchant_rate_per_s, 50u);
  EXPECT_EQ(std::get<engine_config>(set).merchant_burst, 100u);
  ::setenv("PAYENGINE_MERCHANT_BURST", "1000001", 1);
  auto bad = args{{}}.load();
  ASSERT_TRUE(std::holds_alternative<config_error>(bad));
  EXPECT_NE(std::get<config_error>(bad).message.find("merchant_burst"), std::string::npos);
  ::unsetenv("PAYENGINE_MERCHANT_BURST");
  EXPECT_TRUE(std::holds_alternative<config_error>(args{{"--merchant-cache-ttl-ms", "0"}}.load()));
}

TEST_F(config_test, help_exits_zero) {
  auto r = args{{"--help"}}.load();
  ASSERT_TRUE(std::holds_alternative<config_error>(r));
  EXPECT_EQ(std::get<config_error>(r).exit_code, 0);
  EXPECT_NE(std::get<config_error>(r).message.find("PAYENGINE_DATABASE_URL"), std::string::npos);
  EXPECT_NE(std::get<config_error>(r).message.find("PAYENGINE_OUTBOUND_ALLOW"), std::string::npos);
}

TEST_F(config_test, garbage_config_files_never_crash) {
  ::setenv("PAYENGINE_DATABASE_URL", "dbname=x", 1);
  ::setenv("PAYENGINE_ADMIN_TOKEN", "token-0123456789abcdef", 1);
  std::mt19937 rng{7};
  std::string seed = "listen = \"127.0.0.1:1\"\n[section]\nregistry_shards = 4\ntime_scale = 2.5\n";
  for (int i = 0; i < 500; ++i) {
    auto text = seed;
    for (int m = 0; m < 4; ++m)
      text[rng() % text.size()] = static_cast<char>(rng() % 256);
    auto file = write_file(text);
    auto r = args{{"--config", file}}.load(); // either outcome, never a crash
    if (auto* e = std::get_if<config_error>(&r)) {
      EXPECT_FALSE(e->message.empty());
    }
  }
}

// --- the file's step (config_from_file_text, the fuzz target's entry) ------------

/// Every PAYENGINE_* variable unset: what the file alone gives.
void clear_payengine_environment() {
  std::vector<std::string> names;
  for (char** e = environ; *e; ++e)
    if (std::string_view(*e).rfind("PAYENGINE_", 0) == 0)
      names.emplace_back(*e, std::string_view(*e).find('='));
  for (const auto& n : names)
    ::unsetenv(n.c_str());
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::string required = "database_url = \"dbname=x\"\nadmin_token = \"token-0123456789abcdef\"\n";

engine_config accepted(std::string_view text) {
  auto r = config_from_file_text(text);
  if (auto* e = std::get_if<config_error>(&r))
    ADD_FAILURE() << text << "\n-> " << e->message;
  return std::holds_alternative<engine_config>(r) ? std::get<engine_config>(r) : engine_config{};
}

std::string refusal(std::string_view text) {
  auto r = config_from_file_text(text);
  if (!std::holds_alternative<config_error>(r)) {
    ADD_FAILURE() << text << "\n-> accepted";
    return {};
  }
  EXPECT_EQ(std::get<config_error>(r).exit_code, 2);
  return std::get<config_error>(r).message;
}

TEST_F(config_test, a_file_alone_reads_as_through_the_command_line) {
  clear_payengine_environment();
  std::vector<std::string> texts;
  for (const auto& entry : std::filesystem::directory_iterator(PAYENGINE_CONFIG_CORPUS))
    texts.push_back(read_text(entry.path()));
  ASSERT_GE(texts.size(), 10u);
  // And mutations of them: the bytes a fuzzer would try.
  std::mt19937 rng{11};
  for (size_t i = 0, n = texts.size(); i < 400; ++i) {
    auto text = texts[i % n];
    for (int m = 0; m < 3 && !text.empty(); ++m)
      text[rng() % text.size()] = "= \"[],.#\n-_0a"[rng() % 14];
    texts.push_back(text);
  }
  size_t same_config = 0;
  for (const auto& text : texts) {
    auto file = write_file(text);
    auto through_cli = args{{"--config", file}}.load();
    auto alone = config_from_file_text(text);
    ASSERT_EQ(through_cli.index(), alone.index()) << text;
    if (auto* e = std::get_if<config_error>(&alone)) {
      EXPECT_EQ(std::get<config_error>(through_cli).message, e->message) << text;
    } else {
      EXPECT_EQ(describe(std::get<engine_config>(through_cli)), describe(std::get<engine_config>(alone))) << text;
      ++same_config;
    }
  }
  EXPECT_GE(same_config, 10u);
}

TEST_F(config_test, a_file_is_read_as_cli11_reads_its_options) {
  // Dashes or underscores, and the key as written as a flag.
  EXPECT_EQ(accepted(required + "registry-shards = 8\n").registry_shards, 8u);
  EXPECT_EQ(accepted(required + "--registry_shards = 8\n").registry_shards, 8u);
  // Keys under a section, or dotted, are no setting of ours; nor are unknown ones.
  auto c = accepted(required + "server.listen = \"1.2.3.4:1\"\nmystery = 1\n[other]\nlisten = \"1.2.3.4:2\"\n");
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  // An array is its last value; a key repeated on the next line too; a
  // key's later occurrence after another key is not read.
  EXPECT_EQ(accepted(required + "notify_schedule_s = [0, 1, 2]\n").notify_schedule_s, "2");
  EXPECT_EQ(accepted(required + "registry_shards = 8\nregistry_shards = 16\n").registry_shards, 16u);
  EXPECT_EQ(accepted(required + "registry_shards = 8\nlisten = \"h:1\"\nregistry_shards = 16\n").registry_shards, 8u);
  // Quotes and comments.
  EXPECT_EQ(accepted(required + "log_level = 'warn' # quiet\n").log_level, "warn");
  EXPECT_EQ(refusal(required + "registry_shards = many\n"),
            "configuration: Could not convert: --registry-shards = many");
}

TEST_F(config_test, a_file_may_not_name_the_command_lines_own_flags) {
  for (auto key : {"config", "help", "h", "-h", "--help", "version"}) {
    auto message = refusal(required + key + " = 1\n");
    EXPECT_EQ(message, std::string("configuration: ") + key + ": This option is not allowed in a configuration file");
  }
}

TEST_F(config_test, an_empty_array_is_refused_and_never_read) {
  // CLI11 2.1 would convert the first of no values (a read through null,
  // found by the fuzz target): now the file is refused.
  for (auto value : {"[]", "[ ]", "[    ]"}) {
    auto message = refusal(required + "listen = " + value + "\n");
    EXPECT_NE(message.find("--listen: an empty array"), std::string::npos) << message;
    EXPECT_NE(refusal(required + "registry_shards = " + value + "\n").find("--registry-shards"), std::string::npos);
    EXPECT_NE(refusal(required + "time_scale = " + value + "\n").find("--time-scale"), std::string::npos);
  }
}

// --- timeouts that must add up --------------------------------------------------

TEST_F(config_test, the_defaults_add_up) {
  const engine_config c;
  // 5 tries x (2 + 2 + 4 s, + 1 s slack) + back-off 1 + 2 + 3 + 4 s = 55 s <= 60 s.
  EXPECT_EQ(c.gateway_attempt_timeout_ms(), 9'000u);
  EXPECT_EQ(c.gateway_call_worst_ms(), 55'000u);
  EXPECT_LE(c.gateway_call_worst_ms(), c.channel_timeout_ms);
  // connect 2 s + 2 x 1.5 s statements = 5 s <= storage_timeout_ms 5 s.
  EXPECT_EQ(c.db_connect_timeout_s(), 2u);
  EXPECT_EQ(c.storage_worst_ms(), 5'000u);
  EXPECT_LE(c.storage_worst_ms(), c.storage_timeout_ms);
}

TEST_F(config_test, libpq_connect_timeout_is_whole_seconds_at_least_two) {
  engine_config c;
  for (auto [ms, s] : std::vector<std::pair<uint32_t, uint32_t>>{
         {1, 2}, {1'999, 2}, {2'000, 2}, {2'001, 3}, {10'000, 10}}) {
    c.db_connect_timeout_ms = ms;
    EXPECT_EQ(c.db_connect_timeout_s(), s) << ms;
  }
}

struct timeout_case {
  std::string name;
  std::vector<std::string> flags;
  std::map<std::string, std::string> env;
  bool accepted;
  std::string said; // in the one line when refused
};

TEST_F(config_test, gateway_and_storage_timeouts_are_accepted_or_refused_as_a_whole) {
  ::setenv("PAYENGINE_DATABASE_URL", "dbname=x", 1);
  ::setenv("PAYENGINE_ADMIN_TOKEN", "token-0123456789abcdef", 1);
  const std::vector<timeout_case> cases = {
    {"defaults", {}, {}, true, ""},
    // An attempt's total deadline of 12 s: 5 x (12 + 1 s) + 10 s = 75 s > 60 s.
    {"a_longer_attempt_deadline", {"--channel-call-deadline-ms", "12000"},
     {}, false, "75000 ms exceed channel_timeout_ms 60000"},
    {"a_longer_attempt_deadline_with_fewer_tries", // 4 x 13 s + 6 s = 58 s
     {"--channel-call-deadline-ms", "12000", "--gateway-attempts-max", "4"}, {}, true, ""},
    {"a_longer_attempt_deadline_and_call_deadline", // exactly 75 s
     {"--channel-call-deadline-ms", "12000", "--channel-timeout-ms", "75000"}, {}, true, ""},
    {"longer_back_off", {"--gateway-retry-step-ms", "2000"}, {}, false, "channel_timeout_ms"},
    {"more_tries_from_the_environment", {}, {{"PAYENGINE_GATEWAY_ATTEMPTS_MAX", "10"}}, false,
     "10 tries"},
    {"a_shorter_deadline_from_the_environment", {}, {{"PAYENGINE_CHANNEL_TIMEOUT_MS", "54999"}},
     false, "55000 ms exceed channel_timeout_ms 54999"},
    {"one_try", {"--gateway-attempts-max", "1", "--channel-timeout-ms", "9000"}, {}, true, ""},
    {"no_tries", {"--gateway-attempts-max", "0"}, {}, false, "gateway_attempts_max"},
    {"a_zero_timeout", {"--gateway-read-timeout-ms", "0"}, {}, false, "gateway_read_timeout_ms"},
    {"no_burst", {"--gateway-burst", "0"}, {}, false, "gateway_burst"},
    {"a_longer_statement_timeout", {}, {{"PAYENGINE_DB_STATEMENT_TIMEOUT_MS", "2000"}}, false,
     "exceed storage_timeout_ms 5000"},
    {"a_longer_statement_timeout_and_storage_deadline",
     {"--db-statement-timeout-ms", "2000", "--storage-timeout-ms", "6000"}, {}, true, ""},
    {"a_longer_connect_timeout", {"--db-connect-timeout-ms", "2001"}, {}, false,
     "storage timeouts do not add up"},
    {"no_storage_queue", {}, {{"PAYENGINE_STORAGE_QUEUE_MAX", "0"}}, false, "storage_queue_max"},
    {"no_idle_sweep_batch", {"--idle-sweep-batch-max", "0"}, {}, false, "idle_sweep_batch_max"},
    {"an_idle_sweep_batch_of_one", {"--idle-sweep-batch-max", "1"}, {}, true, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    for (const auto& [k, v] : c.env)
      ::setenv(k.c_str(), v.c_str(), 1);
    auto r = args{c.flags}.load();
    for (const auto& [k, v] : c.env)
      ::unsetenv(k.c_str());
    if (c.accepted) {
      ASSERT_TRUE(std::holds_alternative<engine_config>(r)) << std::get<config_error>(r).message;
      const auto& cfg = std::get<engine_config>(r);
      EXPECT_LE(cfg.gateway_call_worst_ms(), cfg.channel_timeout_ms);
      EXPECT_LE(cfg.storage_worst_ms(), cfg.storage_timeout_ms);
      continue;
    }
    ASSERT_TRUE(std::holds_alternative<config_error>(r));
    const auto& e = std::get<config_error>(r);
    EXPECT_EQ(e.exit_code, 2);
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
    EXPECT_NE(e.message.find(c.said), std::string::npos) << e.message;
  }
}

TEST_F(config_test, help_lists_the_gateway_and_storage_knobs) {
  auto r = args{{"--help"}}.load();
  const auto& text = std::get<config_error>(r).message;
  for (auto name : {"--gateway-attempts-max", "PAYENGINE_GATEWAY_ATTEMPTS_MAX",
                    "PAYENGINE_GATEWAY_RETRY_STEP_MS", "PAYENGINE_GATEWAY_BREAKER_FAILURES_MAX",
                    "PAYENGINE_GATEWAY_BREAKER_OPEN_MS", "PAYENGINE_GATEWAY_RATE_PER_S",
                    "PAYENGINE_GATEWAY_BURST", "PAYENGINE_GATEWAY_IN_FLIGHT_MAX",
                    "PAYENGINE_GATEWAY_WORKERS", "PAYENGINE_GATEWAY_CONNECT_TIMEOUT_MS",
                    "PAYENGINE_GATEWAY_WRITE_TIMEOUT_MS", "PAYENGINE_GATEWAY_READ_TIMEOUT_MS",
                    "PAYENGINE_DB_CONNECT_TIMEOUT_MS", "PAYENGINE_DB_STATEMENT_TIMEOUT_MS",
                    "PAYENGINE_STORAGE_QUEUE_MAX"})
    EXPECT_NE(text.find(name), std::string::npos) << name;
}

TEST_F(config_test, time_scale_shortens_schedules) {
  engine_config c;
  c.time_scale = 60;
  EXPECT_EQ(c.scaled_ms(900'000), 15'000u);
  EXPECT_EQ(c.scaled_ms(0), 1u);
}

} // namespace
} // namespace payengine
