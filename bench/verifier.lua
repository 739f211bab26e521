-- wrk script for bench/verifier.sh: POST pre-generated valid submissions
-- (one JSON body per line of BODIES, each with its own verifier nonce),
-- striped over wrk threads so no body is sent twice. Counts 200s and others.
local bodies_file = os.getenv("AHV_BENCH_BODIES")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  stride = tonumber(os.getenv("AHV_BENCH_THREADS"))
  bodies = {}
  for line in io.lines(bodies_file) do
    bodies[#bodies + 1] = line
  end
  pos = id + 1
  ok = 0
  bad = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local b = bodies[pos]
  if b == nil then
    b = "{}" -- exhausted: counted as not-ok, never accepted
  end
  pos = pos + stride
  return wrk.format(nil, "/v1/attest", nil, b)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    b = b + t:get("bad")
  end
  io.write(string.format("WRK ok=%d bad=%d duration_us=%d p50_us=%d p99_us=%d\n", o, b,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
