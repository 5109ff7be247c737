#include "actors/fulfillment_consumer.hpp"
#include "actors/thread_name.hpp"

#include "broker/fulfillment_update.hpp"
#include "config/logging.hpp"
#include "messages/errors.hpp"
#include "messages/ids.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace payengine {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using broker::fulfillment_update;

constexpr uint32_t consumer_frames_per_step = 256;
constexpr uint32_t busy_wait_ms = 2; // a read while answers are awaited

/// A delivery being handled: what a dead letter of it carries.
struct received {
  uint64_t generation = 0;
  uint64_t tag = 0;
  bool redelivered = false;
  std::string body;
  std::string message_id;
};

void publish_status(fulfillment_consumer_self self) {
  auto& st = self->state;
  st.info.connected = st.conn != nullptr;
  st.info.unacked = static_cast<uint32_t>(st.unacked.size());
  if (st.settings.status)
    st.settings.status->set(st.info);
}

void failed(fulfillment_consumer_self self, const char* what, const std::string& error) {
  auto& st = self->state;
  auto wait_ms = st.backoff.failed();
  st.retry_at = clock::now() + milliseconds{wait_ms};
  if (error != st.info.last_error || st.backoff.at_cap())
    logging::warn(what, {{"error", error}, {"retry_in_ms", wait_ms}});
  st.info.last_error = error;
  st.info.last_error_at = now_us();
}

/// Whatever was unacknowledged goes back to the queue with the connection
/// (the broker redelivers it); answers still on their way are ignored.
void drop_connection(fulfillment_consumer_self self, const std::string& why) {
  auto& st = self->state;
  st.conn.reset();
  st.generation++;
  st.unacked.clear();
  st.dead_letters.clear();
  failed(self, "fulfillment.broker_lost", why);
}

bool connect(fulfillment_consumer_self self) {
  auto& st = self->state;
  if (clock::now() < st.retry_at)
    return false;
  auto prefetch = st.settings.prefetch;
  auto opened = broker::amqp_connection::open(
    st.settings.endpoint, st.settings.limits, [prefetch](broker::amqp_connection& c) {
      auto err = c.declare_queue(fulfillment_queue);
      if (err.empty())
        err = c.declare_queue(fulfillment_dead_queue);
      if (err.empty())
        err = c.confirm_select(); // dead letters are confirmed before the original is acknowledged
      return err.empty() ? c.consume(fulfillment_queue, prefetch) : err;
    });
  if (auto* err = std::get_if<std::string>(&opened)) {
    failed(self, "fulfillment.connect_failed", *err);
    return false;
  }
  st.conn = std::move(std::get<0>(opened));
  st.generation++;
  st.backoff.succeeded();
  st.info.reconnects += st.opened_once ? 1 : 0;
  st.opened_once = true;
  logging::info("fulfillment.connected", {{"queue", fulfillment_queue}});
  return true;
}

/// Whether an answer about `r` still concerns the current connection.
bool current(fulfillment_consumer_self self, const received& r) {
  auto& st = self->state;
  return st.conn && r.generation == st.generation && st.unacked.count(r.tag);
}

void ack(fulfillment_consumer_self self, const received& r) {
  auto& st = self->state;
  st.unacked.erase(r.tag);
  if (auto err = st.conn->ack(r.tag); !err.empty())
    drop_connection(self, err);
}

void dead_letter(fulfillment_consumer_self self, const received& r, const std::string& code,
                 const std::string& message) {
  auto& st = self->state;
  broker::amqp_properties props;
  props.message_id = r.message_id;
  props.headers = {{"x-payengine-error", code}, {"x-payengine-error-message", message}};
  logging::warn("fulfillment.dead_letter", {{"error", code}, {"message", message},
                                            {"message_id", r.message_id}});
  st.unacked[r.tag] = delivery_phase::dead_lettering;
  if (auto err = st.conn->publish("", fulfillment_dead_queue, r.body, props); !err.empty()) {
    drop_connection(self, err);
    return;
  }
  st.dead_letters.emplace(st.conn->published(), r.tag);
}

/// Held, then given back to the queue: a transient failure, or an order of
/// a shard another node owns.
void hold(fulfillment_consumer_self self, const received& r, const std::string& why) {
  auto& st = self->state;
  st.unacked[r.tag] = delivery_phase::held;
  logging::debug("fulfillment.held", {{"reason", why}, {"message_id", r.message_id},
                                      {"requeue_in_ms", st.settings.requeue_delay_ms}});
  self->delayed_send(self, milliseconds{st.settings.requeue_delay_ms}, retry_atom_v, r.generation, r.tag);
}

void requeue(fulfillment_consumer_self self, uint64_t generation, uint64_t tag) {
  auto& st = self->state;
  if (!st.conn || generation != st.generation || !st.unacked.count(tag))
    return;
  st.unacked.erase(tag);
  st.info.requeued++;
  if (auto err = st.conn->reject(tag, true); !err.empty())
    drop_connection(self, err);
}

const order_registry_actor& registry_for(fulfillment_consumer_self self, const std::string& order_id) {
  auto& regs = self->state.registries;
  return regs[shard_index(order_id, static_cast<uint32_t>(regs.size()))];
}

/// not_found: no such order, or another merchant's (asked without a merchant).
void tell_unknown_from_foreign(fulfillment_consumer_self self, const received& r,
                               const fulfillment_update& u) {
  self->request(registry_for(self, u.order_id), milliseconds{self->state.settings.apply_timeout_ms},
                get_order{u.order_id, ""})
    .then(
      [self, r](order_reply& reply) {
        if (!current(self, r))
          return;
        if (reply.outcome == order_outcome::ok)
          dead_letter(self, r, "wrong_merchant", "The order belongs to another merchant.");
        else
          dead_letter(self, r, "unknown_order", "There is no such order.");
      },
      [self, r](caf::error& err) {
        if (current(self, r))
          hold(self, r, to_string(err));
      });
}

/// What the order actor's answer means for the delivery.
void on_applied(fulfillment_consumer_self self, const received& r, const fulfillment_update& u,
                const order_reply& reply) {
  auto& st = self->state;
  if (!current(self, r))
    return;
  switch (reply.outcome) {
    case order_outcome::ok:
      st.info.applied++;
      ack(self, r);
      return;
    case order_outcome::not_found:
      tell_unknown_from_foreign(self, r, u);
      return;
    case order_outcome::invalid_state:
      if (reply.refusal == refusal_code::fulfillment_not_forward) {
        auto current_stage = static_cast<uint8_t>(reply.order.fulfillment);
        auto wanted = static_cast<uint8_t>(u.stage);
        // The same stage again is done. So is an earlier one redelivered: it
        // may have been applied before an acknowledgement was lost.
        if (current_stage == wanted || (r.redelivered && wanted < current_stage)) {
          st.info.duplicates++;
          ack(self, r);
          return;
        }
        dead_letter(self, r, "stage_backwards",
                    "Fulfillment is " + std::string{to_string(reply.order.fulfillment)}
                      + "; stages only move forward.");
        return;
      }
      dead_letter(self, r, "invalid_state",
                  "The order is " + std::string{to_string(reply.order.status)} + "; fulfillment needs a paid order.");
      return;
    default:
      dead_letter(self, r, "invalid_state", "The order refused the update.");
      return;
  }
}

void apply(fulfillment_consumer_self self, const received& r, fulfillment_update u) {
  auto& st = self->state;
  st.unacked[r.tag] = delivery_phase::applying;
  fulfill_order cmd{u.order_id, u.merchant_id,
                    "amqp:" + (r.message_id.empty() || r.message_id.size() > 100
                                 ? std::to_string(r.tag) : r.message_id),
                    static_cast<uint8_t>(u.stage), u.detail};
  self->request(registry_for(self, u.order_id), milliseconds{st.settings.apply_timeout_ms}, std::move(cmd))
    .then([self, r, u](order_reply& reply) { on_applied(self, r, u, reply); },
          [self, r](caf::error& err) {
            // Storage down, a timeout, the shard moving: nothing was applied
            // (or it was, and the redelivery is acknowledged as a duplicate).
            if (current(self, r))
              hold(self, r, to_string(err));
          });
}

void on_delivery(fulfillment_consumer_self self, broker::amqp_delivery d) {
  auto& st = self->state;
  st.info.received++;
  received r{st.generation, d.tag, d.redelivered, std::move(d.body), std::move(d.message_id)};
  st.unacked[r.tag] = delivery_phase::received;
  auto parsed = broker::parse_fulfillment_update(r.body);
  if (auto* refused = std::get_if<broker::update_refused>(&parsed)) {
    dead_letter(self, r, refused->code, refused->message);
    return;
  }
  auto& u = std::get<fulfillment_update>(parsed);
  if (st.settings.cluster && !st.settings.cluster->owns_order(u.order_id)) {
    hold(self, r, "the order's shard is another node's");
    return;
  }
  apply(self, r, std::move(u));
}

/// The broker confirmed (or refused) dead letters: their originals are
/// acknowledged (or held and tried again).
void on_confirm(fulfillment_consumer_self self, const broker::amqp_confirm& c) {
  auto& st = self->state;
  auto end = c.multiple ? st.dead_letters.upper_bound(c.tag) : st.dead_letters.find(c.tag);
  auto begin = c.multiple ? st.dead_letters.begin() : end;
  if (!c.multiple && end != st.dead_letters.end())
    ++end;
  std::vector<uint64_t> tags;
  for (auto i = begin; i != end; ++i)
    tags.push_back(i->second);
  st.dead_letters.erase(begin, end);
  for (auto tag : tags) {
    received r{st.generation, tag, false, {}, {}};
    if (!current(self, r))
      continue;
    if (c.ack) {
      st.info.dead_lettered++;
      ack(self, r);
    } else {
      hold(self, r, "the broker refused the dead letter");
    }
    if (!st.conn)
      return;
  }
}

void read(fulfillment_consumer_self self) {
  auto& st = self->state;
  bool waiting = std::any_of(st.unacked.begin(), st.unacked.end(),
                             [](const auto& kv) { return kv.second == delivery_phase::applying; });
  for (uint32_t i = 0; i < consumer_frames_per_step && st.conn; ++i) {
    auto ev = st.conn->next(i > 0 ? 0 : waiting ? busy_wait_ms : st.settings.poll_ms);
    if (std::holds_alternative<broker::amqp_idle>(ev))
      return;
    if (auto* broken = std::get_if<broker::amqp_broken>(&ev))
      drop_connection(self, broken->reason);
    else if (auto* d = std::get_if<broker::amqp_delivery>(&ev))
      on_delivery(self, std::move(*d));
    else if (auto* c = std::get_if<broker::amqp_confirm>(&ev))
      on_confirm(self, *c);
  }
}

void step(fulfillment_consumer_self self) {
  auto& st = self->state;
  if (st.conn || connect(self))
    read(self);
  publish_status(self);
  auto now = clock::now();
  if (!st.conn) {
    auto wait = st.retry_at > now ? std::chrono::duration_cast<milliseconds>(st.retry_at - now)
                                  : milliseconds{1};
    self->delayed_send(self, std::max(wait, milliseconds{1}), caf::tick_atom_v);
  } else {
    self->send(self, caf::tick_atom_v); // read() waited on the socket: no spin
  }
}

} // namespace

fulfillment_consumer_actor::behavior_type
fulfillment_consumer_impl(fulfillment_consumer_self self, consumer_settings settings,
                          std::vector<order_registry_actor> registries) {
  name_this_thread("pe.fulfillment");
  auto& st = self->state;
  st.settings = std::move(settings);
  st.backoff = broker::backoff{st.settings.reconnect_min_ms, st.settings.reconnect_max_ms};
  st.registries = std::move(registries);
  st.info.queue = fulfillment_queue;
  st.info.prefetch = st.settings.prefetch;
  st.retry_at = clock::now();
  publish_status(self);
  self->send(self, caf::tick_atom_v);
  return {
    [=](caf::tick_atom) { step(self); },
    [=](retry_atom, uint64_t generation, uint64_t tag) {
      requeue(self, generation, tag);
      publish_status(self);
    },
  };
}

} // namespace payengine
