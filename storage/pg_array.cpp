#include "storage/pg_array.hpp"

namespace payengine::storage {

void pg_array::separator() {
  if (body_.size() > 1)
    body_ += ',';
}

pg_array& pg_array::add(std::string_view text) {
  separator();
  body_ += '"';
  for (char c : text) {
    if (c == '"' || c == '\\')
      body_ += '\\';
    body_ += c;
  }
  body_ += '"';
  return *this;
}

pg_array& pg_array::add(int64_t number) {
  separator();
  body_ += std::to_string(number);
  return *this;
}

} // namespace payengine::storage
