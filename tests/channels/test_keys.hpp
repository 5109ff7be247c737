#pragma once

// RSA key pairs generated in-process for tests (never checked in).
#include <memory>
#include <stdexcept>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "channels/rsa_key.hpp"

namespace payengine::test {

struct pem_pair {
  std::string private_pem;
  std::string public_pem;
};

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

inline pem_pair generate_pem_pair(unsigned bits = 2048) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_RSA_gen(bits), EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), BIO_free);
  if (!pkey || !priv || !pub ||
      PEM_write_bio_PrivateKey(priv.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), pkey.get()) != 1) {
    throw std::runtime_error("RSA key generation failed");
  }
  return {bio_text(priv.get()), bio_text(pub.get())};
}

// Two pairs per test binary: generating 2048-bit keys takes a while.
inline const pem_pair& app_pems() {
  static const pem_pair pair = generate_pem_pair();
  return pair;
}

inline const pem_pair& channel_pems() {
  static const pem_pair pair = generate_pem_pair();
  return pair;
}

// The same pairs parsed, as the channel code takes them.
inline const channels::private_key& app_private() {
  static const auto key = channels::private_key::from_pem(app_pems().private_pem).value();
  return key;
}

inline const channels::public_key& app_public() {
  static const auto key = channels::public_key::from_pem(app_pems().public_pem).value();
  return key;
}

inline const channels::private_key& channel_private() {
  static const auto key = channels::private_key::from_pem(channel_pems().private_pem).value();
  return key;
}

inline const channels::public_key& channel_public() {
  static const auto key = channels::public_key::from_pem(channel_pems().public_pem).value();
  return key;
}

}  // namespace payengine::test
