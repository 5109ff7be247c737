-- wrk script: POST /v1/orders with a unique merchant_order_no per request.
-- Counts non-201 answers so a benchmark never reports failures as speed.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  bad = 0
  prefix = string.format("B%d-%d-%d-", tid, os.time(), math.random(1000000))
  headers = {
    ["Authorization"] = "Bearer " .. os.getenv("PAYENGINE_BENCH_KEY"),
    ["Content-Type"] = "application/json",
  }
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"merchant_order_no":"%s%d","amount":8888,"currency":"CNY","subject":"bench","channel":"alipay"}',
    prefix, counter)
  return wrk.format("POST", "/v1/orders", headers, body)
end

function response(status, headers, body)
  if status ~= 201 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do
    failed = failed + t:get("bad")
  end
  io.write(string.format("non_201=%d\n", failed))
  io.write(string.format("latency_p50_ms=%.2f latency_p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
