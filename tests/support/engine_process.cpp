#include "tests/support/engine_process.hpp"

#include "tests/channels/test_keys.hpp"
#include "tests/support/child_process.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#ifndef PAYENGINE_BINARY
#error "PAYENGINE_BINARY must point at the payengine executable"
#endif

namespace payengine::testing {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {

/// What a sanitizer reported in the engine's output (scripts/test.sh
/// --sanitize), from its first line on (at most 80 lines); empty if nothing.
std::string sanitizer_report(const std::string& log_path) {
  std::ifstream in{log_path};
  std::string line, report;
  int lines = 0;
  while (std::getline(in, line) && lines < 80) {
    if (lines == 0 && line.find("ERROR: AddressSanitizer") == std::string::npos
        && line.find("ERROR: LeakSanitizer") == std::string::npos
        && line.find(": runtime error: ") == std::string::npos)
      continue;
    report += line + "\n";
    ++lines;
  }
  return report;
}

/// The last `n` lines of the engine's output.
std::string log_tail(const std::string& log_path, size_t n) {
  std::ifstream in{log_path};
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > n)
      lines.erase(lines.begin());
  }
  std::string tail;
  for (auto& l : lines)
    tail += l + "\n";
  return tail;
}

std::string write_temp(const std::string& dir, const std::string& name, const std::string& text) {
  auto path = dir + "/" + name;
  std::ofstream{path} << text;
  return path;
}

} // namespace

const channel_keys& test_channel_keys() {
  static const channel_keys keys = [] {
    char tmpl[] = "/tmp/payengine-keys-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    const auto& app = test::app_pems();
    const auto& channel = test::channel_pems();
    return channel_keys{write_temp(dir, "app_private.pem", app.private_pem),
                        write_temp(dir, "app_public.pem", app.public_pem),
                        write_temp(dir, "channel_private.pem", channel.private_pem),
                        write_temp(dir, "channel_public.pem", channel.public_pem),
                        write_temp(dir, "wechat_apiv3.key", test_apiv3_key)};
  }();
  return keys;
}

engine_process::engine_process(std::string database_url,
                               std::map<std::string, std::string> env)
  : database_url_(std::move(database_url)), env_(std::move(env)) {
  port_ = free_port();
  char tmpl[] = "/tmp/payengine-test-XXXXXX";
  auto fd = ::mkstemp(tmpl);
  ::close(fd);
  log_path_ = tmpl;
}

engine_process::~engine_process() {
  if (pid_ > 0)
    kill_hard();
  // A memory error or undefined behaviour in the engine fails the test that
  // met it, even if every answer it checked was right.
  if (auto report = sanitizer_report(log_path_); !report.empty())
    ADD_FAILURE() << "the engine's sanitizer report (" << log_path_ << "):\n" << report;
  else if (::testing::Test::HasFailure())
    std::fprintf(stderr, "the engine's last lines (%s):\n%s", log_path_.c_str(),
                 log_tail(log_path_, 30).c_str());
  if (std::getenv("PAYENGINE_TEST_KEEP_LOGS"))
    std::fprintf(stderr, "engine log kept: %s\n", log_path_.c_str());
  else
    ::unlink(log_path_.c_str());
}

void engine_process::start() {
  std::map<std::string, std::string> env = {
    {"PAYENGINE_DATABASE_URL", database_url_},
    {"PAYENGINE_LISTEN", "127.0.0.1:" + std::to_string(port_)},
    {"PAYENGINE_ADMIN_TOKEN", admin_token_},
    {"PAYENGINE_ALIPAY_GATEWAY_URL", "http://127.0.0.1:9/gateway.do"},
    {"PAYENGINE_ALIPAY_APP_ID", test_app_id},
    {"PAYENGINE_ALIPAY_PRIVATE_KEY_FILE", test_channel_keys().app_private},
    {"PAYENGINE_ALIPAY_PUBLIC_KEY_FILE", test_channel_keys().channel_public},
    // Every test endpoint is on loopback; the tests of the refusal itself
    // pass {"PAYENGINE_OUTBOUND_ALLOW", ""} (or a narrower list).
    {"PAYENGINE_OUTBOUND_ALLOW", "127.0.0.0/8"},
  };
  for (auto& [k, v] : env_)
    env[k] = v;
  std::vector<std::string> argv{PAYENGINE_BINARY};
  argv.insert(argv.end(), args_.begin(), args_.end());
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (log_fd < 0)
    FAIL() << "cannot open " << log_path_;
  // A child that dies with this process (tests/support/child_process.hpp).
  pid_ = spawn_child(argv, environment_with(env), {-1, log_fd, log_fd});
  ::close(log_fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  while (std::chrono::steady_clock::now() < deadline) {
    if (wait_child(pid_, std::chrono::milliseconds{0})) {
      pid_ = -1;
      FAIL() << "payengine exited at start:\n" << log();
    }
    httplib::Client c{"127.0.0.1", port_};
    c.set_connection_timeout(std::chrono::milliseconds{200});
    if (auto r = c.Get("/healthz"); r && r->status == 200)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  FAIL() << "payengine did not become healthy:\n" << log();
}

int engine_process::terminate() {
  if (pid_ <= 0)
    return -1;
  // Bounded: a process that does not stop in 20 s is a failed test, not a
  // hung one (it is killed and -2 returned).
  auto status = stop_child(pid_, std::chrono::seconds{20});
  pid_ = -1;
  return status.value_or(-2);
}

void engine_process::kill_hard() {
  if (pid_ <= 0)
    return;
  kill_child(pid_);
  pid_ = -1;
}

std::string engine_process::log() const {
  std::ifstream in{log_path_};
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = ss.str();
  return s.size() > 8000 ? s.substr(s.size() - 8000) : s;
}

std::unique_ptr<httplib::Client> engine_process::client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_tcp_nodelay(true);
  c->set_keep_alive(true);
  c->set_connection_timeout(std::chrono::seconds{5});
  c->set_read_timeout(std::chrono::seconds{60});
  c->set_write_timeout(std::chrono::seconds{10});
  return c;
}

http_result engine_process::request(const std::string& method, const std::string& path,
                                    const std::string& bearer, const std::string& body,
                                    httplib::Headers headers,
                                    const std::string& content_type) const {
  auto c = client();
  if (!bearer.empty())
    headers.emplace("Authorization", "Bearer " + bearer);
  httplib::Result r{nullptr, httplib::Error::Unknown};
  if (method == "GET")
    r = c->Get(path.c_str(), headers);
  else if (method == "POST")
    r = c->Post(path.c_str(), headers, body, content_type.c_str());
  else if (method == "DELETE")
    r = c->Delete(path.c_str(), headers);
  else if (method == "PUT")
    r = c->Put(path.c_str(), headers, body, content_type.c_str());
  else if (method == "PATCH")
    r = c->Patch(path.c_str(), headers, body, content_type.c_str());
  http_result out;
  if (!r) { // status 0: no answer
    out.raw = "no answer: " + httplib::to_string(r.error());
    return out;
  }
  out.status = r->status;
  out.raw = r->body;
  out.headers = r->headers;
  out.body = nlohmann::json::parse(r->body, nullptr, false);
  return out;
}

nlohmann::json engine_process::create_merchant(const std::string& name) const {
  auto r = request("POST", "/admin/merchants", admin_token_,
                   nlohmann::json{{"name", name}}.dump());
  EXPECT_EQ(r.status, 201) << r.raw;
  return r.body;
}

::testing::AssertionResult no_order_actor_restarts(const engine_process& engine) {
  // Named: everything below reads parts of it (a range-for over a part of a
  // temporary would read freed memory).
  const auto tree = engine.request("GET", "/admin/actors", engine.admin_token());
  if (tree.status != 200)
    return ::testing::AssertionFailure() << "GET /admin/actors answered " << tree.status << ": " << tree.raw;
  const auto& body = tree.body;
  auto shards = body.find("registry_shards");
  auto supervisor = body.find("supervisor");
  if (shards == body.end() || !shards->is_array() || supervisor == body.end()
      || !supervisor->contains("children"))
    return ::testing::AssertionFailure() << "not the actor tree: " << tree.raw;
  size_t expected = 0;
  for (const auto& child : supervisor->at("children"))
    expected += child.is_string() && child.get<std::string>().rfind("order_registry-", 0) == 0;
  if (expected == 0 || shards->size() != expected)
    return ::testing::AssertionFailure() << shards->size() << " of " << expected
                                         << " registry shards answered: " << tree.raw;
  for (const auto& shard : *shards) {
    auto restarts = shard.find("restarts");
    if (restarts == shard.end() || !restarts->is_number_unsigned())
      return ::testing::AssertionFailure() << "a shard without a restart count: " << shard.dump();
    if (*restarts != 0)
      return ::testing::AssertionFailure() << "order actors were restarted: " << shard.dump();
  }
  return ::testing::AssertionSuccess() << expected << " registry shards, no order actor restarted";
}

nlohmann::json order_body(const std::string& merchant_order_no, int64_t amount) {
  return {{"merchant_order_no", merchant_order_no}, {"amount", amount},
          {"currency", "CNY"}, {"subject", "Annual plan"}, {"channel", "alipay"}};
}

} // namespace payengine::testing
