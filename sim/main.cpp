// paysim: the channel simulator (see /work/shared/API.md, "The channel simulator").
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include <httplib.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "channels/rsa_key.hpp"
#include "sim/config.hpp"
#include "sim/limits.hpp"
#include "sim/routes.hpp"
#include "sim/wechat_gateway.hpp"
#include "sim/wechat_keys.hpp"

namespace payengine::sim {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Bound to the configured address, or to any free port when it is 0; the
// listen backlog widened afterwards (Linux updates it in place).
int bind(httplib::Server& server, const sim_config& config, const int& listen_socket) {
  const int port = config.port == 0 ? server.bind_to_any_port(config.host)
                                    : (server.bind_to_port(config.host, config.port) ? config.port : -1);
  if (port >= 0) ::listen(listen_socket, limits::listen_backlog);
  return port;
}

void configure(httplib::Server& server, int& listen_socket) {
  server.new_task_queue = [] { return new httplib::ThreadPool(limits::http_threads); };
  server.set_tcp_nodelay(true);
  server.set_payload_max_length(limits::request_bytes_max);
  server.set_socket_options([&listen_socket](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // what the default options did
    listen_socket = sock;
  });
}

int serve(const sim_config& config, const channels::private_key& sim_key, const channels::public_key& app_key,
          const std::optional<wechat_keys>& wechat_identity) {
  httplib::Server server;
  int listen_socket = -1;
  configure(server, listen_socket);
  const int port = bind(server, config, listen_socket);
  if (port < 0) {
    std::cerr << "paysim: cannot listen on " << config.host << ":" << config.port << "\n";
    return 1;
  }
  const std::string address = "http://" + config.host + ":" + std::to_string(port);
  fault_state faults;
  trade_book trades(config.public_url.empty() ? address : config.public_url);
  notifier notices(config.time_scale, faults, [&trades](const attempt_report& r) {
    spdlog::info("{} notification {} for {}: {}{}", to_string(r.via), r.notify_id, r.out_trade_no, r.status,
                 r.given_up ? ", gave up" : "");
    trades.record_attempt(r.via, r.out_trade_no, r.notify_id, r.status, r.delivered, r.given_up);
  });
  gateway alipay_gateway(trades, notices, sim_key, app_key);
  std::optional<wechat_gateway> wechat;
  if (wechat_identity) wechat.emplace(trades, notices, *wechat_identity);
  sms_box sms;
  stop_flag stopping;
  services s{trades, notices, alipay_gateway, faults, sms, stopping, sim_key};
  if (wechat) {
    s.wechat = &*wechat;
    s.wechat_identity = &*wechat_identity;
  } else {
    spdlog::info("WeChat Pay not configured (PAYSIM_WECHAT_*): its routes answer 500");
  }
  register_routes(server, s);

  // Signals are blocked in every thread; this one alone takes them.
  std::atomic<bool> signalled{false};
  std::atomic<bool> listen_done{false};
  std::thread signal_waiter([&] {
    const sigset_t set = stop_signals();
    int signal_number = 0;
    sigwait(&set, &signal_number);
    signalled = true;
    stopping.raise();
    // stop() is a no-op before the accept loop runs: a signal arriving in
    // that instant waits for it (start-up only, a few milliseconds at most).
    while (!listen_done && !server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.stop();
  });
  std::cout << "paysim listening on " << address << std::endl;  // the only stdout line; tests read the port
  const bool clean = server.listen_after_bind();
  listen_done = true;
  if (!signalled) kill(getpid(), SIGTERM);  // release the waiter
  signal_waiter.join();
  notices.stop();
  spdlog::info("paysim stopped");
  return clean || signalled ? 0 : 1;
}

}  // namespace
}  // namespace payengine::sim

int main(int argc, char** argv) {
  using namespace payengine;
  const sigset_t signals = sim::stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread exists
  signal(SIGPIPE, SIG_IGN);  // a receiver hanging up is an error value, not death
  spdlog::set_default_logger(spdlog::stderr_color_mt("paysim"));  // stdout carries the listen line only
  auto parsed = sim::parse_config(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const auto& config = std::get<sim::sim_config>(parsed);
  const auto sim_key = channels::private_key::from_pem_file(config.private_key_file);
  if (!sim_key) {
    std::cerr << "paysim: private key " << config.private_key_file << ": " << sim_key.error().detail << "\n";
    return 1;
  }
  const auto app_key = channels::public_key::from_pem_file(config.app_public_key_file);
  if (!app_key) {
    std::cerr << "paysim: app public key " << config.app_public_key_file << ": " << app_key.error().detail << "\n";
    return 1;
  }
  auto wechat_identity = sim::load_wechat_keys(config.wechat);
  if (const auto* problem = std::get_if<std::string>(&wechat_identity)) {
    std::cerr << "paysim: " << *problem << "\n";
    return 1;
  }
  return sim::serve(config, *sim_key, *app_key, std::get<std::optional<sim::wechat_keys>>(wechat_identity));
}
