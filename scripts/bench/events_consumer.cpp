// Events on RabbitMQ from a consumer's side (scripts/bench_events.sh,
// scripts/demo.sh): binds a queue to `payengine.events`, consumes for
// SECONDS (or until COUNT messages came), and prints how many came, at what
// rate, and how long after each event's created_at (set by the order actor
// just before its commit) the message was in the consumer's hands.
// Usage: pe_events_consumer AMQP_URL SECONDS [--count N] [--queue NAME]
//          [--bind KEY] [--declare-only] [--print]
//   --queue NAME    a durable queue of that name (default: a fresh exclusive one)
//   --bind KEY      its binding key on payengine.events (default '#')
//   --declare-only  declare and bind, then exit (messages wait there)
//   --print         each message as a JSON line: routing key, message_id, type, body
//   --arrivals FILE each message's id and arrival time (µs since the epoch), CSV
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::system_clock;

/// "2026-12-02T03:04:05.678Z" -> ms since the epoch; -1 if not that.
int64_t rfc3339_ms(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

struct options {
  std::string url;
  int seconds = 0;
  size_t count_max = SIZE_MAX;
  std::string queue;
  std::string bind = "#";
  bool declare_only = false;
  bool print = false;
  std::string arrivals;
};

bool parse(int argc, char** argv, options& o) {
  if (argc < 3)
    return false;
  o.url = argv[1];
  o.seconds = std::atoi(argv[2]);
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--count" && has_value)
      o.count_max = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--queue" && has_value)
      o.queue = argv[++i];
    else if (a == "--bind" && has_value)
      o.bind = argv[++i];
    else if (a == "--declare-only")
      o.declare_only = true;
    else if (a == "--print")
      o.print = true;
    else if (a == "--arrivals" && has_value)
      o.arrivals = argv[++i];
    else
      return false;
  }
  return o.seconds >= 0;
}

std::string text(amqp_bytes_t b) {
  return b.bytes ? std::string{static_cast<const char*>(b.bytes), b.len} : std::string{};
}

bool ok(amqp_rpc_reply_t r, const char* what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL)
    return true;
  std::fprintf(stderr, "%s failed\n", what);
  return false;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: %s AMQP_URL SECONDS [--count N] [--queue NAME] [--bind KEY] [--declare-only] [--print] [--arrivals FILE]\n", argv[0]);
    return 2;
  }
  amqp_connection_info info;
  if (amqp_parse_url(o.url.data(), &info) != AMQP_STATUS_OK)
    return 2;
  auto conn = amqp_new_connection();
  auto* socket = amqp_tcp_socket_new(conn);
  if (amqp_socket_open(socket, info.host, info.port) != AMQP_STATUS_OK)
    return 1;
  if (!ok(amqp_login(conn, "/", 1, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password), "login"))
    return 1;
  amqp_channel_open(conn, 1);
  if (!ok(amqp_get_rpc_reply(conn), "channel.open"))
    return 1;
  amqp_exchange_declare(conn, 1, amqp_cstring_bytes("payengine.events"), amqp_cstring_bytes("topic"), 0, 1,
                        0, 0, amqp_empty_table);
  bool named = !o.queue.empty();
  auto* q = amqp_queue_declare(conn, 1, named ? amqp_cstring_bytes(o.queue.c_str()) : amqp_empty_bytes,
                               0, named, !named, !named, amqp_empty_table);
  if (!ok(amqp_get_rpc_reply(conn), "queue.declare"))
    return 1;
  auto queue = text(q->queue);
  amqp_queue_bind(conn, 1, amqp_cstring_bytes(queue.c_str()), amqp_cstring_bytes("payengine.events"),
                  amqp_cstring_bytes(o.bind.c_str()), amqp_empty_table);
  if (!ok(amqp_get_rpc_reply(conn), "queue.bind"))
    return 1;
  if (o.declare_only) {
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
  }
  amqp_basic_qos(conn, 1, 0, 1000, 0);
  amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
  if (!ok(amqp_get_rpc_reply(conn), "basic.consume"))
    return 1;
  std::fprintf(stderr, "consuming %s (bound to payengine.events with '%s')\n", queue.c_str(), o.bind.c_str());
  std::vector<double> latencies_ms;
  size_t messages = 0;
  FILE* arrivals = o.arrivals.empty() ? nullptr : std::fopen(o.arrivals.c_str(), "w");
  auto until = clock_type::now() + std::chrono::seconds{o.seconds};
  clock_type::time_point first, last;
  while (clock_type::now() < until && messages < o.count_max) {
    amqp_maybe_release_buffers(conn);
    amqp_envelope_t e;
    struct timeval tv{0, 200'000};
    auto r = amqp_consume_message(conn, &e, &tv, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        continue;
      std::fprintf(stderr, "consume failed\n");
      break;
    }
    auto now = clock_type::now();
    if (messages++ == 0)
      first = now;
    last = now;
    if (arrivals && (e.message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG))
      std::fprintf(arrivals, "%s,%lld\n", text(e.message.properties.message_id).c_str(),
                   static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(
                     now.time_since_epoch()).count()));
    auto body = nlohmann::json::parse(static_cast<const char*>(e.message.body.bytes),
                                      static_cast<const char*>(e.message.body.bytes) + e.message.body.len,
                                      nullptr, false);
    if (o.print) {
      const auto& p = e.message.properties;
      nlohmann::json line = {
        {"routing_key", text(e.routing_key)},
        {"message_id", p._flags & AMQP_BASIC_MESSAGE_ID_FLAG ? text(p.message_id) : ""},
        {"type", p._flags & AMQP_BASIC_TYPE_FLAG ? text(p.type) : ""},
        {"persistent", (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) && p.delivery_mode == 2},
        {"body", body}};
      std::printf("%s\n", line.dump().c_str());
      std::fflush(stdout);
    }
    if (body.is_object() && body.contains("created_at")) {
      auto created = rfc3339_ms(body["created_at"].get<std::string>());
      auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
      if (created > 0)
        latencies_ms.push_back(static_cast<double>(now_ms - created));
    }
    amqp_destroy_envelope(&e);
  }
  if (arrivals)
    std::fclose(arrivals);
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms.empty() ? 0.0 : latencies_ms[static_cast<size_t>(p * (latencies_ms.size() - 1))];
  };
  double span = messages > 1 ? std::chrono::duration<double>(last - first).count() : 0;
  std::fprintf(o.print ? stderr : stdout, "messages=%zu span_s=%.2f messages_per_s=%.0f latency_p50_ms=%.0f latency_p99_ms=%.0f latency_max_ms=%.0f\n",
              messages, span, span > 0 ? (messages - 1) / span : 0.0, pct(0.5), pct(0.99),
              latencies_ms.empty() ? 0.0 : latencies_ms.back());
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return 0;
}
