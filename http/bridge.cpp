#include "http/bridge.hpp"

namespace payengine::http {
namespace {

/// An asker: runs each job, which makes one request and leaves its handler
/// behind; CAF runs that handler for the reply or the deadline.
caf::behavior asker_impl(caf::event_based_actor* self) {
  return {[self](ask_job& job) {
    try {
      job.run(self);
    } catch (const std::exception& e) { // sending failed: the handler is not set
      logging::error("http.ask_failed", {{"error", e.what()}});
    }
  }};
}

} // namespace

asker_pool::asker_pool(caf::actor_system& sys, size_t count) {
  for (size_t i = 0; i < std::max<size_t>(1, count); ++i)
    askers_.push_back(sys.spawn<caf::hidden>(asker_impl));
}

asker_pool::~asker_pool() {
  stop();
}

bool asker_pool::post(ask_job job) {
  caf::actor to;
  {
    std::lock_guard<std::mutex> guard{mx_};
    if (askers_.empty())
      return false;
    to = askers_[next_++ % askers_.size()];
  }
  caf::anon_send(to, std::move(job));
  return true;
}

void asker_pool::stop() {
  std::vector<caf::actor> askers;
  {
    std::lock_guard<std::mutex> guard{mx_};
    askers.swap(askers_);
  }
  for (auto& a : askers)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

size_t asker_pool::size() const {
  std::lock_guard<std::mutex> guard{mx_};
  return askers_.size();
}

} // namespace payengine::http
