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
  bad_503 = 0 -- refused, nothing changed (overload, a shard moving)
  bad_429 = 0
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
    if status == 503 then
      bad_503 = bad_503 + 1
      if not first_503 then first_503 = body end
    end
    if status == 429 then bad_429 = bad_429 + 1 end
  end
end

function done(summary, latency, requests)
  local failed, refused, limited = 0, 0, 0
  for _, t in ipairs(threads) do
    failed = failed + t:get("bad")
    refused = refused + t:get("bad_503")
    limited = limited + t:get("bad_429")
  end
  io.write(string.format("non_201=%d (503: %d, 429: %d, other: %d)\n", failed, refused, limited,
    failed - refused - limited))
  for _, t in ipairs(threads) do
    local b = t:get("first_503")
    if b then
      io.write("first_503=" .. string.sub(b, 1, 200) .. "\n")
      break
    end
  end
  io.write(string.format("latency_p50_ms=%.2f latency_p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
