#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

// Every bound of the simulator, in one place.
namespace payengine::sim::limits {

using namespace std::chrono_literals;

// Handler pool; each open keep-alive connection holds one thread.
inline constexpr std::size_t http_threads = 512;
// Pending connections; cpp-httplib's own backlog of 5 drops bursts.
inline constexpr int listen_backlog = 1024;
inline constexpr std::size_t request_bytes_max = 64 * 1024;
inline constexpr std::size_t notify_senders = 32;      // threads delivering notifications (a real channel sends many at once)
inline constexpr auto notify_connect_timeout = 2s;
inline constexpr auto notify_read_timeout = 5s;
// Alipay's schedule after the first, immediate attempt (8 attempts in ~25 h).
inline constexpr std::array<std::chrono::seconds, 7> notify_retry_delays{4min, 10min, 10min, 1h, 2h, 6h, 15h};
// WeChat Pay's schedule after the first, immediate attempt (16 attempts in ~24 h).
inline constexpr std::array<std::chrono::seconds, 15> wechat_notify_retry_delays{
    15s, 15s, 30s, 3min, 10min, 20min, 30min, 30min, 30min, 60min, 3h, 3h, 3h, 6h, 6h};
// A notification held back for `reorder_notify` goes out after the next
// one, or after this long if no other comes.
inline constexpr auto reorder_hold_max = 2s;
inline constexpr std::size_t trades_max = 100'000;
inline constexpr std::size_t sms_messages_max = 100'000;
inline constexpr std::size_t sms_text_chars_max = 1'000;
inline constexpr std::size_t sms_id_chars_max = 255;
inline constexpr long fault_latency_ms_max = 60'000;
// How long a `timeout_rate` fault holds the answer back: longer than any
// sane client timeout, bounded so the handler thread comes back.
inline constexpr long fault_timeout_ms_default = 30'000;
inline constexpr long fault_timeout_ms_max = 120'000;

// WeChat Pay v3 request fields, as its documentation bounds them.
inline constexpr std::size_t wechat_nonce_chars = 32;        // Wechatpay-Nonce
inline constexpr std::size_t wechat_resource_nonce_chars = 12;  // the AES-GCM nonce of a notification
inline constexpr std::size_t apiv3_key_bytes = 32;
inline constexpr std::size_t wechat_out_trade_no_chars_min = 6;
inline constexpr std::size_t wechat_out_trade_no_chars_max = 32;
inline constexpr std::size_t wechat_out_refund_no_chars_max = 64;
inline constexpr std::size_t wechat_description_chars_max = 127;  // bytes of UTF-8, as WeChat counts
inline constexpr std::size_t wechat_attach_chars_max = 128;
inline constexpr std::size_t wechat_reason_bytes_max = 80 * 4;  // 80 characters of UTF-8
inline constexpr std::size_t wechat_url_chars_max = 255;
inline constexpr std::int64_t wechat_total_max = 1'000'000'000'000;  // fen; API.md's bound on amounts

}  // namespace payengine::sim::limits
