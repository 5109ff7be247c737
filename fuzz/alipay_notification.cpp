// Alipay's asynchronous notification (channels/alipay_notification.hpp):
// verify_notification on the raw body, as the callback route calls it,
// then the reading step on the decoded fields (which the fuzzer could never
// reach through a signature it cannot forge).
#include "channels/alipay_notification.hpp"
#include "channels/money_text.hpp"
#include "fuzz/fuzz_check.hpp"
#include "tests/channels/test_keys.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace payengine;
using namespace payengine::channels;
using namespace payengine::channels::alipay;

namespace {

constexpr std::string_view app_id = "2021000000000000";

/// An amount read back prints as the decimal that was sent, give or take
/// trailing zeros: reading it again gives the same minor units.
void check_amount(const params& fields, const char* name, std::optional<std::int64_t> minor) {
  auto it = fields.find(name);
  if (it == fields.end()) {
    FUZZ_CHECK(!minor);
    return;
  }
  FUZZ_CHECK(minor && *minor >= 0);
  auto text = minor_to_decimal(*minor, 2);
  FUZZ_CHECK(text && decimal_to_minor(*text, 2) == minor);
}

void check_read(const params& fields) {
  auto n = read_notification(fields, app_id);
  if (!n)
    return;
  FUZZ_CHECK(n->app_id == app_id);
  for (const auto* s : {&n->notify_id, &n->notify_time, &n->notify_type, &n->out_trade_no, &n->trade_no})
    FUZZ_CHECK(!s->empty());
  FUZZ_CHECK(to_string(n->status) == fields.find("trade_status")->second);
  check_amount(fields, "total_amount", n->total_amount);
  check_amount(fields, "receipt_amount", n->receipt_amount);
  check_amount(fields, "refund_fee", n->refund_fee);
  FUZZ_CHECK(!n->buyer_id || *n->buyer_id == fields.find("buyer_id")->second);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Built once: an RSA key pair takes a while (tests/channels/test_keys.hpp).
  static const public_key& channel_key = test::channel_public();
  std::string_view body(reinterpret_cast<const char*>(data), size);

  // Nobody can sign without the private key, which the input never sees.
  auto verified = verify_notification(body, channel_key, app_id);
  FUZZ_CHECK(!verified);
  FUZZ_CHECK(verified.error().code != errc::app_id_mismatch);

  auto fields = form_decode(body);
  if (!fields)
    return 0;
  FUZZ_CHECK(!verify_notification_signature(*fields, channel_key));
  check_read(*fields);
  return 0;
}
