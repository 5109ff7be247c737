#pragma once
// Where the engine may connect to (API.md "Outbound calls"): pure rules, no
// I/O and no CAF. An address is classified (loopback, private, link-local,
// ...); only globally routable ones are allowed, unless they are inside the
// operator's allow list (PAYENGINE_OUTBOUND_ALLOW). IPv4 is handled as its
// IPv4-mapped IPv6 form (::ffff:a.b.c.d), so the mapped spelling of a
// forbidden IPv4 address is just as forbidden, and an IPv4 CIDR in the
// allow list matches it too.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct sockaddr;

namespace payengine::net {

/// An IPv6 address, or an IPv4 one as ::ffff:a.b.c.d.
struct ip_address {
  std::array<uint8_t, 16> bytes{};

  bool is_v4() const; // IPv4-mapped
  friend bool operator==(const ip_address& a, const ip_address& b) { return a.bytes == b.bytes; }
};

/// "203.0.113.7", "2001:db8::1" (no brackets). IPv4 in the legacy forms a
/// resolver accepts too ("127.1", "0x7f000001", "2130706433"), so that no
/// spelling of a forbidden literal slips through.
std::optional<ip_address> parse_ip(std::string_view text);

/// From a socket address (AF_INET or AF_INET6); nothing for other families.
std::optional<ip_address> from_sockaddr(const sockaddr* sa);

/// Dotted IPv4 for mapped addresses, RFC 5952 text for IPv6.
std::string to_string(const ip_address& a);

/// A CIDR block; IPv4 blocks are kept as mapped (prefix + 96).
struct cidr {
  ip_address base; // host bits zero
  uint32_t prefix = 0; // 0..128

  bool contains(const ip_address& a) const;
};

/// "10.0.0.0/8", "fd00::/8", or a single address ("127.0.0.1" = /32).
/// Host bits must be zero ("10.0.0.1/8" is refused: probably a typo).
std::optional<cidr> parse_cidr(std::string_view text);

/// What kind of address it is. The numbers are permanent (logged).
enum class address_class : uint8_t {
  global = 0,       // routable on the internet: allowed
  unspecified = 1,  // 0.0.0.0/8, ::
  loopback = 2,     // 127/8, ::1
  private_use = 3,  // RFC 1918, fc00::/7, fec0::/10, 64:ff9b:1::/48
  link_local = 4,   // 169.254/16, fe80::/10
  multicast = 5,    // 224/4, ff00::/8
  shared = 6,       // 100.64/10 (carrier-grade NAT)
  reserved = 7,     // documentation, benchmarking, 240/4, broadcast, IETF, non-2000::/3
};

std::string_view to_string(address_class c);

/// The class of `a`. NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
/// classified by the IPv4 address they embed.
address_class classify(const ip_address& a);

/// The allow list plus the rules above.
class address_policy {
public:
  /// Only global addresses.
  address_policy() = default;

  /// "127.0.0.0/8, ::1" (comma-separated, spaces ignored, empty = none);
  /// or one line naming the first bad entry.
  static std::variant<address_policy, std::string> parse(std::string_view allow_csv);

  /// Nothing when `a` may be connected to; else its (non-global) class.
  std::optional<address_class> refusal(const ip_address& a) const;
  bool permits(const ip_address& a) const { return !refusal(a); }

  const std::vector<cidr>& allowed() const { return allowed_; }

private:
  std::vector<cidr> allowed_;
};

/// The host of an http(s) URL: brackets of an IPv6 literal removed, no
/// user info, no port. Nothing when the URL has no such host.
std::optional<std::string> url_host(std::string_view url);

/// For API validation: when `url`'s host is a literal address the policy
/// refuses, why ("169.254.169.254 is link_local"); nothing otherwise
/// (hostnames are checked when connecting, after DNS).
std::optional<std::string> forbidden_literal(std::string_view url, const address_policy& p);

} // namespace payengine::net
