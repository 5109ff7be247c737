// application/x-www-form-urlencoded (channels/form.hpp): the decoder that
// every channel notification and simulator request goes through.
#include "channels/form.hpp"
#include "channels/limits.hpp"
#include "fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace payengine::channels;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // Encoding any bytes is reversible, and the encoding is plain ASCII.
  auto encoded = percent_encode(text);
  for (char c : encoded)
    FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '&' && c != '=');
  auto decoded = percent_decode(encoded, true);
  FUZZ_CHECK(decoded && *decoded == text);
  if (auto raw = percent_decode(text, false))
    FUZZ_CHECK(raw->size() <= text.size());

  auto fields = form_decode(text);
  if (!fields)
    return 0;
  FUZZ_CHECK(text.size() <= limits::form_bytes_max);
  FUZZ_CHECK(fields->size() <= limits::form_params_max);
  for (const auto& [name, value] : *fields)
    FUZZ_CHECK(!name.empty());
  // What was decoded encodes to a body that decodes to the same fields.
  auto again = form_decode(form_encode(*fields));
  FUZZ_CHECK(again && *again == *fields);
  return 0;
}
