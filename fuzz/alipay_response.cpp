// Alipay OpenAPI responses (channels/alipay_response.hpp): the splitting
// and signature check of the raw text for every method, then the typed
// reading of a body (which the fuzzer could never reach through a
// signature it cannot forge).
#include "channels/alipay_request.hpp"
#include "channels/alipay_response.hpp"
#include "channels/limits.hpp"
#include "fuzz/fuzz_check.hpp"
#include "tests/channels/test_keys.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace payengine;
using namespace payengine::channels;
using namespace payengine::channels::alipay;

namespace {

/// Nothing verifies without the private key, which the input never sees.
template <class T>
void check_refused(const result<T>& r) {
  FUZZ_CHECK(!r);
  FUZZ_CHECK(r.error().code != errc::app_id_mismatch);
}

void check_split(std::string_view text, std::string_view method) {
  auto parts = split_signed_response(text, method);
  if (parts) {
    // The body is a view into the input: what is verified is what is parsed.
    FUZZ_CHECK(parts->body.data() >= text.data()
               && parts->body.data() + parts->body.size() <= text.data() + text.size());
    FUZZ_CHECK(!parts->body.empty());
    FUZZ_CHECK(!parts->sign.empty());
  } else {
    FUZZ_CHECK(parts.error().code != errc::bad_signature);
  }
}

template <class T>
const reply_head* head_of(const result<T>& r) {
  if (!r)
    return nullptr;
  FUZZ_CHECK(!r->head.code.empty());
  return r->head.ok() ? &r->head : nullptr;
}

void check_reads(std::string_view body) {
  head_of(read_precreate_response(body));
  head_of(read_close_response(body));
  auto query = read_query_response(body);
  if (head_of(query)) {
    FUZZ_CHECK(query->status && query->total_amount && *query->total_amount >= 0);
    FUZZ_CHECK(!query->receipt_amount || *query->receipt_amount >= 0);
    FUZZ_CHECK(!query->trade_no.empty() && !query->out_trade_no.empty());
  }
  auto refund = read_refund_response(body);
  if (head_of(refund))
    FUZZ_CHECK(refund->refund_fee && *refund->refund_fee >= 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Built once: an RSA key pair takes a while (tests/channels/test_keys.hpp).
  static const public_key& channel_key = test::channel_public();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto method : {methods::precreate, methods::query, methods::close, methods::refund})
    check_split(text, method);
  // One RSA check per input (the expensive part): split, verify, read.
  check_refused(parse_query_response(text, channel_key));
  // The reading step, on the whole input and on the split-out body.
  check_reads(text);
  if (auto parts = split_signed_response(text, methods::query))
    check_reads(parts->body);
  return 0;
}
