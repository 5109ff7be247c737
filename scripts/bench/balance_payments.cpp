// Load generator for balance payments over real HTTP (API.md v1.1 "Wallets"):
//   setup (not timed): WALLETS wallets, each topped up through the channel
//   (create -> pay -> the customer pays at paysim -> paid -> credited), and
//   enough orders created up front;
//   timed: THREADS clients each pay their orders from a wallet
//   (POST /v1/orders/{id}/pay {"method": "balance", "wallet": ...} -> 200 paid).
// Usage: pe_bench_balance ENGINE_PORT SIM_PORT API_KEY SECONDS THREADS WALLETS
// Prints: payments_per_s=..., p50_ms=..., p99_ms=..., failures=...
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

std::unique_ptr<httplib::Client> client(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_tcp_nodelay(true);
  c->set_keep_alive(true);
  c->set_read_timeout(std::chrono::seconds{40});
  return c;
}

/// Setup requests: shed ones (429/503, nothing changed) are sent again.
json post(httplib::Client& c, const httplib::Headers& auth, const std::string& path, const json& body,
          int expect) {
  auto r = c.Post(path.c_str(), auth, body.dump(), "application/json");
  for (int i = 0; i < 100 && r && (r->status == 503 || r->status == 429); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    r = c.Post(path.c_str(), auth, body.dump(), "application/json");
  }
  if (!r || r->status != expect) {
    std::fprintf(stderr, "POST %s: %d %s\n", path.c_str(), r ? r->status : 0, r ? r->body.c_str() : "");
    std::exit(1);
  }
  return json::parse(r->body);
}

/// A wallet credited with `amount` through a top-up order paid at paysim.
std::string funded_wallet(httplib::Client& engine, httplib::Client& sim, const httplib::Headers& auth,
                          const std::string& run, int n, int64_t amount) {
  auto wallet = post(engine, auth, "/v1/wallets",
                     {{"customer_ref", "bench-" + run + "-" + std::to_string(n)}, {"currency", "CNY"}}, 201)["id"]
                  .get<std::string>();
  auto order = post(engine, auth, "/v1/orders",
                    {{"merchant_order_no", "TOPUP-" + run + "-" + std::to_string(n)}, {"amount", amount},
                     {"currency", "CNY"}, {"subject", "top-up"}, {"channel", "alipay"},
                     {"topup_wallet", wallet}}, 201)["id"]
                 .get<std::string>();
  post(engine, auth, "/v1/orders/" + order + "/pay", json::object(), 202);
  auto awaiting = engine.Get(("/v1/orders/" + order + "?wait_for_change=30&version=2").c_str(), auth);
  auto qr = json::parse(awaiting->body)["payment"]["qr_code"].get<std::string>();
  sim.Post(qr.substr(qr.find('/', 7)).c_str(), R"({"result":"success"})", "application/json");
  for (int i = 0; i < 600; ++i) {
    auto w = engine.Get(("/v1/wallets/" + wallet).c_str(), auth);
    if (w && w->status == 200 && json::parse(w->body)["balance"]["posted"] == amount)
      return wallet;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  std::fprintf(stderr, "wallet %s was not credited\n", wallet.c_str());
  std::exit(1);
}

double percentile(std::vector<double>& xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, static_cast<size_t>(p * static_cast<double>(xs.size())))];
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s ENGINE_PORT SIM_PORT API_KEY SECONDS THREADS WALLETS\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int sim_port = std::atoi(argv[2]);
  const httplib::Headers auth = {{"Authorization", std::string{"Bearer "} + argv[3]}};
  const int seconds = std::atoi(argv[4]);
  const int threads = std::atoi(argv[5]);
  const int wallets_n = std::max(1, std::atoi(argv[6]));
  const std::string run = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  const int64_t amount = 100;

  auto engine = client(port);
  auto sim = client(sim_port);
  std::vector<std::string> wallets;
  for (int i = 0; i < wallets_n; ++i)
    wallets.push_back(funded_wallet(*engine, *sim, auth, run, i, 1'000'000'000));

  // Orders for the whole run, created before the clock starts (a client
  // that runs out stops early, which the count shows).
  const int per_thread = std::max(100, seconds * 1'000 / threads);
  std::vector<std::vector<std::string>> orders(threads);
  {
    std::vector<std::thread> creators;
    for (int t = 0; t < threads; ++t)
      creators.emplace_back([&, t] {
        auto c = client(port);
        for (int i = 0; i < per_thread; ++i)
          orders[t].push_back(post(*c, auth, "/v1/orders",
                                   {{"merchant_order_no", "B-" + run + "-" + std::to_string(t) + "-" + std::to_string(i)},
                                    {"amount", amount}, {"currency", "CNY"}, {"subject", "bench"},
                                    {"channel", "alipay"}}, 201)["id"]
                                .get<std::string>());
      });
    for (auto& c : creators)
      c.join();
  }

  std::fprintf(stderr, "timed phase: %d orders per client\n", per_thread);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> paid{0}, failures{0}, shed{0};
  std::vector<std::vector<double>> latencies(threads);
  auto started = clock_type::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto c = client(port);
      const auto& wallet = wallets[t % wallets.size()];
      json body = {{"method", "balance"}, {"wallet", wallet}};
      for (const auto& id : orders[t]) {
        if (stop)
          break;
        auto t0 = clock_type::now();
        auto path = "/v1/orders/" + id + "/pay";
        auto r = c->Post(path.c_str(), auth, body.dump(), "application/json");
        // Shed at the door (nothing changed): the client tries again, as
        // Retry-After asks, and the wait counts in its latency.
        while (r && (r->status == 503 || r->status == 429) && !stop) {
          ++shed;
          std::this_thread::sleep_for(std::chrono::milliseconds{10});
          r = c->Post(path.c_str(), auth, body.dump(), "application/json");
        }
        if (r && r->status == 200) {
          ++paid;
          latencies[t].push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
        } else if (!stop) {
          ++failures;
          if (failures < 5)
            std::fprintf(stderr, "pay %s: %d %s\n", id.c_str(), r ? r->status : 0, r ? r->body.c_str() : "");
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::seconds{seconds});
  stop = true;
  for (auto& w : workers)
    w.join();
  double elapsed = std::chrono::duration<double>(clock_type::now() - started).count();
  std::vector<double> all;
  for (auto& l : latencies)
    all.insert(all.end(), l.begin(), l.end());
  std::printf("payments=%llu failures=%llu shed_retries=%llu seconds=%.2f payments_per_s=%.1f p50_ms=%.2f p99_ms=%.2f wallets=%d\n",
              static_cast<unsigned long long>(paid.load()), static_cast<unsigned long long>(failures.load()),
              static_cast<unsigned long long>(shed.load()),
              elapsed, static_cast<double>(paid.load()) / elapsed, percentile(all, 0.50), percentile(all, 0.99),
              wallets_n);
  return failures.load() == 0 ? 0 : 1;
}
