#include "actors/notifier.hpp"
#include "actors/thread_name.hpp"
#include "actors/request_timer.hpp"

#include "channels/money_text.hpp"
#include "channels/webhook_signature.hpp"
#include "config/logging.hpp"
#include "messages/money.hpp"
#include "messages/timestamps.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <chrono>
#include <sstream>

namespace payengine {

namespace {

using json = nlohmann::json;

// --- the blocking side: one HTTP attempt ---------------------------------------

std::string sms_text(const delivery& d) {
  auto event = json::parse(d.payload, nullptr, false);
  if (!event.is_object())
    return "Your order was updated.";
  const auto& o = event["data"];
  if (d.event_type == "wallet.debited" && o.is_object() && o.contains("transaction")) {
    // "Paid 88.88 CNY from your balance (order ord_...); balance 11.12 CNY."
    const auto& t = o["transaction"];
    auto currency = t.value("currency", "");
    auto* info = find_currency(currency);
    auto text = [&](int64_t minor) {
      auto s = info ? channels::minor_to_decimal(minor, info->exponent) : std::nullopt;
      return (s ? *s : std::string{"?"}) + " " + currency;
    };
    auto spent = -t.value("amount", int64_t{0});
    auto order = t.contains("order_id") && t["order_id"].is_string() ? t["order_id"].get<std::string>()
                                                                      : std::string{};
    return "Paid " + text(spent) + " from your balance" + (order.empty() ? "" : " (order " + order + ")")
           + "; balance " + text(t.value("ending_balance", int64_t{0})) + ".";
  }
  auto currency = o.value("currency", "");
  auto* info = find_currency(currency);
  auto amount = info ? channels::minor_to_decimal(o.value("amount", int64_t{0}), info->exponent)
                     : std::nullopt;
  auto money = (amount ? *amount : std::string{"?"}) + " " + currency;
  auto subject = o.value("subject", "");
  if (d.event_type == "order.paid")
    return "Payment of " + money + " received for " + subject + " (order "
           + o.value("merchant_order_no", "") + ").";
  return "A refund for " + subject + " (order " + o.value("merchant_order_no", "")
         + ") has been sent to your account.";
}

delivery_outcome post(net::outbound_caller& caller, const std::string& url,
                      std::vector<std::pair<std::string, std::string>> headers,
                      const std::string& body) {
  net::call_request req;
  req.url = url;
  req.headers = std::move(headers);
  req.body = body;
  auto r = caller.call(req);
  delivery_outcome out;
  out.latency_ms = static_cast<int32_t>(r.latency_ms);
  if (!r.answered()) {
    out.error = r.error; // "address_forbidden: ...", "deadline_exceeded: ...", ...
    return out;
  }
  out.status_code = r.status;
  if (r.status < 200 || r.status > 299)
    out.error = r.body.substr(0, 200);
  return out;
}

} // namespace

net::call_limits delivery_limits(const notifier_settings& s) {
  net::call_limits l;
  l.deadline_ms = s.timeout_ms;
  l.connect_timeout_ms = s.connect_timeout_ms;
  l.response_max_bytes = s.response_max_bytes;
  l.keep_alive = true; // a worker keeps its connection to the last origin it called
  return l;
}

std::optional<delivery_outcome> settled_without_a_call(const delivery& d,
                                                      const notifier_settings& s) {
  std::string error;
  if (d.target.empty())
    error = "no_target";
  else if (d.kind == 2 && s.sms_url.empty())
    error = "sms_disabled";
  else
    return std::nullopt;
  delivery_outcome out;
  out.error = std::move(error);
  return out;
}

delivery_outcome attempt_delivery(const delivery& d, const notifier_settings& s,
                                  net::outbound_caller& caller) {
  if (auto settled = settled_without_a_call(d, s))
    return *settled;
  if (d.kind == 2) {
    json body = {{"to", d.target}, {"text", sms_text(d)}, {"id", d.id}};
    return post(caller, s.sms_url, {}, body.dump());
  }
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  auto signature = channels::sign_webhook(d.secret, d.event_id, now_s, d.payload);
  if (!signature) {
    delivery_outcome out;
    out.error = "merchant_secret_unusable";
    return out;
  }
  return post(caller, d.target,
              {{"webhook-id", d.event_id},
               {"webhook-timestamp", std::to_string(now_s)},
               {"webhook-signature", *signature}},
              d.payload);
}

std::vector<uint32_t> parse_schedule(const std::string& csv, double time_scale) {
  std::vector<uint32_t> out;
  std::stringstream in{csv};
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      auto seconds = std::stoul(item, &used);
      if (used != item.size() || seconds > 7 * 24 * 3600)
        return {};
      out.push_back(static_cast<uint32_t>(std::max(0.0, seconds * 1000.0 / time_scale)));
    } catch (const std::exception&) {
      return {};
    }
  }
  return out;
}

namespace {

// --- the asynchronous side: claim, bound, schedule ---------------------------------

delivery_worker_actor::behavior_type worker_impl(notifier_settings s) {
  name_this_thread("pe.notifier");
  // One caller per worker: its watchdog thread bounds each attempt.
  auto caller = std::make_shared<net::outbound_caller>(s.policy, delivery_limits(s));
  return {
    [s, caller](const delivery& d) {
      // Whatever a target does to the HTTP client (a URL it cannot parse, an
      // exception inside it) is that delivery's failure, never the worker's
      // death: one bad notify_url must not take the notifier down.
      try {
        return attempt_delivery(d, s, *caller);
      } catch (const std::exception& e) {
        delivery_outcome out;
        out.error = std::string{"invalid_target: "} + e.what();
        return out;
      }
    },
  };
}

/// A retry is due after `delay_ms`: look then, not only at the next poll.
void nudge(notifier_self self, uint32_t delay_ms) {
  self->delayed_send(self, std::chrono::milliseconds{delay_ms}, retry_atom_v);
}

bool dispatch(notifier_self self);
void claim(notifier_self self);

/// Records an attempt's outcome: delivered, a retry on the schedule, or dead.
void record_outcome(notifier_self self, const delivery& d, delivery_outcome out) {
  auto& st = self->state;
  st.attempts++;
  out.id = d.id;
  out.attempt = d.attempts + 1;
  out.at = now_us();
  // A 2xx whose body was over the cap is not an answer (error set).
  out.delivered = out.status_code >= 200 && out.status_code <= 299 && out.error.empty();
  auto retries = st.settings.retry_delays_ms.size();
  // Nowhere to send it (no notify_url on the order nor the merchant; SMS
  // off): retrying cannot help, the merchant pulls GET /v1/events instead.
  bool hopeless = out.error == "no_target" || out.error == "sms_disabled";
  if (!out.delivered && (hopeless || static_cast<size_t>(out.attempt) > retries)) {
    out.dead = true;
    st.dead++;
    // Nowhere to send is a merchant's choice (it pulls GET /v1/events), not
    // a failure: a line per event would bury the failures in the log.
    if (hopeless)
      logging::debug("delivery.nowhere", {{"id", d.id}, {"event_id", d.event_id}, {"error", out.error}});
    else
      logging::warn("delivery.dead", {{"id", d.id}, {"event_id", d.event_id}, {"attempts", out.attempt},
                                      {"error", out.error}});
  } else if (!out.delivered) {
    out.next_attempt_at = out.at + int64_t{st.settings.retry_delays_ms[out.attempt - 1]} * 1000;
  } else {
    st.delivered++;
  }
  timed_request(self, st.settings.timer, st.writer, std::chrono::seconds{10}, out)
    .then([](bool) {}, [id = d.id](caf::error& err) {
      // The lease expires and the attempt is made again: at least once.
      logging::warn("delivery.record_failed", {{"id", id}, {"error", to_string(err)}});
    });
  if (!out.delivered && !out.dead)
    nudge(self, st.settings.retry_delays_ms[out.attempt - 1]);
}

/// A worker's attempt is over: record it, then give the worker the next.
void on_attempted(notifier_self self, const delivery& d, size_t worker, delivery_outcome out) {
  auto& st = self->state;
  st.worker_busy[worker] = false;
  if (--st.in_flight[d.merchant_id] == 0)
    st.in_flight.erase(d.merchant_id); // bounded by the merchants in flight
  record_outcome(self, d, std::move(out));
  // Nothing claimed is left: look for more now rather than at the next poll
  // (a busy merchant's backlog drains at its endpoint's pace, not the poll's),
  // unless dispatching just asked for more.
  if (!dispatch(self) && st.waiting.empty())
    claim(self);
}

/// Hands waiting deliveries to idle workers only: an attempt never queues
/// behind another (a hanging endpoint), so its deadline is its own.
///
/// A delivery that needs no call (settled_without_a_call) is settled here, at
/// once: it costs no worker, and it does not wait behind hanging endpoints.
/// True when that emptied the waiting list and more was claimed.
bool dispatch(notifier_self self) {
  auto& st = self->state;
  bool settled = false;
  for (auto i = st.waiting.begin(); i != st.waiting.end();) {
    if (auto out = settled_without_a_call(*i, st.settings)) {
      auto d = std::move(*i);
      i = st.waiting.erase(i);
      record_outcome(self, d, std::move(*out));
      settled = true;
      continue;
    }
    auto idle = std::find(st.worker_busy.begin(), st.worker_busy.end(), false);
    if (idle == st.worker_busy.end()) {
      ++i; // a finished attempt dispatches again; look on for settled ones
      continue;
    }
    if (st.in_flight.count(i->merchant_id)
        && st.in_flight[i->merchant_id] >= st.settings.per_merchant_max) {
      ++i;
      continue;
    }
    st.in_flight[i->merchant_id]++;
    auto k = static_cast<size_t>(idle - st.worker_busy.begin());
    st.worker_busy[k] = true;
    auto d = std::move(*i);
    i = st.waiting.erase(i);
    timed_request(self, st.settings.timer, st.workers[k],
                  std::chrono::milliseconds{st.settings.timeout_ms * 3 + 1'000}, d)
      .then([self, d, k](delivery_outcome& out) { on_attempted(self, d, k, std::move(out)); },
            [self, d, k](caf::error& err) {
              delivery_outcome out;
              out.error = to_string(err);
              on_attempted(self, d, k, std::move(out));
            });
  }
  // What was settled made room: claim more now, as a finished attempt does.
  if (settled && st.waiting.empty()) {
    claim(self);
    return true;
  }
  return false;
}

/// Claims due deliveries of merchants below their bound.
void claim(notifier_self self) {
  auto& st = self->state;
  if (st.claiming) { // asked again meanwhile: once more when the answer is in
    st.claim_again = true;
    return;
  }
  if (st.waiting.size() >= st.settings.batch_max)
    return;
  st.claiming = true;
  st.claim_again = false;
  auto limit = static_cast<uint32_t>(st.settings.batch_max - st.waiting.size());
  // A merchant at its bound gets nothing more claimed: its deliveries wait
  // in storage, and a hanging endpoint cannot fill the window for others.
  std::unordered_map<std::string, uint32_t> load = st.in_flight;
  for (const auto& d : st.waiting)
    load[d.merchant_id]++;
  std::vector<std::string> busy;
  for (const auto& [merchant, n] : load)
    if (n >= st.settings.per_merchant_max)
      busy.push_back(merchant);
  timed_request(self, st.settings.timer, st.writer, std::chrono::seconds{10}, claim_atom_v, limit,
                st.settings.lease_ms, std::move(busy))
    .then(
      [self](std::vector<delivery>& due) {
        auto& st = self->state;
        st.claiming = false;
        for (auto& d : due)
          st.waiting.push_back(std::move(d));
        dispatch(self);
        if (st.claim_again)
          claim(self);
      },
      [self](caf::error&) {
        auto& st = self->state;
        st.claiming = false;
        if (st.claim_again)
          claim(self);
      });
}

} // namespace

notifier_actor::behavior_type notifier_impl(notifier_self self, notifier_settings settings,
                                            storage_writer_actor writer) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.writer = std::move(writer);
  for (uint32_t i = 0; i < std::max(1u, st.settings.workers); ++i)
    st.workers.push_back(self->spawn<caf::detached + caf::linked>(worker_impl, st.settings));
  st.worker_busy.assign(st.workers.size(), false);
  if (!st.settings.successor) {
    // One notifier per process: leases left by a crashed process are void.
    self->request(st.writer, std::chrono::seconds{10}, unlease_atom_v, timestamp_us{0})
      .then([self](bool) { self->send(self, sweep_atom_v); },
            [self](caf::error&) { self->send(self, sweep_atom_v); });
  } else {
    // The previous notifier's attempts end by their deadline; then the
    // leases it took (all ending before ours would) are void.
    auto deadline = std::chrono::milliseconds{st.settings.timeout_ms * 3 + 1'000};
    auto before = now_us() + int64_t{st.settings.lease_ms} * 1000;
    self->delayed_send(self, deadline, unlease_atom_v, before);
    self->send(self, sweep_atom_v);
  }
  return {
    [=](unlease_atom, timestamp_us ending_before) {
      self->request(self->state.writer, std::chrono::seconds{10}, unlease_atom_v, ending_before)
        .then([self](bool) { claim(self); }, [](caf::error&) {});
    },
    [=](sweep_atom) { // the poll
      claim(self);
      self->delayed_send(self, std::chrono::milliseconds{self->state.settings.poll_ms}, sweep_atom_v);
    },
    [=](retry_atom) { claim(self); },
    [=](info_atom) -> caf::result<notifier_info> {
      auto& st = self->state;
      notifier_info mine;
      mine.workers = static_cast<uint32_t>(st.workers.size());
      for (const auto& kv : st.in_flight)
        mine.in_flight += kv.second;
      mine.waiting = static_cast<uint32_t>(st.waiting.size());
      mine.attempts = st.attempts;
      mine.delivered = st.delivered;
      mine.dead = st.dead;
      mine.mailbox_depth = self->mailbox().size();
      // The queue itself is in the outbox table.
      auto rp = self->make_response_promise<notifier_info>();
      self->request(st.writer, std::chrono::seconds{2}, outbox_atom_v)
        .then(
          [rp, mine](const notifier_info& outbox) mutable {
            mine.pending = outbox.pending;
            mine.dead_rows = outbox.dead_rows;
            mine.next_attempt_at = outbox.next_attempt_at;
            rp.deliver(mine);
          },
          [rp, mine](caf::error&) mutable { rp.deliver(mine); });
      return rp;
    },
  };
}

} // namespace payengine
