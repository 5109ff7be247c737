#pragma once
// The relay's bookkeeping, without I/O (actors/event_relay.cpp does the
// I/O): which unpublished events may be sent now, what is in flight under
// which confirm tag, what the broker confirmed and awaits its mark in
// PostgreSQL, and where the scan of the backlog stands.
//
// Order per order: at most one event of an order is in flight; the next one
// is sent only after the broker confirmed the previous one. A nack or a lost
// connection voids everything in flight and rewinds the scan, so the
// backlog is sent again in creation order (duplicates keep their message_id).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace payengine::broker {

class publish_window {
public:
  using clock = std::chrono::steady_clock;

  /// Events sent or awaiting their mark at most.
  explicit publish_window(uint32_t max) : max_(max) {}

  /// Whether the event may be sent now (there is room, it is neither in
  /// flight nor confirmed, and its order has nothing in flight).
  bool admits(const std::string& event_id, const std::string& order_id) const;
  bool full() const { return in_flight_.size() + confirmed_.size() >= max_; }

  /// Sent under confirm tag `tag` (tags only grow on one connection).
  void sent(uint64_t tag, const std::string& event_id, const std::string& order_id,
            clock::time_point at);
  /// A positive confirm of `tag` (and of every earlier tag with `multiple`):
  /// those events await their mark. Returns how many were confirmed.
  size_t confirmed(uint64_t tag, bool multiple);
  /// Everything in flight is void (nack, lost connection, confirm timeout);
  /// the scan starts over. What was confirmed stays confirmed.
  void void_in_flight();

  /// The confirmed events to mark published, at most `limit`.
  std::vector<std::string> to_mark(size_t limit) const;
  /// Those events are marked (or were published by someone else).
  void marked(const std::vector<std::string>& event_ids);

  /// When the oldest event in flight was sent.
  std::optional<clock::time_point> oldest_sent() const;
  size_t in_flight() const { return in_flight_.size(); }
  size_t awaiting_mark() const { return confirmed_.size(); }

  /// The scan of the backlog: the next page starts after this seq.
  int64_t scan_after() const { return scan_after_; }
  void scanned(int64_t seq) { scan_after_ = seq; }
  void rewind() { scan_after_ = 0; }

private:
  struct entry {
    std::string event_id;
    std::string order_id;
    clock::time_point sent_at;
  };
  void confirm_one(std::map<uint64_t, entry>::iterator i);

  uint32_t max_;
  std::map<uint64_t, entry> in_flight_; // by confirm tag
  std::unordered_set<std::string> sending_;       // event ids in flight
  std::unordered_set<std::string> orders_;        // orders with an event in flight
  std::unordered_set<std::string> confirmed_;     // event ids awaiting their mark
  int64_t scan_after_ = 0;
};

} // namespace payengine::broker
