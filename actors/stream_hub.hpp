#pragma once
// The fan-out behind GET /admin/stream: the inspector publishes ready-made
// Server-Sent Events frames, each stream client drains its own bounded
// buffer on its HTTP thread. Publishing never waits for a client: when a
// client's buffer is full its oldest frames are dropped and counted, and
// the client is told so (it re-reads the state it missed).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace payengine {

class stream_hub {
public:
  using frame = std::shared_ptr<const std::string>;

  /// One subscriber's buffer.
  class client {
  public:
    /// Waits up to `wait` for frames; moves them into `out` and the number
    /// of frames dropped since the last call into `dropped`. False once the
    /// hub is closed.
    bool next(std::vector<frame>& out, uint64_t& dropped, std::chrono::milliseconds wait);

  private:
    friend class stream_hub;
    explicit client(size_t buffer_max) : buffer_max_(buffer_max) {}
    bool push(const frame& f); // true if the oldest frame was dropped for it
    void close();

    std::mutex mtx_;
    std::condition_variable cv_;
    std::deque<frame> buffer_;
    size_t buffer_max_;
    uint64_t dropped_ = 0;
    bool closed_ = false;
  };

  stream_hub(size_t clients_max, size_t buffer_max);

  /// A new client (it sees what is published from now on); nullptr when
  /// `clients_max` are connected or the hub is closed.
  std::shared_ptr<client> subscribe();
  void unsubscribe(const std::shared_ptr<client>& c);

  /// Formats `data` (one line of JSON) as an SSE frame of type `event` and
  /// hands it to every client.
  void publish(const std::string& event, const std::string& data);

  /// Wakes every client for good (shutdown).
  void close();

  bool closed() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return closed_;
  }
  bool has_clients() const { return clients_count_.load(std::memory_order_relaxed) > 0; }
  uint32_t clients() const { return clients_count_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_total_.load(std::memory_order_relaxed); }
  uint64_t published() const { return published_.load(std::memory_order_relaxed); }

private:
  mutable std::mutex mtx_;
  std::vector<std::shared_ptr<client>> clients_;
  size_t clients_max_;
  size_t buffer_max_;
  bool closed_ = false;
  uint64_t next_id_ = 1;
  std::atomic<uint32_t> clients_count_{0};
  std::atomic<uint64_t> dropped_total_{0};
  std::atomic<uint64_t> published_{0};
};

} // namespace payengine
