// Configuration: file < environment < flags, and one clear line when bad.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <vector>

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
                      "PAYENGINE_TIME_SCALE", "PAYENGINE_PUBLIC_URL", "PAYENGINE_OUTBOUND_ALLOW"})
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
         {"--listen", "nohost"}, {"--listen", "127.0.0.1:99999"}, {"--time-scale", "0.5"},
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

TEST_F(config_test, time_scale_shortens_schedules) {
  engine_config c;
  c.time_scale = 60;
  EXPECT_EQ(c.scaled_ms(900'000), 15'000u);
  EXPECT_EQ(c.scaled_ms(0), 1u);
}

} // namespace
} // namespace payengine
