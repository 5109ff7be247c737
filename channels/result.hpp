#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace payengine::channels {

// Why a channel exchange was refused. The numbers are permanent: callers
// may log or store them.
enum class errc : int {
  malformed_form = 1,         // not application/x-www-form-urlencoded
  malformed_json = 2,         // not JSON, or not the expected shape
  missing_field = 3,          // a required parameter or member is absent
  bad_field = 4,              // a parameter has a value outside its domain
  bad_amount = 5,             // an amount is not a valid decimal / minor count
  missing_signature = 6,      // no `sign`
  bad_signature = 7,          // `sign` does not verify
  unsupported_sign_type = 8,  // `sign_type` other than RSA2
  app_id_mismatch = 9,        // signed, but for another app
  key_unreadable = 10,        // PEM file or text could not be loaded
  crypto_failure = 11,        // OpenSSL refused an operation
  too_large = 12,             // input over the limits in limits.hpp
};

[[nodiscard]] std::string_view to_string(errc code) noexcept;

struct channel_error {
  errc code;
  std::string detail;  // for logs only; never parsed
};

// A value or the reason there is none. Reading the wrong side is a bug and
// throws std::bad_variant_access.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  result(channel_error err) : data_(std::in_place_index<1>, std::move(err)) {}

  [[nodiscard]] bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & { return std::get<0>(data_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(data_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const channel_error& error() const { return std::get<1>(data_); }

 private:
  std::variant<T, channel_error> data_;
};

// The first failed check of a sequence; every check has been evaluated.
[[nodiscard]] inline std::optional<channel_error> first_error(
    std::initializer_list<std::optional<channel_error>> checks) {
  for (const auto& check : checks) {
    if (check) return check;
  }
  return std::nullopt;
}

}  // namespace payengine::channels
