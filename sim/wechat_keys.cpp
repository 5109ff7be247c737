#include "sim/wechat_keys.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include <openssl/rand.h>

#include "channels/wechat.hpp"
#include "sim/clock.hpp"
#include "sim/limits.hpp"

namespace payengine::sim {

namespace wechat = channels::wechat;

std::string random_alnum(std::size_t length) {
  static constexpr std::string_view alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  std::vector<unsigned char> bytes(length * 2);
  while (out.size() < length) {
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw std::runtime_error("RAND_bytes failed");
    for (const unsigned char b : bytes) {
      // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
      if (b < 248 && out.size() < length) out += alphabet[b % alphabet.size()];
    }
  }
  return out;
}

std::string random_uuid() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < sizeof bytes; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[bytes[i] >> 4];
    out += hex[bytes[i] & 0x0f];
  }
  return out;
}

channels::result<channels::header_list> wechat_keys::sign(std::string_view body) const {
  return wechat::sign_response(platform_key, platform_serial, body, now_s(),
                               random_alnum(limits::wechat_nonce_chars));
}

std::optional<std::string> read_apiv3_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  // One byte more than a key with its newline: a longer file is refused unread.
  std::vector<char> buffer(limits::apiv3_key_bytes + 2);
  in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  text.assign(buffer.data(), static_cast<std::size_t>(in.gcount()));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.size() != limits::apiv3_key_bytes) return std::nullopt;
  return text;
}

std::variant<std::optional<wechat_keys>, std::string> load_wechat_keys(const wechat_settings& s) {
  if (!s.any()) return std::optional<wechat_keys>{};
  auto platform = channels::private_key::from_pem_file(s.private_key_file);
  if (!platform) return "WeChat platform private key " + s.private_key_file + ": " + platform.error().detail;
  auto merchant = channels::public_key::from_pem_file(s.merchant_public_key_file);
  if (!merchant) return "WeChat merchant public key " + s.merchant_public_key_file + ": " + merchant.error().detail;
  auto apiv3 = read_apiv3_key(s.apiv3_key_file);
  if (!apiv3) return "WeChat APIv3 key " + s.apiv3_key_file + ": unreadable or not 32 bytes";
  return std::optional<wechat_keys>{wechat_keys{std::move(platform).value(), s.serial, std::move(merchant).value(),
                                                s.merchant_serial, std::move(*apiv3), s.mch_id, s.app_id}};
}

}  // namespace payengine::sim
