// Where outbound calls may go: every class of address, every spelling of
// a forbidden one, the allow list, notify_url literals.
#include "net/address_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace payengine::net {
namespace {

struct classified {
  const char* address;
  address_class expected;
};

TEST(address_policy, every_address_is_classified_as_its_range) {
  const std::vector<classified> table = {
    {"8.8.8.8", address_class::global},
    {"203.0.114.1", address_class::global},
    {"0.0.0.0", address_class::unspecified},
    {"0.1.2.3", address_class::unspecified},
    {"127.0.0.1", address_class::loopback},
    {"127.255.255.254", address_class::loopback},
    {"10.0.0.1", address_class::private_use},
    {"172.16.0.1", address_class::private_use},
    {"172.31.255.255", address_class::private_use},
    {"172.32.0.1", address_class::global},
    {"192.168.1.1", address_class::private_use},
    {"169.254.169.254", address_class::link_local},
    {"100.64.0.1", address_class::shared},
    {"100.127.255.255", address_class::shared},
    {"100.128.0.1", address_class::global},
    {"224.0.0.1", address_class::multicast},
    {"239.255.255.250", address_class::multicast},
    {"255.255.255.255", address_class::reserved},
    {"240.0.0.1", address_class::reserved},
    {"192.0.2.1", address_class::reserved},
    {"198.18.0.1", address_class::reserved},
    {"::", address_class::unspecified},
    {"::1", address_class::loopback},
    {"fe80::1", address_class::link_local},
    {"febf::1", address_class::link_local},
    {"fc00::1", address_class::private_use},
    {"fd12:3456::1", address_class::private_use},
    {"fec0::1", address_class::private_use},
    {"ff02::1", address_class::multicast},
    {"2001:db8::1", address_class::reserved},
    {"2001::1", address_class::reserved},
    {"::2", address_class::reserved},
    {"::127.0.0.1", address_class::reserved}, // IPv4-compatible (deprecated)
    {"2606:4700::1111", address_class::global},
    {"2a00:1450:4001::200e", address_class::global},
    // IPv4-mapped, NAT64 and 6to4 forms take the class of the IPv4 address.
    {"::ffff:127.0.0.1", address_class::loopback},
    {"::ffff:7f00:1", address_class::loopback},
    {"::ffff:169.254.169.254", address_class::link_local},
    {"::ffff:10.1.2.3", address_class::private_use},
    {"::ffff:0.0.0.0", address_class::unspecified},
    {"::ffff:8.8.8.8", address_class::global},
    {"64:ff9b::10.0.0.1", address_class::private_use},
    {"64:ff9b::8.8.8.8", address_class::global},
    {"64:ff9b:1::1", address_class::private_use},
    {"2002:7f00:1::1", address_class::loopback},
    {"2002:0808:0808::1", address_class::global},
    // Legacy IPv4 spellings a resolver accepts.
    {"127.1", address_class::loopback},
    {"2130706433", address_class::loopback},
    {"0x7f000001", address_class::loopback},
    {"0177.0.0.1", address_class::loopback},
    {"0", address_class::unspecified},
    {"169.254.43518", address_class::link_local},
  };
  for (const auto& row : table) {
    auto a = parse_ip(row.address);
    ASSERT_TRUE(a) << row.address;
    EXPECT_EQ(classify(*a), row.expected) << row.address << " is " << to_string(classify(*a));
  }
}

TEST(address_policy, hostnames_and_garbage_are_not_addresses) {
  for (auto text : {"", "localhost", "example.com", "1.2.3.4.5", "256.0.0.1", "1.2.3.256",
                    "0x", "1..2", "1.2.3.", "08.0.0.1", "4294967296", "::g", "1:2:3:4:5:6:7:8:9",
                    "[::1]", " 127.0.0.1", "127.0.0.1 "})
    EXPECT_FALSE(parse_ip(text)) << text;
}

TEST(address_policy, addresses_print_canonically) {
  EXPECT_EQ(to_string(*parse_ip("127.1")), "127.0.0.1");
  EXPECT_EQ(to_string(*parse_ip("::ffff:7f00:1")), "127.0.0.1");
  EXPECT_EQ(to_string(*parse_ip("2001:0db8:0000::0001")), "2001:db8::1");
}

TEST(address_policy, cidr_blocks_parse_strictly) {
  struct row { const char* text; bool valid; };
  const std::vector<row> table = {
    {"127.0.0.0/8", true}, {"10.0.0.0/8", true}, {"0.0.0.0/0", true}, {"192.168.1.7", true},
    {"::1/128", true}, {"fd00::/8", true}, {"::/0", true}, {"fe80::", true},
    {"10.0.0.1/8", false},   // host bits set
    {"127.0.0.0/33", false}, {"::/129", false}, {"127.0.0.0/", false}, {"/8", false},
    {"127.1/8", false},      // only canonical dotted quads in a block
    {"localhost", false}, {"10.0.0.0/8/8", false}, {"10.0.0.0/-1", false},
    {"fe80::1%eth0/128", false}, {"", false},
  };
  for (const auto& r : table)
    EXPECT_EQ(parse_cidr(r.text).has_value(), r.valid) << r.text;
}

TEST(address_policy, the_allow_list_admits_what_it_covers_and_nothing_else) {
  auto parsed = address_policy::parse(" 127.0.0.0/8 , fd00:1::/32,192.168.7.7");
  ASSERT_TRUE(std::holds_alternative<address_policy>(parsed)) << std::get<std::string>(parsed);
  const auto& p = std::get<address_policy>(parsed);
  EXPECT_EQ(p.allowed().size(), 3u);
  struct row { const char* address; bool permitted; };
  const std::vector<row> table = {
    {"127.0.0.1", true}, {"127.9.9.9", true}, {"::ffff:127.0.0.1", true},
    {"::1", false},  // IPv6 loopback is another block
    {"fd00:1::5", true}, {"fd00:2::5", false},
    {"192.168.7.7", true}, {"192.168.7.8", false},
    {"10.0.0.1", false}, {"169.254.169.254", false}, {"0.0.0.0", false},
    {"8.8.8.8", true}, {"2606:4700::1111", true}, // global needs no allowance
  };
  for (const auto& r : table)
    EXPECT_EQ(p.permits(*parse_ip(r.address)), r.permitted) << r.address;
  address_policy none;
  EXPECT_EQ(none.refusal(*parse_ip("127.0.0.1")), address_class::loopback);
  EXPECT_FALSE(none.refusal(*parse_ip("8.8.8.8")));
}

TEST(address_policy, a_bad_allow_list_names_the_bad_entry) {
  auto parsed = address_policy::parse("127.0.0.0/8, 10.0.0.1/8");
  ASSERT_TRUE(std::holds_alternative<std::string>(parsed));
  EXPECT_NE(std::get<std::string>(parsed).find("10.0.0.1/8"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<address_policy>(address_policy::parse("")));
  EXPECT_TRUE(std::holds_alternative<address_policy>(address_policy::parse(" , ")));
}

TEST(address_policy, notify_url_hosts_that_are_forbidden_literals_are_named) {
  address_policy none;
  struct row { const char* url; bool forbidden; };
  const std::vector<row> table = {
    {"http://169.254.169.254/latest/meta-data", true},
    {"http://127.0.0.1:8080/hook", true},
    {"https://[::1]/hook", true},
    {"http://[::ffff:10.0.0.1]:81/", true},
    {"http://[fe80::1%25eth0]/", true},
    {"http://2130706433/", true},
    {"http://0/", true},
    {"http://10.1.2.3?x=1", true},
    {"http://8.8.8.8/hook", false},
    {"https://[2606:4700::1111]/hook", false},
    {"https://hooks.example.com/x", false},
    {"http://localhost:9/hook", false}, // a name: checked when connecting
    {"ftp://127.0.0.1/", false},        // not an http(s) URL (validated elsewhere)
  };
  for (const auto& r : table)
    EXPECT_EQ(forbidden_literal(r.url, none).has_value(), r.forbidden) << r.url;
  EXPECT_EQ(*forbidden_literal("http://169.254.169.254/", none), "169.254.169.254 is link_local");
  auto loopback_ok = std::get<address_policy>(address_policy::parse("127.0.0.0/8"));
  EXPECT_FALSE(forbidden_literal("http://127.0.0.1:8080/hook", loopback_ok));
  EXPECT_TRUE(forbidden_literal("http://169.254.169.254/", loopback_ok));
}

TEST(address_policy, url_hosts_are_taken_from_the_authority) {
  EXPECT_EQ(url_host("http://a.example:81/p?q#f"), "a.example");
  EXPECT_EQ(url_host("https://[2001:db8::1]:8443/x"), "2001:db8::1");
  EXPECT_EQ(url_host("http://user@10.0.0.1/x"), "10.0.0.1");
  EXPECT_EQ(url_host("http://h?x=http://127.0.0.1/"), "h");
  EXPECT_FALSE(url_host("http:///path"));
  EXPECT_FALSE(url_host("http://[]/"));
  EXPECT_FALSE(url_host("mailto:x@y"));
}

} // namespace
} // namespace payengine::net
