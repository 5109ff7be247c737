#pragma once
// Standard Webhooks signatures (https://www.standardwebhooks.com):
// webhook-signature = "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")),
// where the key is the base64 part of the merchant's "whsec_..." secret.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace payengine::channels {

/// "v1,<base64>", or nothing if the secret is not "whsec_" + base64.
std::optional<std::string> sign_webhook(std::string_view secret, std::string_view id,
                                        int64_t timestamp_s, std::string_view body);

} // namespace payengine::channels
