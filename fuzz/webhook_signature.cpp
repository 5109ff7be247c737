// Standard Webhooks signatures (channels/webhook_signature.hpp): a
// merchant's "whsec_" secret parsed and used, checked against an
// independent computation (OpenSSL's HMAC over the strictly decoded key).
//
// Input: 8 bytes of timestamp, then "secret\nid\nbody".
#include "channels/rsa_key.hpp"
#include "channels/webhook_signature.hpp"
#include "fuzz/fuzz_check.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

using namespace payengine::channels;

namespace {

std::string expected_signature(std::string_view key, std::string_view content) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  FUZZ_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                  reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len));
  return "v1," + base64_encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < sizeof(int64_t))
    return 0;
  int64_t timestamp = 0;
  std::memcpy(&timestamp, data, sizeof timestamp);
  std::string_view rest(reinterpret_cast<const char*>(data) + sizeof timestamp, size - sizeof timestamp);
  auto cut = rest.find('\n');
  auto secret = rest.substr(0, cut);
  rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);
  cut = rest.find('\n');
  auto id = rest.substr(0, cut);
  auto body = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);

  auto signature = sign_webhook(secret, id, timestamp, body);
  if (signature) {
    // "v1," and the base64 of an HMAC-SHA256.
    FUZZ_CHECK(signature->rfind("v1,", 0) == 0);
    auto mac = base64_decode(std::string_view(*signature).substr(3));
    FUZZ_CHECK(mac && mac->size() == 32);
    FUZZ_CHECK(sign_webhook(secret, id, timestamp, body) == signature);
    FUZZ_CHECK(secret.rfind("whsec_", 0) == 0);
  }
  // A secret as the engine makes them ("whsec_" + strict base64 of a
  // non-empty key) always signs, and signs as the specification says.
  if (secret.rfind("whsec_", 0) != 0)
    return 0;
  auto key = base64_decode(secret.substr(6));
  if (!key || key->empty())
    return 0;
  FUZZ_CHECK(signature.has_value());
  std::string content{id};
  content += '.' + std::to_string(timestamp) + '.';
  content += body;
  FUZZ_CHECK(*signature == expected_signature(*key, content));
  return 0;
}
