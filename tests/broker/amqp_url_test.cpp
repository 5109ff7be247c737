// PAYENGINE_AMQP_URL as the engine reads it.
#include "broker/amqp_url.hpp"

#include <gtest/gtest.h>

namespace payengine::broker {
namespace {

TEST(amqp_url, parts_and_defaults) {
  auto e = std::get<amqp_endpoint>(parse_amqp_url("amqp://user:p%40ss@broker.local:5679/shop"));
  EXPECT_EQ(e.host, "broker.local");
  EXPECT_EQ(e.port, 5679);
  EXPECT_EQ(e.user, "user");
  EXPECT_EQ(e.password, "p@ss");
  EXPECT_EQ(e.vhost, "shop");
  EXPECT_EQ(describe(e), "broker.local:5679/shop") << "no credentials";
  auto d = std::get<amqp_endpoint>(parse_amqp_url("amqp://127.0.0.1"));
  EXPECT_EQ(d.port, 5672);
  EXPECT_EQ(d.vhost, "/");
  EXPECT_EQ(std::get<amqp_endpoint>(parse_amqp_url("amqp://h/")).vhost, "/") << "an empty path is /";
  EXPECT_EQ(std::get<amqp_endpoint>(parse_amqp_url("amqp://h/%2F")).vhost, "/");
  EXPECT_EQ(std::get<amqp_endpoint>(parse_amqp_url("amqp://")).host, "localhost") << "rabbitmq-c's default";
}

TEST(amqp_url, refused) {
  for (const char* bad : {"", "http://h/", "amqp://h:99999/", "amqps://h/", "amqp://h:x/"})
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_amqp_url(bad))) << bad;
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_amqp_url("amqp://" + std::string(3000, 'h'))));
}

} // namespace
} // namespace payengine::broker
