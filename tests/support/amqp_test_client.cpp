#include "tests/support/amqp_test_client.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

namespace payengine::testing {

namespace {

amqp_connection_state_t state(void* p) {
  return static_cast<amqp_connection_state_t>(p);
}

std::string str(amqp_bytes_t b) {
  return b.bytes ? std::string{static_cast<const char*>(b.bytes), b.len} : std::string{};
}

amqp_bytes_t bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

amqp_message from(const std::string& queue, const amqp_envelope_t& e) {
  amqp_message m;
  m.queue = queue;
  m.exchange = str(e.exchange);
  m.routing_key = str(e.routing_key);
  m.body = str(e.message.body);
  m.redelivered = e.redelivered != 0;
  m.received_at = std::chrono::system_clock::now();
  const auto& p = e.message.properties;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
    m.message_id = str(p.message_id);
  if (p._flags & AMQP_BASIC_TYPE_FLAG)
    m.type = str(p.type);
  if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
    m.delivery_mode = p.delivery_mode;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG)
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const auto& entry = p.headers.entries[i];
      if (entry.value.kind == AMQP_FIELD_KIND_UTF8 || entry.value.kind == AMQP_FIELD_KIND_BYTES)
        m.headers[str(entry.key)] = str(entry.value.value.bytes);
    }
  return m;
}

} // namespace

std::string test_amqp_url() {
  const char* url = std::getenv("PAYENGINE_TEST_AMQP_URL");
  return url ? url : "";
}

bool rabbitmqctl(const std::string& args) {
  const char* ctl = std::getenv("PAYENGINE_TEST_RABBITMQCTL");
  if (!ctl || !*ctl)
    return false;
  auto cmd = std::string{ctl} + " -q " + args + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

amqp_test_client::amqp_test_client(const std::string& url) {
  std::vector<char> buf(url.begin(), url.end());
  buf.push_back('\0');
  amqp_connection_info info;
  if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK) {
    ADD_FAILURE() << "bad AMQP URL " << url;
    return;
  }
  auto conn = amqp_new_connection();
  auto* socket = amqp_tcp_socket_new(conn);
  struct timeval tv{5, 0};
  if (amqp_socket_open_noblock(socket, info.host, info.port, &tv) != AMQP_STATUS_OK) {
    amqp_destroy_connection(conn);
    ADD_FAILURE() << "cannot reach the broker at " << url;
    return;
  }
  amqp_set_rpc_timeout(conn, &tv);
  auto r = amqp_login(conn, "/", 1, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    amqp_destroy_connection(conn);
    ADD_FAILURE() << "cannot log in to the broker at " << url;
    return;
  }
  amqp_channel_open(conn, 1);
  conn_ = conn;
  check("channel.open");
  amqp_confirm_select(state(conn_), 1);
  check("confirm.select");
}

amqp_test_client::~amqp_test_client() {
  if (!conn_)
    return;
  amqp_channel_close(state(conn_), 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(state(conn_), AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(state(conn_));
}

void amqp_test_client::check(const char* what) {
  auto r = amqp_get_rpc_reply(state(conn_));
  EXPECT_EQ(r.reply_type, AMQP_RESPONSE_NORMAL) << what << " failed";
}

void amqp_test_client::declare_exchange(const std::string& name) {
  amqp_exchange_declare(state(conn_), 1, bytes(name), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                        amqp_empty_table);
  check("exchange.declare");
}

void amqp_test_client::declare_queue(const std::string& name) {
  amqp_queue_declare(state(conn_), 1, bytes(name), 0, 1, 0, 0, amqp_empty_table);
  check("queue.declare");
}

void amqp_test_client::bind(const std::string& queue, const std::string& exchange,
                            const std::string& key) {
  amqp_queue_bind(state(conn_), 1, bytes(queue), bytes(exchange), bytes(key), amqp_empty_table);
  check("queue.bind");
}

void amqp_test_client::purge(const std::string& queue) {
  amqp_queue_purge(state(conn_), 1, bytes(queue));
  check("queue.purge");
}

void amqp_test_client::delete_queue(const std::string& queue) {
  amqp_queue_delete(state(conn_), 1, bytes(queue), 0, 0);
  check("queue.delete");
}

uint32_t amqp_test_client::ready(const std::string& queue) {
  auto* ok = amqp_queue_declare(state(conn_), 1, bytes(queue), 1, 1, 0, 0, amqp_empty_table);
  check("queue.declare (passive)");
  return ok ? ok->message_count : 0;
}

void amqp_test_client::publish(const std::string& exchange, const std::string& routing_key,
                               const std::string& body, const std::string& message_id) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  props.delivery_mode = 2;
  props.content_type = amqp_cstring_bytes("application/json");
  if (!message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = bytes(message_id);
  }
  ASSERT_EQ(amqp_basic_publish(state(conn_), 1, bytes(exchange), bytes(routing_key), 0, 0, &props,
                               bytes(body)),
            AMQP_STATUS_OK);
  ++published_;
  // Wait for this publish's confirm (a test publishes one at a time).
  for (;;) {
    amqp_frame_t frame;
    struct timeval tv{10, 0};
    ASSERT_EQ(amqp_simple_wait_frame_noblock(state(conn_), &frame, &tv), AMQP_STATUS_OK)
      << "no confirm from the broker";
    if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      if (ack->delivery_tag >= published_)
        return;
    }
  }
}

std::vector<amqp_message> amqp_test_client::take(const std::string& queue, size_t n,
                                                 std::chrono::milliseconds limit) {
  bool consuming = false;
  for (const auto& [tag, q] : consumers_)
    consuming = consuming || q == queue;
  if (!consuming) {
    auto* ok = amqp_basic_consume(state(conn_), 1, bytes(queue), amqp_empty_bytes, 0, 1, 0,
                                  amqp_empty_table);
    check("basic.consume");
    if (!ok)
      return {};
    consumers_[str(ok->consumer_tag)] = queue;
  }
  auto& mine = buffered_[queue];
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (mine.size() < n && std::chrono::steady_clock::now() < deadline) {
    amqp_maybe_release_buffers(state(conn_));
    amqp_envelope_t envelope;
    struct timeval tv{0, 100'000};
    auto r = amqp_consume_message(state(conn_), &envelope, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
      continue;
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      // Something other than a delivery (a late confirm): read and drop it.
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
          && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        amqp_frame_t frame;
        if (amqp_simple_wait_frame(state(conn_), &frame) == AMQP_STATUS_OK)
          continue;
      }
      ADD_FAILURE() << "the test's AMQP connection failed";
      break;
    }
    auto tag = str(envelope.consumer_tag);
    auto q = consumers_.count(tag) ? consumers_[tag] : queue;
    buffered_[q].push_back(from(q, envelope));
    amqp_destroy_envelope(&envelope);
  }
  auto out = std::move(mine);
  mine.clear();
  return out;
}

} // namespace payengine::testing
