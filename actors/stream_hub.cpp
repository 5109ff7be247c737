#include "actors/stream_hub.hpp"

#include <algorithm>

namespace payengine {

bool stream_hub::client::next(std::vector<frame>& out, uint64_t& dropped,
                              std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> guard{mtx_};
  cv_.wait_for(guard, wait, [this] { return closed_ || !buffer_.empty(); });
  out.assign(std::make_move_iterator(buffer_.begin()), std::make_move_iterator(buffer_.end()));
  buffer_.clear();
  dropped = dropped_;
  dropped_ = 0;
  return !closed_;
}

bool stream_hub::client::push(const frame& f) {
  bool dropped = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (buffer_.size() >= buffer_max_) {
      buffer_.pop_front();
      dropped_++;
      dropped = true;
    }
    buffer_.push_back(f);
  }
  cv_.notify_one();
  return dropped;
}

void stream_hub::client::close() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
  }
  cv_.notify_all();
}

stream_hub::stream_hub(size_t clients_max, size_t buffer_max)
  : clients_max_(clients_max), buffer_max_(std::max<size_t>(1, buffer_max)) {
  // nop
}

std::shared_ptr<stream_hub::client> stream_hub::subscribe() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_ || clients_.size() >= clients_max_)
    return nullptr;
  std::shared_ptr<client> c{new client(buffer_max_)};
  clients_.push_back(c);
  clients_count_.store(static_cast<uint32_t>(clients_.size()), std::memory_order_relaxed);
  return c;
}

void stream_hub::unsubscribe(const std::shared_ptr<client>& c) {
  std::lock_guard<std::mutex> guard{mtx_};
  clients_.erase(std::remove(clients_.begin(), clients_.end(), c), clients_.end());
  clients_count_.store(static_cast<uint32_t>(clients_.size()), std::memory_order_relaxed);
}

void stream_hub::publish(const std::string& event, const std::string& data) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_)
    return;
  auto id = next_id_++;
  published_.fetch_add(1, std::memory_order_relaxed);
  auto f = std::make_shared<const std::string>("id: " + std::to_string(id) + "\nevent: " + event
                                               + "\ndata: " + data + "\n\n");
  for (auto& c : clients_)
    if (c->push(f))
      dropped_total_.fetch_add(1, std::memory_order_relaxed);
}

void stream_hub::close() {
  std::lock_guard<std::mutex> guard{mtx_};
  closed_ = true;
  for (auto& c : clients_)
    c->close();
}

} // namespace payengine
