#pragma once
// Shared by the sweeping actors (expiry sweeper, reconciler): one command to
// each of many orders, each through its registry shard, and one callback
// once every order has answered or failed. Keeps a sweep's work bounded:
// the next sweep starts only after the last answer.
//
// A sweep is background work, so it keeps only a window of commands in
// flight (sweep_window): the next goes when one answers. Sent all at once,
// a sweep's 2,000 expiries stood in the scheduler's queue and the writers'
// queues ahead of live requests: while 29,000 orders created in a burst
// expired, another merchant's creates were refused 28 % of the time
// (docs/benchmarks.md, "Background sweeps in a window"). Each command's
// timeout also starts when it is sent, not when the sweep began.

#include "config/logging.hpp"
#include "messages/ids.hpp"
#include "messages/interfaces.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace payengine {

/// Commands a sweep keeps in flight at most.
constexpr size_t sweep_window = 16;

namespace fan_out_detail {

template <class Shard, class Make>
struct run {
  std::vector<Shard> shards;
  std::vector<std::string> ids;
  std::chrono::milliseconds timeout;
  const char* what;
  Make make;
  std::function<void()> done;
  size_t sent = 0;
  size_t answered = 0;
};

template <class Self, class Run>
void send_next(Self self, std::shared_ptr<Run> r);

template <class Self, class Run>
void on_answer(Self self, const std::shared_ptr<Run>& r) {
  if (++r->answered == r->ids.size())
    r->done();
  else
    send_next(self, r);
}

template <class Self, class Run>
void send_next(Self self, std::shared_ptr<Run> r) {
  if (r->sent == r->ids.size())
    return;
  const auto& id = r->ids[r->sent++];
  const auto& shard = r->shards[shard_index(id, static_cast<uint32_t>(r->shards.size()))];
  self->request(shard, r->timeout, r->make(id))
    .then([self, r](const order_reply&) { on_answer(self, r); },
          [self, r, id](caf::error& err) {
            logging::warn(r->what, {{"order_id", id}, {"error", to_string(err)}});
            on_answer(self, r);
          });
}

} // namespace fan_out_detail

/// `make(id)` builds the command; `done()` runs after the last answer. At
/// most `window` commands are in flight at once.
template <class Self, class Shard, class Make>
void fan_out_to_orders(Self self, const std::vector<Shard>& shards, std::vector<std::string> ids,
                       std::chrono::milliseconds timeout, const char* what, Make make,
                       std::function<void()> done, size_t window = sweep_window) {
  if (ids.empty()) {
    done();
    return;
  }
  using run_type = fan_out_detail::run<Shard, Make>;
  auto r = std::make_shared<run_type>(
    run_type{shards, std::move(ids), timeout, what, std::move(make), std::move(done)});
  for (size_t n = std::max<size_t>(1, window); n > 0 && r->sent < r->ids.size(); --n)
    fan_out_detail::send_next(self, r);
}

} // namespace payengine
