#include "messages/ids.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace payengine {

namespace {

constexpr std::string_view base62 =
  "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool is_base62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
         || (c >= 'a' && c <= 'z');
}

} // namespace

std::string new_id(std::string_view prefix, size_t length) {
  std::string out{prefix};
  out += '_';
  std::vector<unsigned char> bytes(length * 2);
  size_t produced = 0;
  while (produced < length) {
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
      throw std::runtime_error("RAND_bytes failed");
    // Rejection sampling keeps the characters uniform: 248 = 4 * 62.
    for (auto b : bytes) {
      if (b >= 248 || produced == length)
        continue;
      out += base62[b % 62];
      ++produced;
    }
  }
  return out;
}

bool well_formed_id(std::string_view id, std::string_view prefix) {
  if (id.size() <= prefix.size() + 1 || id.size() > prefix.size() + 65)
    return false;
  if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '_')
    return false;
  for (auto c : id.substr(prefix.size() + 1))
    if (!is_base62(c))
      return false;
  return true;
}

std::string sha256_bytes(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP_Digest failed");
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string sha256_hex(std::string_view data) {
  static constexpr char hex[] = "0123456789abcdef";
  auto md = sha256_bytes(data);
  std::string out;
  out.reserve(md.size() * 2);
  for (unsigned char c : md) {
    out += hex[c >> 4];
    out += hex[c & 0xf];
  }
  return out;
}

bool secrets_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace payengine

namespace payengine {

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(data.data()),
                           static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

} // namespace payengine
