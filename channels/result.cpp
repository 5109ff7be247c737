#include "channels/result.hpp"

namespace payengine::channels {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::malformed_form: return "malformed_form";
    case errc::malformed_json: return "malformed_json";
    case errc::missing_field: return "missing_field";
    case errc::bad_field: return "bad_field";
    case errc::bad_amount: return "bad_amount";
    case errc::missing_signature: return "missing_signature";
    case errc::bad_signature: return "bad_signature";
    case errc::unsupported_sign_type: return "unsupported_sign_type";
    case errc::app_id_mismatch: return "app_id_mismatch";
    case errc::key_unreadable: return "key_unreadable";
    case errc::crypto_failure: return "crypto_failure";
    case errc::too_large: return "too_large";
  }
  return "unknown";
}

}  // namespace payengine::channels
