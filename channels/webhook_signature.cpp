#include "channels/webhook_signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <vector>

namespace payengine::channels {

namespace {

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0)
    return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  auto n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(text.data()),
                           static_cast<int>(text.size()));
  if (n < 0)
    return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes. Base64 has at most
  // two; "====" (all padding) would otherwise size the key below zero.
  auto last = text.find_last_not_of('=');
  auto padding = last == std::string_view::npos ? text.size() : text.size() - last - 1;
  if (padding > 2 || padding > static_cast<size_t>(n))
    return std::nullopt;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string base64_encode(const unsigned char* data, size_t len) {
  std::string out(4 * ((len + 2) / 3), '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<size_t>(n));
  return out;
}

} // namespace

std::optional<std::string> sign_webhook(std::string_view secret, std::string_view id,
                                        int64_t timestamp_s, std::string_view body) {
  constexpr std::string_view prefix = "whsec_";
  if (secret.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  auto key = base64_decode(secret.substr(prefix.size()));
  if (!key || key->empty())
    return std::nullopt;
  std::string content{id};
  content += '.';
  content += std::to_string(timestamp_s);
  content += '.';
  content += body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
            reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len))
    return std::nullopt;
  return "v1," + base64_encode(mac, mac_len);
}

} // namespace payengine::channels
