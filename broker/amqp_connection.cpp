#include "broker/amqp_connection.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <vector>

namespace payengine::broker {

namespace {

constexpr amqp_channel_t channel = 1;
constexpr int frame_max = 131'072;

amqp_connection_state_t state_of(void* p) {
  return static_cast<amqp_connection_state_t>(p);
}

struct timeval to_timeval(uint32_t ms) {
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

amqp_bytes_t bytes(const std::string& s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data()); // read only by rabbitmq-c
  return b;
}

std::string text(amqp_bytes_t b) {
  return b.bytes ? std::string{static_cast<const char*>(b.bytes), b.len} : std::string{};
}

/// What an RPC reply says went wrong; empty when it went well.
std::string reply_error(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return {};
    case AMQP_RESPONSE_NONE:
      return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD && r.reply.decoded) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return "connection closed by the broker: " + std::to_string(m->reply_code) + " "
               + text(m->reply_text);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD && r.reply.decoded) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return "channel closed by the broker: " + std::to_string(m->reply_code) + " "
               + text(m->reply_text);
      }
      return "broker error";
  }
  return "unknown reply";
}

} // namespace

amqp_connection::amqp_connection(void* state) : conn_(state) {
  // nop
}

amqp_connection::~amqp_connection() {
  auto conn = state_of(conn_);
  // A polite close is two RPCs (each bounded by the RPC timeout); a broken
  // connection gets none.
  if (!broken()) {
    if (channel_open_)
      amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
}

std::variant<std::unique_ptr<amqp_connection>, std::string>
amqp_connection::open(const amqp_endpoint& where, const amqp_limits& limits, const setup_fn& setup) {
  auto conn = amqp_new_connection();
  if (!conn)
    return std::string{"out of memory"};
  std::unique_ptr<amqp_connection> self{new amqp_connection(conn)};
  self->broken_reason_ = "not open"; // until it is: the destructor closes nothing
  auto* socket = amqp_tcp_socket_new(conn);
  if (!socket)
    return std::string{"cannot create a socket"};
  auto connect_tv = to_timeval(limits.connect_timeout_ms);
  if (int rc = amqp_socket_open_noblock(socket, where.host.c_str(), where.port, &connect_tv);
      rc != AMQP_STATUS_OK)
    return std::string{"connect to "} + describe(where) + ": " + amqp_error_string2(rc);
  // A broker that stops reading must not hold a write forever.
  auto write_tv = to_timeval(limits.write_timeout_ms);
  setsockopt(amqp_get_sockfd(conn), SOL_SOCKET, SO_SNDTIMEO, &write_tv, sizeof write_tv);
  auto rpc_tv = to_timeval(limits.rpc_timeout_ms);
  amqp_set_handshake_timeout(conn, &rpc_tv);
  amqp_set_rpc_timeout(conn, &rpc_tv);
  auto login = amqp_login(conn, where.vhost.c_str(), 1, frame_max, limits.heartbeat_s,
                          AMQP_SASL_METHOD_PLAIN, where.user.c_str(), where.password.c_str());
  if (auto err = reply_error(login); !err.empty())
    return "login to " + describe(where) + ": " + err;
  self->broken_reason_.clear();
  amqp_channel_open(conn, channel);
  if (auto err = self->rpc_result("channel.open"); !err.empty())
    return err;
  self->channel_open_ = true;
  if (auto err = setup(*self); !err.empty())
    return err;
  return self;
}

std::string amqp_connection::fail(std::string reason) {
  if (broken_reason_.empty())
    broken_reason_ = reason;
  return reason;
}

std::string amqp_connection::rpc_result(const char* what) {
  if (broken())
    return broken_reason_;
  auto err = reply_error(amqp_get_rpc_reply(state_of(conn_)));
  return err.empty() ? err : fail(std::string{what} + ": " + err);
}

std::string amqp_connection::declare_exchange(const std::string& name, const std::string& type) {
  amqp_exchange_declare(state_of(conn_), channel, bytes(name), bytes(type), 0, 1, 0, 0,
                        amqp_empty_table);
  return rpc_result("exchange.declare");
}

std::string amqp_connection::declare_queue(const std::string& name) {
  amqp_queue_declare(state_of(conn_), channel, bytes(name), 0, 1, 0, 0, amqp_empty_table);
  return rpc_result("queue.declare");
}

std::string amqp_connection::bind_queue(const std::string& queue, const std::string& exchange,
                                        const std::string& key) {
  amqp_queue_bind(state_of(conn_), channel, bytes(queue), bytes(exchange), bytes(key),
                  amqp_empty_table);
  return rpc_result("queue.bind");
}

std::string amqp_connection::confirm_select() {
  amqp_confirm_select(state_of(conn_), channel);
  published_ = 0;
  return rpc_result("confirm.select");
}

std::string amqp_connection::consume(const std::string& queue, uint16_t prefetch) {
  amqp_basic_qos(state_of(conn_), channel, 0, prefetch, 0);
  if (auto err = rpc_result("basic.qos"); !err.empty())
    return err;
  amqp_basic_consume(state_of(conn_), channel, bytes(queue), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  return rpc_result("basic.consume");
}

std::string amqp_connection::publish(const std::string& exchange, const std::string& routing_key,
                                     const std::string& body, const amqp_properties& p) {
  if (broken())
    return broken_reason_;
  std::vector<amqp_table_entry_t> entries(p.headers.size());
  for (size_t i = 0; i < p.headers.size(); ++i) {
    entries[i].key = bytes(p.headers[i].first);
    entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[i].value.value.bytes = bytes(p.headers[i].second);
  }
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = bytes(p.content_type);
  props.delivery_mode = 2; // persistent
  if (!p.message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = bytes(p.message_id);
  }
  if (!p.type.empty()) {
    props._flags |= AMQP_BASIC_TYPE_FLAG;
    props.type = bytes(p.type);
  }
  if (!entries.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers.num_entries = static_cast<int>(entries.size());
    props.headers.entries = entries.data();
  }
  int rc = amqp_basic_publish(state_of(conn_), channel, bytes(exchange), bytes(routing_key), 0, 0,
                              &props, bytes(body));
  if (rc != AMQP_STATUS_OK)
    return fail(std::string{"basic.publish: "} + amqp_error_string2(rc));
  ++published_;
  return {};
}

std::string amqp_connection::ack(uint64_t delivery_tag) {
  if (broken())
    return broken_reason_;
  int rc = amqp_basic_ack(state_of(conn_), channel, delivery_tag, 0);
  return rc == AMQP_STATUS_OK ? std::string{} : fail(std::string{"basic.ack: "} + amqp_error_string2(rc));
}

std::string amqp_connection::reject(uint64_t delivery_tag, bool requeue) {
  if (broken())
    return broken_reason_;
  int rc = amqp_basic_reject(state_of(conn_), channel, delivery_tag, requeue ? 1 : 0);
  return rc == AMQP_STATUS_OK ? std::string{} : fail(std::string{"basic.reject: "} + amqp_error_string2(rc));
}

amqp_event amqp_connection::read_delivery(uint16_t on_channel, uint64_t tag, bool redelivered) {
  amqp_message_t msg;
  auto r = amqp_read_message(state_of(conn_), on_channel, &msg, 0);
  if (auto err = reply_error(r); !err.empty())
    return amqp_broken{fail("reading a delivery: " + err)};
  amqp_delivery d;
  d.tag = tag;
  d.redelivered = redelivered;
  d.body = text(msg.body);
  if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
    d.message_id = text(msg.properties.message_id);
  amqp_destroy_message(&msg);
  return d;
}

amqp_event amqp_connection::next(uint32_t wait_ms) {
  if (broken())
    return amqp_broken{broken_reason_};
  auto conn = state_of(conn_);
  amqp_maybe_release_buffers(conn); // what earlier frames decoded is copied out by now
  amqp_frame_t frame;
  auto tv = to_timeval(wait_ms);
  int rc = amqp_simple_wait_frame_noblock(conn, &frame, &tv);
  if (rc == AMQP_STATUS_TIMEOUT)
    return amqp_idle{};
  if (rc != AMQP_STATUS_OK)
    return amqp_broken{fail(std::string{"connection: "} + amqp_error_string2(rc))};
  if (frame.frame_type != AMQP_FRAME_METHOD)
    return amqp_idle{}; // a stray content frame: nothing we wait for
  auto* decoded = frame.payload.method.decoded;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      auto* m = static_cast<amqp_basic_ack_t*>(decoded);
      return amqp_confirm{m->delivery_tag, m->multiple != 0, true};
    }
    case AMQP_BASIC_NACK_METHOD: {
      auto* m = static_cast<amqp_basic_nack_t*>(decoded);
      return amqp_confirm{m->delivery_tag, m->multiple != 0, false};
    }
    case AMQP_BASIC_DELIVER_METHOD: {
      auto* m = static_cast<amqp_basic_deliver_t*>(decoded);
      return read_delivery(frame.channel, m->delivery_tag, m->redelivered != 0);
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      auto* m = static_cast<amqp_channel_close_t*>(decoded);
      amqp_channel_close_ok_t ok{};
      amqp_send_method(conn, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
      channel_open_ = false;
      return amqp_broken{fail("channel closed by the broker: " + std::to_string(m->reply_code)
                              + " " + text(m->reply_text))};
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      auto* m = static_cast<amqp_connection_close_t*>(decoded);
      amqp_connection_close_ok_t ok{};
      amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      return amqp_broken{fail("connection closed by the broker: " + std::to_string(m->reply_code)
                              + " " + text(m->reply_text))};
    }
    default:
      return amqp_idle{}; // basic.return (not mandatory: none), consume-ok, ...
  }
}

} // namespace payengine::broker
