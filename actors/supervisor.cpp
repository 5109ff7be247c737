#include "actors/supervisor.hpp"

#include "actors/engine.hpp"
#include "config/logging.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

namespace payengine {

namespace {

using supervisor_self = caf::stateful_actor<supervisor_state>*;

void watch_all(supervisor_self self, const engine_handles& h) {
  auto& st = self->state;
  st.children.clear();
  for (auto& [name, actor] : h.children()) {
    self->monitor(actor);
    st.children.emplace(actor.address(), name);
  }
}

void tell_stream(supervisor_self self, const char* type, const std::string& actor,
                 const std::string& reason) {
  nlohmann::json e = {{"type", type}, {"actor", actor}, {"reason", reason},
                      {"at", to_rfc3339(now_us())}};
  self->state.settings.hub->publish("lifecycle", e.dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace));
}

/// Too many restarts too fast: something outside is broken (the database,
/// a bug on the start-up path). Restarting more would only spin.
bool restart_allowed(supervisor_self self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  auto window = std::chrono::milliseconds{st.settings.restart_window_ms};
  while (!st.recent_restarts.empty() && now - st.recent_restarts.front() > window)
    st.recent_restarts.pop_front();
  if (st.recent_restarts.size() >= st.settings.restarts_max)
    return false;
  st.recent_restarts.push_back(now);
  return true;
}

void on_child_down(supervisor_self self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto i = st.children.find(msg.source);
  if (i == st.children.end() || st.stopping)
    return; // a child of an older generation, or we are stopping
  auto child = i->second;
  auto reason = msg.reason ? to_string(msg.reason) : std::string{"stopped"};
  logging::error("engine.child_died", {{"child", child}, {"reason", reason}});
  tell_stream(self, "crash", child, reason);
  auto& dir = *st.settings.directory;
  auto old = dir.current();
  st.children.clear(); // the old generation's downs are expected from here on
  for (auto& [name, actor] : old->children())
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  if (!restart_allowed(self)) {
    dir.record_restart(child, reason, now_us(), true);
    logging::error("engine.gave_up", {{"child", child},
                                      {"restarts_max", st.settings.restarts_max},
                                      {"window_ms", st.settings.restart_window_ms}});
    tell_stream(self, "crash", "engine", "too many restarts: the engine stays down");
    return;
  }
  auto fresh = std::make_shared<engine_handles>(
    start_engine(self->system(), st.settings.cfg,
                 st.settings.channels, st.settings.hub, true,
                 st.settings.cluster));
  dir.replace(fresh);
  dir.record_restart(child, reason, now_us(), false);
  watch_all(self, *fresh);
  logging::warn("engine.restarted", {{"child", child}, {"reason", reason},
                                     {"restarts", dir.restarts().restarts}});
  tell_stream(self, "restart", "engine", "restarted from storage after " + child + " died");
}

} // namespace

caf::behavior supervisor_impl(supervisor_self self, supervisor_settings settings) {
  self->state.settings = std::move(settings);
  watch_all(self, *self->state.settings.directory->current());
  self->set_down_handler([=](caf::down_msg& msg) { on_child_down(self, msg); });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    st.stopping = true;
    if (auto current = st.settings.directory->current())
      for (auto& [name, actor] : current->children())
        self->send_exit(actor, caf::exit_reason::user_shutdown);
    self->quit(msg.reason);
  });
  return {
    // Its work is in the down and exit handlers; this answers who it watches.
    [=](info_atom) { return static_cast<uint32_t>(self->state.children.size()); },
  };
}

} // namespace payengine
