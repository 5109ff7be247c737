#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "channels/channel_protocol.hpp"
#include "channels/result.hpp"
#include "channels/rsa_key.hpp"
#include "sim/config.hpp"

// The simulator's WeChat Pay identity: the platform key and serial it signs
// with, the merchant key and serial it verifies with, the APIv3 key that
// seals notification resources, and the one merchant (mchid, appid) it
// serves. Immutable once loaded; shared by every handler thread.
namespace payengine::sim {

struct wechat_keys {
  channels::private_key platform_key;
  std::string platform_serial;
  channels::public_key merchant_key;
  std::string merchant_serial;
  std::string apiv3_key;  // exactly 32 bytes
  std::string mch_id;
  std::string app_id;

  // Wechatpay-Timestamp/-Nonce/-Signature/-Serial for `body`, signed now
  // with a fresh nonce.
  [[nodiscard]] channels::result<channels::header_list> sign(std::string_view body) const;
};

// Nothing configured: nullopt (WeChat off). Otherwise the loaded keys, or
// one line saying which file is unusable.
[[nodiscard]] std::variant<std::optional<wechat_keys>, std::string> load_wechat_keys(const wechat_settings& s);

// The APIv3 key as WeChat's merchant platform shows it: the file's bytes,
// one trailing newline (an editor's) dropped; must then be 32 bytes.
[[nodiscard]] std::optional<std::string> read_apiv3_key(const std::string& path);

// `length` random characters from [0-9A-Za-z] (nonces, ids).
[[nodiscard]] std::string random_alnum(std::size_t length);
// A random version-4 UUID, as WeChat numbers its notifications.
[[nodiscard]] std::string random_uuid();

}  // namespace payengine::sim
