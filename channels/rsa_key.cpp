#include "channels/rsa_key.hpp"

#include <fstream>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "channels/limits.hpp"

namespace payengine::channels {
namespace {

struct md_ctx_free {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

struct bio_free {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;

// Drains OpenSSL's per-thread error queue into one line, so a failure here
// never leaks into the next, unrelated OpenSSL call on this thread.
std::string openssl_errors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "no OpenSSL detail" : text;
}

// Never prompt for a passphrase on the terminal: encrypted keys are refused.
int no_passphrase(char*, int, int, void*) { return -1; }

std::shared_ptr<EVP_PKEY> adopt(EVP_PKEY* pkey) {
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

result<std::shared_ptr<EVP_PKEY>> checked_rsa(EVP_PKEY* raw) {
  if (raw == nullptr) return channel_error{errc::key_unreadable, openssl_errors()};
  auto pkey = adopt(raw);
  if (!EVP_PKEY_is_a(pkey.get(), "RSA")) return channel_error{errc::key_unreadable, "not an RSA key"};
  if (EVP_PKEY_get_bits(pkey.get()) < limits::rsa_bits_min) {
    return channel_error{errc::key_unreadable, "RSA key shorter than 2048 bits"};
  }
  return pkey;
}

result<std::string> read_pem_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return channel_error{errc::key_unreadable, "cannot open " + path};
  std::string text;
  text.resize(limits::pem_bytes_max + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > limits::pem_bytes_max) return channel_error{errc::too_large, path + " is not a key"};
  return text;
}

bio_ptr memory_bio(std::string_view text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// Well-formed: length a multiple of 4, alphabet only, '=' only as 1-2
// trailing pad characters.
bool well_formed_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return false;
  std::size_t pad = 0;
  while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  for (std::size_t i = 0; i < text.size() - pad; ++i) {
    if (!is_base64_char(text[i])) return false;
  }
  return true;
}

}  // namespace

result<private_key> private_key::from_pem(std::string_view pem) {
  if (pem.size() > limits::pem_bytes_max) return channel_error{errc::too_large, "PEM text too large"};
  const auto bio = memory_bio(pem);
  if (!bio) return channel_error{errc::crypto_failure, openssl_errors()};
  auto pkey = checked_rsa(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) return pkey.error();
  return private_key(std::move(pkey).value());
}

result<private_key> private_key::from_pem_file(const std::string& path) {
  const auto text = read_pem_file(path);
  if (!text) return text.error();
  return from_pem(text.value());
}

result<std::string> private_key::sign(std::string_view data) const {
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  std::size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return channel_error{errc::crypto_failure, openssl_errors()};
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return channel_error{errc::crypto_failure, openssl_errors()};
  }
  signature.resize(length);
  return base64_encode(signature);
}

result<public_key> public_key::from_pem(std::string_view pem) {
  if (pem.size() > limits::pem_bytes_max) return channel_error{errc::too_large, "PEM text too large"};
  const auto bio = memory_bio(pem);
  if (!bio) return channel_error{errc::crypto_failure, openssl_errors()};
  auto pkey = checked_rsa(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) return pkey.error();
  return public_key(std::move(pkey).value());
}

result<public_key> public_key::from_pem_file(const std::string& path) {
  const auto text = read_pem_file(path);
  if (!text) return text.error();
  return from_pem(text.value());
}

bool public_key::verify(std::string_view data, std::string_view signature_base64) const {
  const auto signature = base64_decode(signature_base64);
  if (!signature) return false;
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                                   signature->size(), reinterpret_cast<const unsigned char*>(data.data()),
                                   data.size()) == 1;
  if (!ok) ERR_clear_error();  // a bad signature is an answer, not an error
  return ok;
}

std::string base64_encode(std::string_view bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(written));
  return text;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (!well_formed_base64(text)) return std::nullopt;
  std::string bytes(text.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes: drop them.
  std::size_t pad = 0;
  while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  bytes.resize(static_cast<std::size_t>(written) - pad);
  return bytes;
}

}  // namespace payengine::channels
