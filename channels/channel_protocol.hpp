#pragma once
// What a gateway (actors/gateway.cpp) needs from a payment channel's
// protocol, as plain code (no CAF, no I/O): turn a channel-neutral request
// (messages/gateway_messages.hpp) into the channel's signed request, and a
// channel's answer into a channel_reply. One implementation per channel
// (channels/alipay_protocol.hpp today; WeChat Pay v3 beside it later); the
// gateway picks one by its channel's name and keeps the retries, the
// breaker, the bucket and the workers to itself.

#include "channels/result.hpp"
#include "messages/gateway_messages.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace payengine::channels {

/// The four calls a gateway makes, whatever the channel.
enum class call_kind : uint8_t { open, query, close, refund };

/// HTTP header fields, in order, names as written.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// The value of header `name` (ASCII case-insensitive), empty if absent.
std::string_view header_value(const header_list& headers, std::string_view name);

/// One signed HTTP request, as a worker sends it (and resends unchanged).
struct signed_request {
  std::string method = "POST";
  /// Path and query after the gateway URL's origin ("/v3/pay/..."); empty:
  /// the gateway URL's own path (Alipay's single "/gateway.do").
  std::string path;
  std::string content_type = "application/x-www-form-urlencoded;charset=utf-8";
  header_list headers; // e.g. Authorization, Accept
  std::string body;
};

/// A request checked and converted to the channel's terms, not yet signed.
struct outbound {
  call_kind kind = call_kind::open;
  std::string out_trade_no;
  int exponent = 2; // of the request's currency: reads the answer's amounts
  /// Signs the request, once it is admitted: what the gateway sends (and
  /// resends unchanged on every retry).
  std::function<result<signed_request>()> sign;
};

/// Either what to send, or the reply refusing the request up front, unsent
/// (what the channel would refuse anyway).
using prepared = std::variant<outbound, channel_reply>;

/// What the gateway remembers of a call when an answer comes back.
struct call_facts {
  call_kind kind = call_kind::open;
  std::string_view out_trade_no;
  int exponent = 2;
};

/// One HTTP exchange as a worker saw it. `status` 0: no HTTP answer at all
/// (`transport_error` says why).
struct exchange {
  int status = 0;
  std::string_view body;
  std::string_view transport_error;
  /// The answer's header fields (with status != 0); may be null.
  const header_list* headers = nullptr;
  /// With status 0: the same request would fail the same way (a forbidden
  /// address, an oversized answer), so it is not retried.
  bool final = false;
};

/// What one attempt's answer means.
struct verdict {
  bool healthy = false; // the channel answered usably (for the breaker)
  bool retry = false;   // send the same request again, later
  channel_reply reply;  // the answer when not retried; reason set either way
};

/// The exponent `currency` is settled in (2 for CNY), or nothing if this
/// channel does not settle it (`settled`: its configured currencies).
std::optional<int> settled_exponent(const std::string& currency,
                                    const std::vector<std::string>& settled);

/// An HTTP status worth the same request again (5xx, 408, 429).
bool retryable_status(int status);

/// A reply with `outcome` and `reason`, nothing else known.
channel_reply reply_of(channel_outcome outcome, std::string reason = {});

/// The channel answered: `r` is the answer (healthy, final).
verdict answered(channel_reply r);
/// No usable answer that another try may fix (transport, 5xx, "busy").
verdict try_again(std::string why);
/// An answer that cannot be trusted or read: not retried, nothing known.
verdict unusable(std::string why);

/// One channel's protocol. Implementations are immutable after
/// construction (keys, ids, currencies), so a gateway may call them freely.
class channel_protocol {
public:
  virtual ~channel_protocol() = default;

  virtual prepared prepare(const open_trade& x) const = 0;
  virtual prepared prepare(const query_trade& x) const = 0;
  virtual prepared prepare(const close_trade& x) const = 0;
  virtual prepared prepare(const refund_trade& x) const = 0;

  /// The meaning of one HTTP exchange made for `call`.
  virtual verdict judge(const call_facts& call, const exchange& answer) const = 0;

  /// The channel's name of a call, for logs ("alipay.trade.precreate").
  virtual std::string_view method_of(call_kind kind) const = 0;
};

} // namespace payengine::channels
