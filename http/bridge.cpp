#include "http/bridge.hpp"

namespace payengine::http {
namespace {

/// An asker: runs each job, which makes one request and leaves its handler
/// behind; CAF runs that handler for the reply or the deadline. Nothing a
/// job throws reaches CAF (which would end the asker): the job's handler is
/// then never set, and its answer says request_timeout as it goes.
/// (`slot` is only there because CAF 0.17 binds a reference to a null tuple
/// for a spawned function without arguments; UBSan reports it.)
caf::behavior asker_impl(caf::event_based_actor* self, size_t slot) {
  return {[self, slot](ask_job& job) {
    try {
      job.run(self);
    } catch (const std::exception& e) {
      logging::error("http.ask_failed", {{"asker", slot}, {"error", e.what()}});
    } catch (...) {
      logging::error("http.ask_failed", {{"asker", slot}, {"error", "unknown exception"}});
    }
  }};
}

} // namespace

std::shared_ptr<asker_pool> asker_pool::make(caf::actor_system& sys, size_t count) {
  std::shared_ptr<asker_pool> pool{new asker_pool(sys)};
  std::vector<caf::actor> askers;
  for (size_t i = 0; i < std::max<size_t>(1, count); ++i)
    askers.push_back(pool->spawn_asker(i));
  std::lock_guard<std::mutex> guard{pool->mx_};
  pool->askers_ = std::move(askers);
  return pool;
}

caf::actor asker_pool::spawn_asker(size_t slot) {
  auto asker = sys_.spawn<caf::hidden>(asker_impl, slot);
  asker->attach_functor([weak = weak_from_this(), slot](const caf::error& reason) {
    if (auto pool = weak.lock())
      pool->replace(slot, reason);
  });
  return asker;
}

void asker_pool::replace(size_t slot, const caf::error& reason) {
  std::lock_guard<std::mutex> guard{mx_};
  if (stopped_ || slot >= askers_.size())
    return;
  logging::error("http.asker_replaced", {{"asker", slot}, {"reason", caf::to_string(reason)}});
  askers_[slot] = spawn_asker(slot);
  replaced_++;
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
  // Outside the lock: a job that reaches an asker already gone (its stop
  // or its death racing this send) is dropped on this thread, and its
  // answer (request_timeout) runs here; that answer may ask again.
  caf::anon_send(to, std::move(job));
  return true;
}

void asker_pool::stop(std::chrono::milliseconds wait) {
  std::vector<caf::actor> askers;
  {
    std::lock_guard<std::mutex> guard{mx_};
    stopped_ = true;
    askers.swap(askers_);
  }
  if (askers.empty())
    return;
  if (wait <= std::chrono::milliseconds{0}) {
    for (auto& a : askers)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    return;
  }
  caf::scoped_actor self{sys_, true};
  for (auto& a : askers) {
    self->monitor(a);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  bool late = false;
  for (size_t down = 0; down < askers.size() && !late;)
    self->receive([&](const caf::down_msg&) { ++down; }, caf::after(wait) >> [&] { late = true; });
  if (late)
    logging::warn("http.askers_slow_to_stop", {{"waited_ms", wait.count()}});
}

size_t asker_pool::size() const {
  std::lock_guard<std::mutex> guard{mx_};
  return askers_.size();
}

uint64_t asker_pool::replaced() const {
  std::lock_guard<std::mutex> guard{mx_};
  return replaced_;
}

} // namespace payengine::http
