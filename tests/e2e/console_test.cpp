// For operators: GET /admin/stream (Server-Sent Events of transitions and
// actor lifecycle, bounded per client), GET /console, and the console in a
// real browser (Debian's chromium, npm playwright-core).
#include "tests/support/child_process.hpp"
#include "tests/support/engine_process.hpp"
#include "tests/support/paysim_for_tests.hpp"
#include "tests/support/test_db.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace payengine {
namespace {

using json = nlohmann::json;
using testing::engine_process;
using testing::order_body;
using testing::start_paysim;
using testing::test_database;
using namespace std::chrono_literals;

/// A client of GET /admin/stream on its own thread: keeps every frame
/// (event type + JSON data) and lets the test wait for one.
class stream_reader {
public:
  struct frame {
    std::string event;
    json data;
  };

  stream_reader(int port, const std::string& token) {
    thread_ = std::thread([this, port, token] {
      httplib::Client c{"127.0.0.1", port};
      c.set_read_timeout(5, 0);
      std::string buffer;
      auto r = c.Get("/admin/stream", {{"Authorization", "Bearer " + token}},
                     [&](const httplib::Response& res) {
                       std::lock_guard lock{mtx_};
                       status_ = res.status;
                       cv_.notify_all();
                       return res.status == 200;
                     },
                     [&](const char* data, size_t len) {
                       buffer.append(data, len);
                       for (auto cut = buffer.find("\n\n"); cut != std::string::npos;
                            cut = buffer.find("\n\n")) {
                         add(buffer.substr(0, cut));
                         buffer.erase(0, cut + 2);
                       }
                       return !stop_.load();
                     });
      std::lock_guard lock{mtx_};
      ended_ = true;
      cv_.notify_all();
    });
  }
  ~stream_reader() {
    stop_ = true;
    thread_.join();
  }

  /// Waits (bounded) for a frame matching `pred`.
  std::optional<frame> wait_for(const std::function<bool(const frame&)>& pred,
                                std::chrono::seconds limit = 20s) {
    std::unique_lock lock{mtx_};
    std::optional<frame> found;
    cv_.wait_for(lock, limit, [&] {
      for (const auto& f : frames_)
        if (pred(f)) {
          found = f;
          return true;
        }
      return ended_;
    });
    return found;
  }

  std::optional<frame> wait_for_event(const std::string& event, const std::string& type,
                                      const std::string& order_id) {
    return wait_for([&](const frame& f) {
      return f.event == event && f.data.value("type", "") == type
             && f.data.value("order_id", "") == order_id;
    });
  }

  /// True once connected and subscribed: events from now on reach it.
  bool subscribed() {
    return wait_for([](const frame& f) { return f.event == "hello"; }).has_value();
  }

  int status() {
    std::unique_lock lock{mtx_};
    cv_.wait_for(lock, 10s, [&] { return status_ != 0 || ended_; });
    return status_;
  }

  std::vector<frame> frames() {
    std::lock_guard lock{mtx_};
    return frames_;
  }

private:
  void add(const std::string& block) {
    frame f;
    std::string data;
    size_t pos = 0;
    while (pos < block.size()) {
      auto end = block.find('\n', pos);
      auto line = block.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      if (line.rfind("event: ", 0) == 0)
        f.event = line.substr(7);
      else if (line.rfind("data: ", 0) == 0)
        data += line.substr(6);
      pos = end == std::string::npos ? block.size() : end + 1;
    }
    if (data.empty())
      return;
    f.data = json::parse(data); // a malformed frame fails the test loudly
    std::lock_guard lock{mtx_};
    frames_.push_back(std::move(f));
    cv_.notify_all();
  }

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<frame> frames_;
  int status_ = 0;
  bool ended_ = false;
};

/// A stream client that sends its request and then never reads: its
/// receive window stays tiny and closed.
class stuck_client {
public:
  stuck_client(int port, const std::string& token) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 1024;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    std::string request = "GET /admin/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                          + token + "\r\n\r\n";
    connected_ = connected_ && ::send(fd_, request.data(), request.size(), 0) == ssize_t(request.size());
  }
  ~stuck_client() { ::close(fd_); }
  bool connected() const { return connected_; }

private:
  int fd_ = -1;
  bool connected_ = false;
};

class console_test : public ::testing::Test {
protected:
  // Here, not only in start(): a skip inside a helper returns from the
  // helper, and the test would go on with no engine.
  void SetUp() override { PE_REQUIRE_DATABASE(); }

  void start(std::vector<std::string> args = {}) {
    PE_REQUIRE_DATABASE();
    sim_ = start_paysim();
    db_ = std::make_unique<test_database>("console");
    engine_ = std::make_unique<engine_process>(
      db_->url(), std::map<std::string, std::string>{
                    {"PAYENGINE_ALIPAY_GATEWAY_URL", sim_->url() + "/gateway.do"},
                    {"PAYENGINE_TIME_SCALE", "100"}});
    engine_->set_args(std::move(args));
    engine_->start();
    key_ = engine_->create_merchant()["api_key"].get<std::string>();
  }

  std::string create(const std::string& no) {
    auto r = engine_->request("POST", "/v1/orders", key_, order_body(no).dump());
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", "");
  }

  /// Pays `id` at paysim as a customer would, once the QR code is there.
  void pay(const std::string& id) {
    ASSERT_EQ(engine_->request("POST", "/v1/orders/" + id + "/pay", key_, "{}").status, 202);
    json o = json::object();
    for (int i = 0; i < 40; ++i) {
      o = engine_->request("GET", "/v1/orders/" + id + "?wait_for_change=5&version="
                                    + std::to_string(o.value("version", 0)), key_).body;
      if (o["status"] == "awaiting_payment")
        break;
    }
    ASSERT_EQ(o["status"], "awaiting_payment") << o.dump();
    auto qr = o["payment"]["qr_code"].get<std::string>();
    httplib::Client c{"127.0.0.1", sim_->port()};
    auto r = c.Post(qr.substr(qr.find('/', 7)).c_str(), R"({"result":"success"})", "application/json");
    ASSERT_TRUE(r && r->status == 200);
  }

  std::unique_ptr<test::paysim_process> sim_;
  std::unique_ptr<test_database> db_;
  std::unique_ptr<engine_process> engine_;
  std::string key_;
};

TEST_F(console_test, the_stream_needs_the_admin_token) {
  start();
  auto r = engine_->request("GET", "/admin/stream", key_);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body["error"]["type"], "authentication_error");
}

TEST_F(console_test, the_stream_tells_transitions_and_actor_lifecycle) {
  start();
  stream_reader stream{engine_->port(), engine_->admin_token()};
  ASSERT_EQ(stream.status(), 200);
  ASSERT_TRUE(stream.subscribed());
  auto id = create("S-1");
  pay(id);

  auto spawned = stream.wait_for_event("lifecycle", "spawn", id);
  ASSERT_TRUE(spawned);
  EXPECT_EQ(spawned->data["reason"], "created");
  auto created = stream.wait_for_event("transition", "transition", id);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->data["event"], "order.created");
  EXPECT_EQ(created->data["to"], "created");
  EXPECT_EQ(created->data["version"], 1);
  EXPECT_EQ(created->data["amount"], 8888);
  EXPECT_EQ(created->data["currency"], "CNY");
  EXPECT_TRUE(created->data["request_id"].is_string());
  auto paid = stream.wait_for([&](const stream_reader::frame& f) {
    return f.event == "transition" && f.data["order_id"] == id && f.data["event"] == "order.paid";
  });
  ASSERT_TRUE(paid);
  EXPECT_EQ(paid->data["from"], "awaiting_payment");
  EXPECT_EQ(paid->data["to"], "paid");
  EXPECT_EQ(paid->data["version"], 4);

  // The operator kills the actor: a crash, then a restart from storage.
  ASSERT_EQ(engine_->request("POST", "/admin/actors/" + id + "/kill", engine_->admin_token(), "{}").status, 202);
  auto crash = stream.wait_for_event("lifecycle", "crash", id);
  ASSERT_TRUE(crash);
  EXPECT_NE(crash->data["reason"].get<std::string>().find("kill"), std::string::npos);
  auto restart = stream.wait_for_event("lifecycle", "restart", id);
  ASSERT_TRUE(restart);
  EXPECT_NE(restart->data["actor_id"], spawned->data["actor_id"]);
  // The restarted actor holds the stored state.
  auto actor = engine_->request("GET", "/admin/actors/" + id, engine_->admin_token());
  EXPECT_EQ(actor.body["status"], "paid");
  EXPECT_EQ(actor.body["restarts"], 1);

  // The order's transitions arrive in version order.
  int64_t last_version = 0;
  for (const auto& f : stream.frames())
    if (f.event == "transition" && f.data["order_id"] == id && f.data["type"] == "transition") {
      EXPECT_GT(f.data["version"].get<int64_t>(), last_version) << f.data.dump();
      last_version = f.data["version"].get<int64_t>();
    }
  EXPECT_EQ(last_version, 4);

  // Stats frames carry the HTTP rate and the actor tree.
  auto stats = stream.wait_for([](const stream_reader::frame& f) {
    return f.event == "stats" && f.data["http"]["requests_per_s"].get<double>() > 0;
  });
  ASSERT_TRUE(stats);
  const auto& tree = stats->data["tree"];
  EXPECT_EQ(tree["supervisor"]["kind"], "supervisor");
  EXPECT_FALSE(tree["registry_shards"].empty());
  EXPECT_EQ(tree["storage_writers"][0]["connected"], true);
  EXPECT_EQ(tree["gateways"][0]["circuit"], "closed");
  EXPECT_TRUE(tree["notifier"]["queue_depth"].is_number());
  EXPECT_EQ(tree["inspector"]["stream_clients"], 1);
}

TEST_F(console_test, a_killed_engine_actor_makes_the_supervisor_restart_the_engine_from_storage) {
  start();
  stream_reader stream{engine_->port(), engine_->admin_token()};
  ASSERT_TRUE(stream.subscribed());
  auto a = create("SUP-A");
  ASSERT_EQ(engine_->request("POST", "/v1/orders/" + a + "/cancel", key_, "{}").status, 200);
  const auto& admin = engine_->admin_token();
  EXPECT_EQ(engine_->request("POST", "/admin/actors/no_such_actor/kill", admin, "{}").status, 404);
  auto writer = engine_->request("GET", "/admin/actors/storage_writer-0", admin);
  ASSERT_EQ(writer.status, 200) << writer.raw;
  EXPECT_EQ(writer.body["kind"], "storage_writer");

  for (const std::string victim : {"storage_writer-0", "order_registry-1", "notifier"}) {
    auto killed = engine_->request("POST", "/admin/actors/" + victim + "/kill", admin, "{}");
    ASSERT_EQ(killed.status, 202) << killed.raw;
    auto crash = stream.wait_for([&](const stream_reader::frame& f) {
      return f.event == "lifecycle" && f.data["type"] == "crash" && f.data.value("actor", "") == victim;
    });
    ASSERT_TRUE(crash) << victim;
    auto restart = stream.wait_for([&](const stream_reader::frame& f) {
      return f.event == "lifecycle" && f.data["type"] == "restart" && f.data.value("actor", "") == "engine"
             && f.data["reason"].get<std::string>().find(victim) != std::string::npos;
    });
    ASSERT_TRUE(restart) << victim;
    // What was committed is there; new work goes through the new actors.
    auto got = engine_->request("GET", "/v1/orders/" + a, key_);
    ASSERT_EQ(got.status, 200) << victim << got.raw;
    EXPECT_EQ(got.body["status"], "cancelled");
    EXPECT_EQ(got.body["version"], 2);
    auto b = create("SUP-after-" + victim);
    EXPECT_EQ(engine_->request("POST", "/v1/orders/" + b + "/cancel", key_, "{}").status, 200);
    EXPECT_EQ(engine_->request("GET", "/readyz", "").status, 200);
  }
  auto tree = engine_->request("GET", "/admin/actors", admin).body;
  EXPECT_EQ(tree["supervisor"]["restarts"], 3);
  EXPECT_EQ(tree["supervisor"]["last_child"], "notifier");
  EXPECT_EQ(tree["supervisor"]["gave_up"], false);
  auto metrics = engine_->request("GET", "/metrics", admin).raw;
  EXPECT_NE(metrics.find("payengine_engine_restarts_total 3"), std::string::npos);
  // No order actor was left behind by its killed shard: SIGTERM stops it all.
  EXPECT_EQ(engine_->terminate(), 0);
}

TEST_F(console_test, too_many_restarts_and_the_supervisor_gives_up_visibly) {
  start({"--engine-restarts-max", "1"});
  const auto& admin = engine_->admin_token();
  ASSERT_EQ(engine_->request("POST", "/admin/actors/storage_writer-0/kill", admin, "{}").status, 202);
  for (int i = 0; i < 100; ++i)
    if (engine_->request("GET", "/admin/actors", admin).body["supervisor"]["restarts"] == 1)
      break;
  ASSERT_EQ(engine_->request("GET", "/readyz", "").status, 200);
  ASSERT_EQ(engine_->request("POST", "/admin/actors/storage_writer-0/kill", admin, "{}").status, 202);
  testing::http_result ready;
  for (int i = 0; i < 100; ++i) {
    ready = engine_->request("GET", "/readyz", "");
    if (ready.status == 503)
      break;
  }
  EXPECT_EQ(ready.status, 503);
  EXPECT_FALSE(ready.headers.find("Retry-After") == ready.headers.end());
  EXPECT_EQ(engine_->request("GET", "/admin/actors", admin).body["supervisor"]["gave_up"], true);
  // Requests fail cleanly (no hang, no 500) while the engine is down.
  auto r = engine_->request("POST", "/v1/orders", key_, order_body("SUP-down").dump());
  EXPECT_EQ(r.status, 503) << r.raw;
}

TEST_F(console_test, stream_clients_are_bounded) {
  start({"--stream-clients-max", "2"});
  stream_reader a{engine_->port(), engine_->admin_token()};
  stream_reader b{engine_->port(), engine_->admin_token()};
  ASSERT_TRUE(a.subscribed());
  ASSERT_TRUE(b.subscribed());
  auto third = engine_->request("GET", "/admin/stream", engine_->admin_token());
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(third.body["error"]["code"], "too_many_streams");
  EXPECT_FALSE(third.headers.find("Retry-After") == third.headers.end());
}

TEST_F(console_test, a_client_that_does_not_read_loses_events_and_slows_nobody) {
  // Every client's buffer: 2,048 events (half a second of this load), room
  // for the reading client's scheduling hiccups on a busy 2-core machine.
  start({"--stream-buffer-max", "2048"});
  stuck_client stuck{engine_->port(), engine_->admin_token()};
  ASSERT_TRUE(stuck.connected());
  stream_reader reader{engine_->port(), engine_->admin_token()};
  ASSERT_TRUE(reader.subscribed());
  // Both subscribed (the stuck one before the reader).
  for (int i = 0; i < 100; ++i) {
    auto tree = engine_->request("GET", "/admin/actors?limit=1", engine_->admin_token()).body;
    if (tree["inspector"]["stream_clients"] == 2)
      break;
  }
  // Orders until the stuck client's buffers are full and the engine drops
  // its events: its 2,048-event buffer, after the kernel's socket buffers
  // (up to 4 MiB here) took their share. Four merchants' threads at once.
  std::atomic<int> orders{0};
  std::atomic<int> refused{0};
  uint64_t dropped = 0;
  std::string last;
  while (dropped == 0 && orders < 40'000) {
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t)
      clients.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) {
          auto no = "STUCK-" + std::to_string(t) + "-" + std::to_string(orders.fetch_add(1));
          if (engine_->request("POST", "/v1/orders", key_, order_body(no).dump()).status != 201)
            ++refused;
        }
      });
    for (auto& c : clients)
      c.join();
    last = create("STUCK-last-" + std::to_string(orders.load()));
    auto tree = engine_->request("GET", "/admin/actors?limit=1", engine_->admin_token()).body;
    dropped = tree["inspector"]["stream_dropped"].get<uint64_t>();
    EXPECT_LT(tree["inspector"]["mailbox_depth"].get<uint64_t>(), 100u);
  }
  EXPECT_GT(dropped, 0u) << orders << " orders did not fill the stuck client's buffers";
  EXPECT_EQ(refused, 0);
  std::cout << orders << " orders until the stuck client lost events; " << dropped << " dropped\n";
  // The reading client saw the last order at once and lost nothing.
  auto seen = reader.wait_for_event("transition", "transition", last);
  ASSERT_TRUE(seen);
  size_t created = 0;
  for (const auto& f : reader.frames()) {
    EXPECT_NE(f.event, "dropped");
    if (f.event == "transition" && f.data["event"] == "order.created")
      ++created;
  }
  EXPECT_GE(created, size_t(orders.load()));
}

TEST_F(console_test, the_console_page_is_self_contained) {
  start();
  auto anonymous = engine_->request("GET", "/console", "");
  EXPECT_EQ(anonymous.status, 401); // the login page, with the status the route asks for
  EXPECT_NE(anonymous.raw.find("<title>payengine console</title>"), std::string::npos);
  auto headers = anonymous.headers;
  ASSERT_NE(headers.find("Content-Type"), headers.end());
  EXPECT_EQ(headers.find("Content-Type")->second, "text/html; charset=utf-8");
  auto csp = headers.find("Content-Security-Policy");
  ASSERT_NE(csp, headers.end());
  EXPECT_NE(csp->second.find("script-src 'sha256-"), std::string::npos);
  EXPECT_NE(csp->second.find("connect-src 'self'"), std::string::npos);
  // Nothing is fetched from elsewhere: no external script, style or font.
  EXPECT_EQ(anonymous.raw.find("http://"), std::string::npos);
  EXPECT_EQ(anonymous.raw.find("https://"), std::string::npos);
  EXPECT_EQ(anonymous.raw.find("<script src"), std::string::npos);
  auto admin = engine_->request("GET", "/console", engine_->admin_token());
  EXPECT_EQ(admin.status, 200);
  EXPECT_EQ(admin.raw, anonymous.raw);
}

TEST_F(console_test, in_a_browser_an_operator_watches_an_order_get_paid_and_its_actor_restart) {
  const char* node_checks = std::getenv("PAYENGINE_NODE_CHECKS");
  if (!node_checks)
    GTEST_SKIP() << "PAYENGINE_NODE_CHECKS not set (scripts/test.sh sets it)";
  start();
  std::string screenshot = std::string{PAYENGINE_TEST_OUTPUT_DIR} + "/console.png";
  std::remove(screenshot.c_str());
  auto cmd = std::string{"node "} + node_checks + "/console_check.mjs http://127.0.0.1:"
             + std::to_string(engine_->port()) + " " + engine_->admin_token() + " " + key_ + " "
             + screenshot;
  auto check = testing::run_command(cmd);
  ASSERT_EQ(check.status, 0) << cmd << "\n" << check.output << "\n" << engine_->log().substr(0, 4000);
  std::ifstream png{screenshot, std::ios::binary};
  std::string magic(8, '\0');
  png.read(magic.data(), 8);
  EXPECT_EQ(magic, "\x89PNG\r\n\x1a\n");
}

} // namespace
} // namespace payengine
