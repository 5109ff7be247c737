#include "channels/channel_protocol.hpp"

namespace payengine::channels {

channel_reply reply_of(channel_outcome outcome, std::string reason) {
  channel_reply r;
  r.outcome = outcome;
  r.reason = std::move(reason);
  return r;
}

verdict answered(channel_reply r) {
  return {true, false, std::move(r)};
}

verdict try_again(std::string why) {
  return {false, true, reply_of(channel_outcome::unavailable, std::move(why))};
}

verdict unusable(std::string why) {
  return {false, false, reply_of(channel_outcome::unavailable, std::move(why))};
}

} // namespace payengine::channels
