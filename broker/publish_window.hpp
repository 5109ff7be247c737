#pragma once
// The relay's bookkeeping, without I/O (actors/event_relay.cpp does the
// I/O): which unpublished events may be sent now, what is in flight under
// which confirm tag, what the broker confirmed and awaits its record in
// PostgreSQL, and where the scan of the backlog stands.
//
// Order per order: at most one event of an order is in flight (and the
// relay's query offers an event only when every earlier one of its order is
// recorded published). A nack or a lost connection voids everything in
// flight and rewinds the scan, so the backlog is sent again in creation
// order (duplicates keep their message_id).
//
// The scan: it follows the tail of the backlog; it goes back to the oldest
// event it had to pass over (its order busy) or whose order may have a next
// event ready (just recorded), and from the start on a full rescan (the
// relay asks for one every second: events that committed late, shards this
// node just took).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace payengine::broker {

class publish_window {
public:
  using clock = std::chrono::steady_clock;

  /// Events sent or awaiting their record at most.
  explicit publish_window(uint32_t max) : max_(max) {}

  /// Whether the event may be sent now (there is room, it is neither in
  /// flight nor confirmed, and its order has nothing in flight).
  bool admits(const std::string& event_id, const std::string& order_id) const;
  bool full() const { return in_flight_.size() + confirmed_.size() >= max_; }
  /// Whether the event is in flight or confirmed (not to be sent again).
  bool holds(const std::string& event_id) const {
    return sending_.count(event_id) || confirmed_.count(event_id);
  }

  /// Sent under confirm tag `tag` (tags only grow on one connection).
  void sent(uint64_t tag, const std::string& event_id, const std::string& order_id, int64_t seq,
            clock::time_point at);
  /// A positive confirm of `tag` (and of every earlier tag with `multiple`):
  /// those events await their record. Returns how many were confirmed.
  size_t confirmed(uint64_t tag, bool multiple);
  /// Everything in flight is void (nack, lost connection, confirm timeout);
  /// the scan starts over. What was confirmed stays confirmed.
  void void_in_flight();

  /// The confirmed events to record published, at most `limit`.
  std::vector<std::string> to_mark(size_t limit) const;
  /// Those events are recorded: the next event of their orders may be ready.
  void marked(const std::vector<std::string>& event_ids);

  /// When the oldest event in flight was sent.
  std::optional<clock::time_point> oldest_sent() const;
  size_t in_flight() const { return in_flight_.size(); }
  size_t awaiting_mark() const { return confirmed_.size(); }

  // --- the scan -----------------------------------------------------------
  /// The next page starts after this seq.
  int64_t scan_after() const { return scan_after_; }
  void scanned(int64_t seq) { scan_after_ = seq; }
  /// The event at `seq` was passed over for now (its order is busy).
  void passed_over(int64_t seq) { look_back(seq); }
  /// The scan reached the tail: it goes back where something may be ready
  /// (true), or waits at the tail for new events (false).
  bool at_tail();
  /// A full rescan from the oldest unpublished event.
  void rewind() {
    scan_after_ = 0;
    back_to_ = 0;
  }

private:
  struct entry {
    std::string event_id;
    std::string order_id;
    int64_t seq = 0;
    clock::time_point sent_at;
  };
  void confirm_one(std::map<uint64_t, entry>::iterator i);
  void look_back(int64_t seq) {
    if (back_to_ == 0 || seq < back_to_)
      back_to_ = seq;
  }

  uint32_t max_;
  std::map<uint64_t, entry> in_flight_; // by confirm tag
  std::unordered_set<std::string> sending_;            // event ids in flight
  std::unordered_set<std::string> orders_;             // orders with an event in flight
  std::unordered_map<std::string, int64_t> confirmed_; // event id -> seq, awaiting the record
  int64_t scan_after_ = 0;
  int64_t back_to_ = 0; // 0: nothing to go back for
};

} // namespace payengine::broker
