#include "storage/failures.hpp"

namespace payengine::storage {

failure_kind classify_sqlstate(std::string_view state) {
  auto cls = state.substr(0, 2);
  // 22 data exception, 23 integrity constraint violation, 42 syntax error
  // or access rule violation, 2B/2D/25 transaction misuse: the request or
  // our SQL is wrong, not the moment.
  if (cls == "22" || cls == "23" || cls == "42" || cls == "2B" || cls == "2D" || cls == "25"
      || cls == "P0")
    return failure_kind::broken_invariant;
  // Everything else (08 connection, 40 rollback, 53 resources, 55 object
  // not in prerequisite state (lock_not_available), 57 operator
  // intervention (statement timeout, shutdown), 58 system error, XX
  // internal) says nothing about the request.
  return failure_kind::transient;
}

} // namespace payengine::storage
