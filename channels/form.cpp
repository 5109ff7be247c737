#include "channels/form.hpp"

#include "channels/limits.hpp"

namespace payengine::channels {
namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '*';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

result<std::pair<std::string, std::string>> decode_segment(std::string_view segment) {
  const auto equals = segment.find('=');
  const auto name = percent_decode(segment.substr(0, equals), true);
  const auto value = percent_decode(equals == std::string_view::npos ? std::string_view{} : segment.substr(equals + 1),
                                    true);
  if (!name || !value) return channel_error{errc::malformed_form, "malformed percent escape"};
  if (name->empty()) return channel_error{errc::malformed_form, "empty parameter name"};
  return std::make_pair(*name, *value);
}

}  // namespace

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (is_unreserved(byte)) {
      out += c;
    } else if (byte == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[byte >> 4];
      out += hex[byte & 0x0F];
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (text[i] != '%') {
      out += text[i];
    } else {
      if (i + 2 >= text.size()) return std::nullopt;  // truncated escape
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    }
  }
  return out;
}

std::string form_encode(const params& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += percent_encode(name);
    out += '=';
    out += percent_encode(value);
  }
  return out;
}

result<params> form_decode(std::string_view body) {
  if (body.size() > limits::form_bytes_max) return channel_error{errc::too_large, "form body too large"};
  params fields;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto segment = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (segment.empty()) continue;
    auto field = decode_segment(segment);
    if (!field) return field.error();
    if (fields.size() == limits::form_params_max) return channel_error{errc::too_large, "too many parameters"};
    auto [name, value] = std::move(field).value();
    if (fields.count(name) != 0) return channel_error{errc::malformed_form, "repeated parameter " + name};
    fields.emplace(std::move(name), std::move(value));
  }
  return fields;
}

}  // namespace payengine::channels
