#pragma once
// Opaque ids with a type prefix (API.md): ord_, rfd_, evt_, ntf_, mch_, ...
// and other secrets drawn from the OS's CSPRNG.

#include <string>
#include <string_view>
#include <cstdint>

namespace payengine {

/// `prefix` + "_" + `length` base62 characters from a CSPRNG.
std::string new_id(std::string_view prefix, size_t length = 24);

/// True if `id` is `prefix` + "_" + 1..64 base62 characters.
bool well_formed_id(std::string_view id, std::string_view prefix);

/// Lower-case hex SHA-256 of `data` (api key hashes, request fingerprints).
std::string sha256_hex(std::string_view data);
/// The raw 32 bytes of SHA-256.
std::string sha256_bytes(std::string_view data);

/// Constant-time comparison of two equal-purpose secrets.
bool secrets_equal(std::string_view a, std::string_view b);

} // namespace payengine

namespace payengine {

/// The registry shard that owns an order: a stable FNV-1a hash of its id.
inline uint32_t shard_index(std::string_view order_id, uint32_t shards) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : order_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % shards);
}

} // namespace payengine

namespace payengine {

/// Standard base64 (with padding) of `data`.
std::string base64_encode(std::string_view data);

/// `n` bytes from the OS's CSPRNG.
std::string random_bytes(size_t n);

} // namespace payengine
