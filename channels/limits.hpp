#pragma once

#include <cstddef>

// Every bound the channel code enforces, in one place.
namespace payengine::channels::limits {

// A form body (request or notification). Alipay's are a few KiB.
inline constexpr std::size_t form_bytes_max = 64 * 1024;
inline constexpr std::size_t form_params_max = 128;
// A gateway response body.
inline constexpr std::size_t response_bytes_max = 1024 * 1024;
// A PEM key file.
inline constexpr std::size_t pem_bytes_max = 64 * 1024;
// RSA2 means RSA-SHA256 with keys of at least this size.
inline constexpr int rsa_bits_min = 2048;
// WeChat Pay v3: an Authorization or Wechatpay-* header value, and a
// notification body (WeChat's are one or two KiB, the resource included).
inline constexpr std::size_t wechat_header_bytes_max = 4 * 1024;
inline constexpr std::size_t wechat_notification_bytes_max = 64 * 1024;
// An AEAD nonce: WeChat's are 12 bytes; OpenSSL takes longer ones, not unbounded.
inline constexpr std::size_t wechat_nonce_bytes_max = 128;
// Decimal exponents we convert (ISO 4217 uses 0..4).
inline constexpr int exponent_max = 9;

}  // namespace payengine::channels::limits
