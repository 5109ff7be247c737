#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/types.h>

#include "channels/result.hpp"

// RSA-SHA256 (PKCS#1 v1.5) keys, the "RSA2" of Alipay. Copies share one
// immutable EVP_PKEY, so a key can be handed to several threads.
namespace payengine::channels {

class private_key {
 public:
  // PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"), unencrypted,
  // RSA of at least limits::rsa_bits_min bits.
  [[nodiscard]] static result<private_key> from_pem(std::string_view pem);
  [[nodiscard]] static result<private_key> from_pem_file(const std::string& path);

  // Base64 (no line breaks) of the RSA-SHA256 signature over `data`.
  [[nodiscard]] result<std::string> sign(std::string_view data) const;

 private:
  explicit private_key(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
};

class public_key {
 public:
  // SubjectPublicKeyInfo ("PUBLIC KEY"), RSA of at least rsa_bits_min bits.
  [[nodiscard]] static result<public_key> from_pem(std::string_view pem);
  [[nodiscard]] static result<public_key> from_pem_file(const std::string& path);

  // True only if `signature_base64` is well-formed base64 of a valid
  // RSA-SHA256 signature over `data`.
  [[nodiscard]] bool verify(std::string_view data, std::string_view signature_base64) const;

 private:
  explicit public_key(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
};

// Standard base64 with padding, no line breaks.
[[nodiscard]] std::string base64_encode(std::string_view bytes);
// Strict: only the standard alphabet, padded to a multiple of 4, no blanks.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

}  // namespace payengine::channels
