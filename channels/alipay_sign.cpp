#include "channels/alipay_sign.hpp"

namespace payengine::channels::alipay {

std::string canonical_string(const params& fields, bool include_sign_type, empty_values empties) {
  std::string out;
  for (const auto& [name, value] : fields) {  // std::map: already in byte order of names
    if (name == "sign" || (name == "sign_type" && !include_sign_type)) continue;
    if (value.empty() && empties == empty_values::skip) continue;
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

result<params> sign_request_params(params fields, const private_key& key) {
  fields.erase("sign");
  auto signature = key.sign(canonical_string(fields, true));
  if (!signature) return signature.error();
  fields["sign"] = std::move(signature).value();
  return fields;
}

}  // namespace payengine::channels::alipay
