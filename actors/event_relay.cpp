#include "actors/event_relay.hpp"
#include "actors/thread_name.hpp"

#include "config/logging.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <stdexcept>

namespace payengine {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint32_t page_max = 256;       // events read per query
constexpr uint32_t pages_per_step = 4;   // then the mailbox is read again
constexpr uint32_t relay_frames_per_step = 4'096;
constexpr uint64_t lag_count_max = 10'000'000;
// The scan follows the tail; once a second it starts from the oldest
// unpublished event (events that committed after later ones, shards this
// node just took, events of other nodes' shards are met only then).
constexpr milliseconds full_scan_every{1'000};

void publish_status(event_relay_self self) {
  auto& st = self->state;
  st.info.connected = st.conn != nullptr;
  st.info.in_flight = static_cast<uint32_t>(st.window.in_flight());
  st.info.awaiting_mark = static_cast<uint32_t>(st.window.awaiting_mark());
  if (st.settings.status)
    st.settings.status->set(st.info);
}

/// A broker or database failure: logged, shown, and the next try backs off.
void failed(event_relay_self self, const char* what, const std::string& error) {
  auto& st = self->state;
  auto wait_ms = st.backoff.failed();
  st.retry_at = clock::now() + milliseconds{wait_ms};
  // Repeats of the same failure are logged at the cap only, not every try.
  if (error != st.info.last_error || st.backoff.at_cap())
    logging::warn(what, {{"error", error}, {"retry_in_ms", wait_ms},
                         {"in_flight", st.window.in_flight()}});
  st.info.last_error = error;
  st.info.last_error_at = now_us();
}

/// The connection is gone (or is given up): what was in flight is sent again.
void drop_connection(event_relay_self self, const std::string& why) {
  auto& st = self->state;
  st.conn.reset();
  st.window.void_in_flight();
  failed(self, "relay.broker_lost", why);
}

bool connect(event_relay_self self) {
  auto& st = self->state;
  if (clock::now() < st.retry_at)
    return false;
  auto opened = broker::amqp_connection::open(st.settings.endpoint, st.settings.limits,
                                              [](broker::amqp_connection& c) {
                                                auto err = c.declare_exchange(events_exchange, "topic");
                                                return err.empty() ? c.confirm_select() : err;
                                              });
  if (auto* err = std::get_if<std::string>(&opened)) {
    failed(self, "relay.connect_failed", *err);
    return false;
  }
  st.conn = std::move(std::get<0>(opened));
  st.window.void_in_flight(); // nothing is in flight on a new connection; scan from the start
  st.backoff.succeeded();
  st.info.reconnects += st.opened_once ? 1 : 0;
  st.opened_once = true;
  logging::info("relay.connected", {{"broker", st.info.broker}});
  return true;
}

/// Confirmed events are recorded published (one statement).
void mark(event_relay_self self) {
  auto& st = self->state;
  auto ids = st.window.to_mark(st.settings.in_flight_max);
  if (ids.empty())
    return;
  if (!st.store->mark_published(ids)) {
    failed(self, "relay.mark_failed", st.store->error());
    return; // kept: marked at the next step
  }
  st.window.marked(ids);
  st.info.published += ids.size();
}

bool owned(event_relay_self self, const std::string& order_id) {
  const auto& cluster = self->state.settings.cluster;
  return !cluster || cluster->owns_order(order_id);
}

/// Sends what the window admits, a few pages of the backlog at most.
/// Returns whether more may be sent at once (the backlog goes on and the
/// window has room); false when it is full (confirms first) or at its end.
bool send_some(event_relay_self self) {
  auto& st = self->state;
  for (uint32_t page = 0; page < pages_per_step; ++page) {
    if (st.window.full())
      return false;
    auto rows = st.store->unpublished(st.window.scan_after(), page_max);
    if (!rows) {
      failed(self, "relay.read_failed", st.store->error());
      return false;
    }
    for (const auto& e : *rows) {
      if (st.window.full())
        return false; // the scan resumes at this event once confirms make room
      if (e.seq <= st.window.scan_after())
        throw std::logic_error("relay: the backlog came back out of order at " + e.id);
      st.window.scanned(e.seq);
      if (!owned(self, e.order_id) || st.window.holds(e.id))
        continue;
      if (!st.window.admits(e.id, e.order_id)) {
        st.window.passed_over(e.seq); // its order has an event in flight
        continue;
      }
      broker::amqp_properties props;
      props.message_id = e.id;
      props.type = e.type;
      if (auto err = st.conn->publish(events_exchange, routing_key_of(e.merchant_id, e.type), e.body, props);
          !err.empty()) {
        drop_connection(self, err);
        return false;
      }
      st.window.sent(st.conn->published(), e.id, e.order_id, e.seq, clock::now());
    }
    // At the tail: back to what may be ready now, else wait for new events.
    if (rows->size() < page_max && !st.window.at_tail())
      return false;
  }
  return true;
}

/// Reads confirms: waits up to `wait_ms` for the first, then takes what has
/// arrived. Returns false if the connection was dropped.
bool read_confirms(event_relay_self self, uint32_t wait_ms) {
  auto& st = self->state;
  for (uint32_t i = 0; i < relay_frames_per_step; ++i) {
    auto ev = st.conn->next(i == 0 ? wait_ms : 0);
    if (std::holds_alternative<broker::amqp_idle>(ev))
      break;
    if (auto* broken = std::get_if<broker::amqp_broken>(&ev)) {
      drop_connection(self, broken->reason);
      return false;
    }
    if (auto* c = std::get_if<broker::amqp_confirm>(&ev)) {
      if (!c->ack) {
        // The broker could not take it. Sending it again alone could put it
        // behind a later event of its order: start over from the backlog.
        st.info.nacked++;
        drop_connection(self, "the broker refused (nack) confirm tag " + std::to_string(c->tag));
        return false;
      }
      st.window.confirmed(c->tag, c->multiple);
    }
  }
  if (auto oldest = st.window.oldest_sent();
      oldest && clock::now() - *oldest > milliseconds{st.settings.confirm_timeout_ms}) {
    st.info.confirm_timeouts++;
    drop_connection(self, "no confirm within " + std::to_string(st.settings.confirm_timeout_ms) + " ms");
    return false;
  }
  return true;
}

void refresh_lag(event_relay_self self) {
  auto& st = self->state;
  if (clock::now() < st.lag_due)
    return;
  st.lag_due = clock::now() + milliseconds{st.settings.lag_interval_ms};
  if (auto lag = st.store->lag(lag_count_max)) {
    st.info.unpublished = lag->unpublished;
    st.info.oldest_unpublished_at = lag->oldest_created_at;
    st.info.lag_checked_at = now_us();
  }
}

milliseconds until(clock::time_point t) {
  auto now = clock::now();
  return t > now ? std::chrono::duration_cast<milliseconds>(t - now) : milliseconds{0};
}

/// Whether confirmed events are to be recorded now: at most once a poll
/// (each record is a transaction), sooner when the window needs the room.
bool mark_due(event_relay_self self) {
  auto& st = self->state;
  return st.window.awaiting_mark() > 0 && clock::now() >= st.retry_at
         && (clock::now() >= st.mark_due || st.window.full()
             || st.window.awaiting_mark() >= st.settings.in_flight_max / 2);
}

/// One step: connect if need be, read the backlog (at most once a poll
/// unless it goes on), send, read confirms (waiting for them until the next
/// read or record is due), record, then the next step: at once while there
/// is more, else when something is due.
void step(event_relay_self self) {
  auto& st = self->state;
  const auto poll = milliseconds{st.settings.poll_ms};
  if (clock::now() >= st.full_scan_due) {
    st.window.rewind();
    st.full_scan_due = clock::now() + full_scan_every;
  }
  bool more = false;
  if (st.conn || connect(self)) {
    if (clock::now() >= st.retry_at && clock::now() >= st.read_due && !st.window.full()) {
      more = send_some(self);
      st.read_due = more ? clock::now() : clock::now() + poll;
    }
    // Wait for confirms (the first ends the wait) unless there is more to
    // send; a full window waits a whole poll at most, room for a read or a
    // record only until it is due.
    auto next_due = st.window.awaiting_mark() > 0 ? std::min(st.read_due, st.mark_due) : st.read_due;
    auto wait = more || st.window.in_flight() == 0 ? milliseconds{0}
                : st.window.full()                 ? poll
                                                   : std::min(until(next_due), poll);
    if (st.conn)
      read_confirms(self, static_cast<uint32_t>(wait.count()));
  }
  if (mark_due(self)) {
    mark(self);
    st.mark_due = clock::now() + poll;
  }
  refresh_lag(self);
  publish_status(self);
  if (st.retry_at > clock::now()) {
    self->delayed_send(self, std::max(until(st.retry_at), milliseconds{1}), caf::tick_atom_v);
  } else if (more || (st.conn && st.window.in_flight() > 0)) {
    self->send(self, caf::tick_atom_v); // a step with confirms to wait for blocks in read_confirms
  } else {
    auto next = st.window.awaiting_mark() > 0 ? std::min(st.read_due, st.mark_due) : st.read_due;
    self->delayed_send(self, std::clamp(until(next), milliseconds{1}, poll), caf::tick_atom_v);
  }
}

} // namespace

std::string routing_key_of(const std::string& merchant_id, const std::string& event_type) {
  return merchant_id + "." + event_type;
}

event_relay_actor::behavior_type event_relay_impl(event_relay_self self, relay_settings settings) {
  name_this_thread("pe.relay");
  auto& st = self->state;
  st.settings = std::move(settings);
  st.window = broker::publish_window{std::max(1u, st.settings.in_flight_max)};
  st.backoff = broker::backoff{st.settings.reconnect_min_ms, st.settings.reconnect_max_ms};
  st.store = std::make_unique<storage::relay_store>(st.settings.database_url, st.settings.db_limits);
  st.info.broker = broker::describe(st.settings.endpoint);
  st.info.in_flight_max = st.settings.in_flight_max;
  st.retry_at = clock::now();
  st.lag_due = clock::now();
  st.full_scan_due = clock::now();
  st.read_due = clock::now();
  st.mark_due = clock::now();
  publish_status(self);
  self->send(self, caf::tick_atom_v);
  return {
    [=](caf::tick_atom) { step(self); },
  };
}

} // namespace payengine
