// Load generator for full payment cycles over real HTTP:
//   create order -> pay -> (long poll) QR code -> the customer pays at the
//   channel -> (long poll) paid, the engine having received and committed
//   the channel's signed notification.
// A request refused with 503 and `Payengine-Nothing-Changed: true` (the
// front's admission control) is retried after its Retry-After, as a
// merchant's client would, and counted as `refused`, not as a failure.
// Usage: pe_bench_payment_cycles ENGINE_PORT SIM_PORT API_KEY SECONDS THREADS
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

struct worker_result {
  uint64_t cycles = 0;
  uint64_t failures = 0;
  uint64_t refused = 0;
  std::vector<double> latencies_ms;
  /// Per step of a completed cycle (see steps), in milliseconds.
  std::vector<std::vector<double>> step_ms = std::vector<std::vector<double>>(5);
};

/// The steps of a cycle, as timed by the customer.
const char* const steps[] = {"create", "pay", "wait_qr", "customer_pays", "wait_paid"};

/// Sends with `send` until the answer is not a refusal that changed
/// nothing; waits each refusal's Retry-After (1 to 5 s) first.
template <class Send>
httplib::Result honoring_retry_after(worker_result& out, clock_type::time_point until, Send send) {
  for (;;) {
    auto r = send();
    if (!r || r->status != 503 || r->get_header_value("Payengine-Nothing-Changed") != "true"
        || clock_type::now() >= until)
      return r;
    out.refused++;
    auto wait_s = std::clamp(std::atoi(r->get_header_value("Retry-After").c_str()), 1, 5);
    std::this_thread::sleep_for(std::chrono::seconds{wait_s});
  }
}

std::unique_ptr<httplib::Client> client(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_tcp_nodelay(true);
  c->set_keep_alive(true);
  c->set_read_timeout(std::chrono::seconds{40});
  return c;
}

/// Tells the first few failures, each with its step and answer (stderr).
void report_failure(const char* step, const httplib::Result& r) {
  static std::atomic<int> told{0};
  if (told++ < 5)
    std::fprintf(stderr, "failed at %s: %s %s\n", step, r ? std::to_string(r->status).c_str() : "no answer",
                 r ? r->body.substr(0, 300).c_str() : httplib::to_string(r.error()).c_str());
}

/// One cycle; false (counted as a failure) if any step does not end as it should.
bool cycle(httplib::Client& engine, httplib::Client& sim, const httplib::Headers& auth,
           const std::string& no, worker_result& out, clock_type::time_point until) {
  double took[5];
  auto mark = clock_type::now();
  auto lap = [&](int step) {
    auto now = clock_type::now();
    took[step] = std::chrono::duration<double, std::milli>(now - mark).count();
    mark = now;
  };
  json body = {{"merchant_order_no", no}, {"amount", 8888}, {"currency", "CNY"},
               {"subject", "bench"}, {"channel", "alipay"}};
  auto created = honoring_retry_after(out, until, [&] {
    return engine.Post("/v1/orders", auth, body.dump(), "application/json");
  });
  if (!created || created->status != 201)
    return report_failure("create", created), false;
  lap(0);
  auto id = json::parse(created->body)["id"].get<std::string>();
  auto paying = honoring_retry_after(out, until, [&] {
    return engine.Post(("/v1/orders/" + id + "/pay").c_str(), auth, "", "application/json");
  });
  if (!paying || paying->status != 202)
    return report_failure("pay", paying), false;
  lap(1);
  auto wait = [&](int version) {
    return engine.Get(("/v1/orders/" + id + "?wait_for_change=30&version=" + std::to_string(version)).c_str(), auth);
  };
  auto awaiting = wait(2);
  if (!awaiting || awaiting->status != 200 || json::parse(awaiting->body)["status"] != "awaiting_payment")
    return report_failure("wait for the QR code", awaiting), false;
  lap(2);
  auto qr = json::parse(awaiting->body)["payment"]["qr_code"].get<std::string>();
  auto path = qr.substr(qr.find('/', 7));
  auto scanned = sim.Post(path.c_str(), R"({"result":"success"})", "application/json");
  if (!scanned || scanned->status != 200)
    return report_failure("the customer pays", scanned), false;
  lap(3);
  auto paid = wait(3);
  if (!paid || paid->status != 200 || json::parse(paid->body)["status"] != "paid")
    return report_failure("wait for paid", paid), false;
  lap(4);
  for (int i = 0; i < 5; ++i)
    out.step_ms[i].push_back(took[i]);
  return true;
}

void run(int engine_port, int sim_port, const std::string& key, clock_type::time_point until,
         int index, worker_result& out) {
  auto engine = client(engine_port);
  auto sim = client(sim_port);
  httplib::Headers auth{{"Authorization", "Bearer " + key}};
  auto prefix = "PC-" + std::to_string(index) + "-" +
                std::to_string(clock_type::now().time_since_epoch().count()) + "-";
  for (uint64_t i = 0; clock_type::now() < until; ++i) {
    auto started = clock_type::now();
    if (!cycle(*engine, *sim, auth, prefix + std::to_string(i), out, until)) {
      out.failures++;
      continue;
    }
    out.cycles++;
    out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - started).count());
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s ENGINE_PORT SIM_PORT API_KEY SECONDS THREADS\n", argv[0]);
    return 2;
  }
  auto engine_port = std::stoi(argv[1]);
  auto sim_port = std::stoi(argv[2]);
  std::string key = argv[3];
  auto seconds = std::stoi(argv[4]);
  auto threads = std::stoi(argv[5]);
  std::vector<worker_result> results(threads);
  std::vector<std::thread> workers;
  auto started = clock_type::now();
  auto until = started + std::chrono::seconds{seconds};
  for (int t = 0; t < threads; ++t)
    workers.emplace_back(run, engine_port, sim_port, key, until, t, std::ref(results[t]));
  for (auto& w : workers)
    w.join();
  auto elapsed = std::chrono::duration<double>(clock_type::now() - started).count();
  worker_result all;
  for (auto& r : results) {
    all.cycles += r.cycles;
    all.failures += r.failures;
    all.refused += r.refused;
    all.latencies_ms.insert(all.latencies_ms.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    for (int i = 0; i < 5; ++i)
      all.step_ms[i].insert(all.step_ms[i].end(), r.step_ms[i].begin(), r.step_ms[i].end());
  }
  std::sort(all.latencies_ms.begin(), all.latencies_ms.end());
  auto pct = [&](double q) {
    return all.latencies_ms.empty() ? 0.0 : all.latencies_ms[static_cast<size_t>(q * (all.latencies_ms.size() - 1))];
  };
  std::printf("cycles=%llu failures=%llu refused=%llu seconds=%.1f cycles_per_s=%.1f p50_ms=%.1f p99_ms=%.1f\n",
              static_cast<unsigned long long>(all.cycles), static_cast<unsigned long long>(all.failures),
              static_cast<unsigned long long>(all.refused), elapsed, all.cycles / elapsed, pct(0.5), pct(0.99));
  // Where a cycle's time goes, as the customer sees it.
  for (int i = 0; i < 5; ++i) {
    auto& v = all.step_ms[i];
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v.empty() ? 0.0 : v[static_cast<size_t>(q * (v.size() - 1))]; };
    std::printf("step=%s p50_ms=%.1f p99_ms=%.1f\n", steps[i], at(0.5), at(0.99));
  }
  return all.failures == 0 ? 0 : 1;
}
