// Fulfillment updates from RabbitMQ (broker/fulfillment_update.hpp): any
// body either applies, with every field within its rules, or is refused
// with one of the reason codes the dead queue's header carries.
#include "broker/fulfillment_update.hpp"
#include "fuzz/fuzz_check.hpp"
#include "messages/ids.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace payengine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body{reinterpret_cast<const char*>(data), size};
  auto parsed = broker::parse_fulfillment_update(body);
  if (auto* refused = std::get_if<broker::update_refused>(&parsed)) {
    static const char* codes[] = {"too_large", "bad_json", "invalid_order_id",
                                  "invalid_merchant_id", "invalid_stage", "invalid_detail"};
    FUZZ_CHECK(std::any_of(std::begin(codes), std::end(codes),
                           [&](const char* c) { return refused->code == c; }));
    FUZZ_CHECK(!refused->message.empty());
    return 0;
  }
  const auto& u = std::get<broker::fulfillment_update>(parsed);
  FUZZ_CHECK(size <= broker::fulfillment_body_max_bytes);
  FUZZ_CHECK(well_formed_id(u.order_id, "ord"));
  FUZZ_CHECK(well_formed_id(u.merchant_id, "mch"));
  FUZZ_CHECK(u.stage == fulfillment_stage::produced || u.stage == fulfillment_stage::shipped
             || u.stage == fulfillment_stage::delivered);
  FUZZ_CHECK(u.detail.find('\0') == std::string::npos);
  FUZZ_CHECK(u.detail.size() <= 4 * broker::fulfillment_detail_max_chars);
  return 0;
}
