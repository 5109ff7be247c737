-- wrk script: GET the path in PAYENGINE_BENCH_PATH with the merchant's key,
-- or, with PAYENGINE_BENCH_PATHS_FILE, each path of that file in turn.
-- Counts non-200 answers so a benchmark never reports failures as speed.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  local key = os.getenv("PAYENGINE_BENCH_KEY")
  headers = {}
  if key and key ~= "" then
    headers["Authorization"] = "Bearer " .. key
  end
  paths = {}
  local file = os.getenv("PAYENGINE_BENCH_PATHS_FILE")
  if file and file ~= "" then
    for line in io.lines(file) do
      table.insert(paths, line)
    end
  else
    table.insert(paths, os.getenv("PAYENGINE_BENCH_PATH"))
  end
  -- The threads start at different places in the list.
  next_path = (math.random(#paths) - 1)
end

function request()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path], headers)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do
    failed = failed + t:get("bad")
  end
  io.write(string.format("non_200=%d\n", failed))
  io.write(string.format("latency_p50_ms=%.2f latency_p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
