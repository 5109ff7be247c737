#include "channels/webhook_signature.hpp"

#include "channels/rsa_key.hpp" // base64_encode, base64_decode (strict)

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace payengine::channels {

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
  return "v1," + base64_encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

} // namespace payengine::channels
