#include "broker/publish_window.hpp"

#include <stdexcept>

namespace payengine::broker {

bool publish_window::admits(const std::string& event_id, const std::string& order_id) const {
  return !full() && !sending_.count(event_id) && !confirmed_.count(event_id)
         && !orders_.count(order_id);
}

void publish_window::sent(uint64_t tag, const std::string& event_id, const std::string& order_id,
                          int64_t seq, clock::time_point at) {
  if (!admits(event_id, order_id) || (!in_flight_.empty() && in_flight_.rbegin()->first >= tag))
    throw std::logic_error("publish_window: " + event_id + " sent against the window's rules");
  in_flight_.emplace(tag, entry{event_id, order_id, seq, at});
  sending_.insert(event_id);
  orders_.insert(order_id);
}

void publish_window::confirm_one(std::map<uint64_t, entry>::iterator i) {
  sending_.erase(i->second.event_id);
  orders_.erase(i->second.order_id);
  confirmed_.emplace(std::move(i->second.event_id), i->second.seq);
  in_flight_.erase(i);
}

size_t publish_window::confirmed(uint64_t tag, bool multiple) {
  size_t n = 0;
  if (multiple) {
    while (!in_flight_.empty() && in_flight_.begin()->first <= tag) {
      confirm_one(in_flight_.begin());
      ++n;
    }
  } else if (auto i = in_flight_.find(tag); i != in_flight_.end()) {
    confirm_one(i);
    ++n;
  }
  return n;
}

void publish_window::void_in_flight() {
  in_flight_.clear();
  sending_.clear();
  orders_.clear();
  rewind();
}

std::vector<std::string> publish_window::to_mark(size_t limit) const {
  std::vector<std::string> out;
  for (const auto& [id, seq] : confirmed_) {
    if (out.size() >= limit)
      break;
    out.push_back(id);
  }
  return out;
}

void publish_window::marked(const std::vector<std::string>& event_ids) {
  for (const auto& id : event_ids)
    if (auto i = confirmed_.find(id); i != confirmed_.end()) {
      look_back(i->second); // the next event of its order (a later seq) may be ready now
      confirmed_.erase(i);
    }
}

bool publish_window::at_tail() {
  if (back_to_ == 0)
    return false;
  scan_after_ = back_to_ - 1;
  back_to_ = 0;
  return true;
}

std::optional<publish_window::clock::time_point> publish_window::oldest_sent() const {
  if (in_flight_.empty())
    return std::nullopt;
  return in_flight_.begin()->second.sent_at;
}

} // namespace payengine::broker
