#pragma once

#include <string>
#include <string_view>

#include "channels/form.hpp"
#include "channels/result.hpp"
#include "channels/rsa_key.hpp"

// The string Alipay signs: parameters sorted by name, `k=v` joined by '&',
// values as they are (not URL-encoded).
namespace payengine::channels::alipay {

inline constexpr std::string_view sign_type_rsa2 = "RSA2";

// Requests are signed without empty values; the notification verifier of
// Alipay's SDK includes every parameter present, empty or not.
enum class empty_values { skip, keep };

// All parameters except `sign`, and except `sign_type` unless
// `include_sign_type`.
[[nodiscard]] std::string canonical_string(const params& fields, bool include_sign_type,
                                           empty_values empties = empty_values::skip);

// `fields` plus `sign`, computed as Alipay expects of a request: over the
// canonical string with `sign_type` included and empty values skipped.
[[nodiscard]] result<params> sign_request_params(params fields, const private_key& key);

}  // namespace payengine::channels::alipay
