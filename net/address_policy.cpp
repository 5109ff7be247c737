#include "net/address_policy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace payengine::net {

namespace {

constexpr std::array<uint8_t, 12> v4_mapped_prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

ip_address from_v4(uint32_t host_order) {
  ip_address a;
  std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), a.bytes.begin());
  a.bytes[12] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[13] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[14] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[15] = static_cast<uint8_t>(host_order);
  return a;
}

uint32_t v4_at(const ip_address& a, size_t offset) {
  return uint32_t{a.bytes[offset]} << 24 | uint32_t{a.bytes[offset + 1]} << 16
         | uint32_t{a.bytes[offset + 2]} << 8 | uint32_t{a.bytes[offset + 3]};
}

/// One part of a legacy IPv4 literal: decimal, 0x hex or 0-leading octal.
std::optional<uint64_t> parse_v4_part(std::string_view s) {
  if (s.empty() || s.size() > 12)
    return std::nullopt;
  unsigned base = 10;
  if (s.size() > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
    if (s.empty())
      return std::nullopt;
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  uint64_t value = 0;
  for (char c : s) {
    unsigned digit;
    if (c >= '0' && c <= '9')
      digit = static_cast<unsigned>(c - '0');
    else if (base == 16 && std::isxdigit(static_cast<unsigned char>(c)))
      digit = static_cast<unsigned>(std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    else
      return std::nullopt;
    if (digit >= base)
      return std::nullopt;
    value = value * base + digit;
  }
  return value;
}

/// a.b.c.d, a.b.c (c 16 bits), a.b (b 24 bits), a (32 bits), as inet_aton.
std::optional<uint32_t> parse_v4(std::string_view text) {
  std::vector<uint64_t> parts;
  size_t start = 0;
  while (true) {
    auto dot = text.find('.', start);
    auto part = parse_v4_part(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (!part || parts.size() == 4)
      return std::nullopt;
    parts.push_back(*part);
    if (dot == std::string_view::npos)
      break;
    start = dot + 1;
  }
  uint64_t value = 0;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] > 0xff)
      return std::nullopt;
    value |= parts[i] << (24 - 8 * i);
  }
  const auto last_bits = 32 - 8 * (parts.size() - 1);
  if (parts.back() >= (uint64_t{1} << last_bits))
    return std::nullopt;
  return static_cast<uint32_t>(value | parts.back());
}

bool in_v4(uint32_t x, uint32_t base, uint32_t prefix) {
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (x & mask) == base;
}

address_class classify_v4(uint32_t x) {
  struct block { uint32_t base; uint32_t prefix; address_class kind; };
  static constexpr block blocks[] = {
    {0x00000000, 8, address_class::unspecified},  // 0.0.0.0/8 "this network"
    {0x0a000000, 8, address_class::private_use},  // 10/8
    {0x64400000, 10, address_class::shared},      // 100.64/10 CGNAT
    {0x7f000000, 8, address_class::loopback},     // 127/8
    {0xa9fe0000, 16, address_class::link_local},  // 169.254/16
    {0xac100000, 12, address_class::private_use}, // 172.16/12
    {0xc0000000, 24, address_class::reserved},    // 192.0.0/24 IETF
    {0xc0000200, 24, address_class::reserved},    // 192.0.2/24 TEST-NET-1
    {0xc0586300, 24, address_class::reserved},    // 192.88.99/24 6to4 relay
    {0xc0a80000, 16, address_class::private_use}, // 192.168/16
    {0xc6120000, 15, address_class::reserved},    // 198.18/15 benchmarking
    {0xc6336400, 24, address_class::reserved},    // 198.51.100/24 TEST-NET-2
    {0xcb007100, 24, address_class::reserved},    // 203.0.113/24 TEST-NET-3
    {0xe0000000, 4, address_class::multicast},    // 224/4
    {0xf0000000, 4, address_class::reserved},     // 240/4, broadcast
  };
  for (const auto& b : blocks)
    if (in_v4(x, b.base, b.prefix))
      return b.kind;
  return address_class::global;
}

bool starts_with(const ip_address& a, std::initializer_list<uint8_t> prefix) {
  return std::equal(prefix.begin(), prefix.end(), a.bytes.begin());
}

} // namespace

bool ip_address::is_v4() const {
  return std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), bytes.begin());
}

std::optional<ip_address> parse_ip(std::string_view text) {
  if (text.empty() || text.size() > 63)
    return std::nullopt;
  if (text.find(':') == std::string_view::npos) {
    auto v4 = parse_v4(text);
    return v4 ? std::optional<ip_address>{from_v4(*v4)} : std::nullopt;
  }
  // A zone ("fe80::1%eth0") does not change the class of the address.
  std::string s{text.substr(0, text.find('%'))};
  ip_address a;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1)
    return std::nullopt;
  return a;
}

std::optional<ip_address> from_sockaddr(const sockaddr* sa) {
  if (!sa)
    return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, sa, sizeof(in));
    return from_v4(ntohl(in.sin_addr.s_addr));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, sa, sizeof(in6));
    ip_address a;
    std::memcpy(a.bytes.data(), &in6.sin6_addr, 16);
    return a;
  }
  return std::nullopt;
}

std::string to_string(const ip_address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.is_v4())
    inet_ntop(AF_INET, a.bytes.data() + 12, buf, sizeof(buf));
  else
    inet_ntop(AF_INET6, a.bytes.data(), buf, sizeof(buf));
  return buf;
}

bool cidr::contains(const ip_address& a) const {
  uint32_t bits = prefix;
  for (size_t i = 0; i < 16 && bits > 0; ++i) {
    const uint32_t take = std::min<uint32_t>(8, bits);
    const auto mask = static_cast<uint8_t>(0xff << (8 - take));
    if ((a.bytes[i] & mask) != (base.bytes[i] & mask))
      return false;
    bits -= take;
  }
  return true;
}

std::optional<cidr> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  auto addr_text = text.substr(0, slash);
  // A block is written in canonical form: no legacy IPv4 spellings here.
  bool v4 = addr_text.find(':') == std::string_view::npos;
  cidr out;
  if (v4) {
    in_addr in{};
    if (inet_pton(AF_INET, std::string{addr_text}.c_str(), &in) != 1)
      return std::nullopt;
    out.base = from_v4(ntohl(in.s_addr));
  } else {
    if (addr_text.find('%') != std::string_view::npos)
      return std::nullopt;
    auto a = parse_ip(addr_text);
    if (!a)
      return std::nullopt;
    out.base = *a;
  }
  const uint32_t max_bits = v4 ? 32 : 128;
  uint32_t bits = max_bits;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3
        || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    bits = static_cast<uint32_t>(std::stoul(std::string{digits}));
    if (bits > max_bits)
      return std::nullopt;
  }
  out.prefix = v4 ? bits + 96 : bits;
  // Host bits must be zero: "10.0.0.1/8" is more likely a mistake than a wish.
  cidr exact{out.base, 128};
  for (uint32_t i = out.prefix; i < 128; ++i)
    if (exact.base.bytes[i / 8] & (0x80 >> (i % 8)))
      return std::nullopt;
  return out;
}

std::string_view to_string(address_class c) {
  switch (c) {
    case address_class::global: return "global";
    case address_class::unspecified: return "unspecified";
    case address_class::loopback: return "loopback";
    case address_class::private_use: return "private";
    case address_class::link_local: return "link_local";
    case address_class::multicast: return "multicast";
    case address_class::shared: return "shared";
    case address_class::reserved: return "reserved";
  }
  return "reserved";
}

address_class classify(const ip_address& a) {
  if (a.is_v4())
    return classify_v4(v4_at(a, 12));
  static const ip_address zero{};
  if (a == zero)
    return address_class::unspecified;
  ip_address one{};
  one.bytes[15] = 1;
  if (a == one)
    return address_class::loopback;
  // Translated and tunnelled IPv4: the embedded address decides.
  if (starts_with(a, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) // 64:ff9b::/96
    return classify_v4(v4_at(a, 12));
  if (starts_with(a, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01})) // 64:ff9b:1::/48 local NAT64
    return address_class::private_use;
  if (starts_with(a, {0x20, 0x02})) // 2002::/16 6to4
    return classify_v4(v4_at(a, 2));
  const auto b0 = a.bytes[0];
  const auto b1 = a.bytes[1];
  if ((b0 & 0xfe) == 0xfc) // fc00::/7
    return address_class::private_use;
  if (b0 == 0xfe && (b1 & 0xc0) == 0x80) // fe80::/10
    return address_class::link_local;
  if (b0 == 0xfe && (b1 & 0xc0) == 0xc0) // fec0::/10 (site-local, deprecated)
    return address_class::private_use;
  if (b0 == 0xff) // ff00::/8
    return address_class::multicast;
  if (starts_with(a, {0x20, 0x01, 0x0d, 0xb8})) // 2001:db8::/32 documentation
    return address_class::reserved;
  if (b0 == 0x20 && b1 == 0x01 && a.bytes[2] < 0x02) // 2001::/23 IETF (Teredo, ...)
    return address_class::reserved;
  if ((b0 & 0xe0) != 0x20) // only 2000::/3 is global unicast
    return address_class::reserved;
  return address_class::global;
}

std::variant<address_policy, std::string> address_policy::parse(std::string_view csv) {
  address_policy p;
  size_t start = 0;
  while (start <= csv.size()) {
    auto comma = csv.find(',', start);
    auto item = csv.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                  : comma - start);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front())))
      item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back())))
      item.remove_suffix(1);
    if (!item.empty()) {
      auto block = parse_cidr(item);
      if (!block)
        return "'" + std::string{item.substr(0, 64)}
               + "' is not a CIDR block (e.g. 127.0.0.0/8 or fd00::/8, host bits zero)";
      p.allowed_.push_back(*block);
    }
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return p;
}

std::optional<address_class> address_policy::refusal(const ip_address& a) const {
  if (std::any_of(allowed_.begin(), allowed_.end(), [&](const cidr& c) { return c.contains(a); }))
    return std::nullopt;
  auto kind = classify(a);
  if (kind == address_class::global)
    return std::nullopt;
  return kind;
}

std::optional<std::string> url_host(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return std::nullopt;
  auto scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return std::nullopt;
  auto authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1)
      return std::nullopt;
    return std::string{authority.substr(1, close - 1)};
  }
  auto host = authority.substr(0, authority.find(':'));
  if (host.empty())
    return std::nullopt;
  return std::string{host};
}

std::optional<std::string> forbidden_literal(std::string_view url, const address_policy& p) {
  auto host = url_host(url);
  if (!host)
    return std::nullopt;
  // Percent-encoded zones ("fe80::1%25eth0") are still link-local.
  auto a = parse_ip(*host);
  if (!a)
    return std::nullopt;
  auto why = p.refusal(*a);
  if (!why)
    return std::nullopt;
  return to_string(*a) + " is " + std::string{to_string(*why)};
}

} // namespace payengine::net
