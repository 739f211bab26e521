-- wrk script for bench/verifier.sh: POST pre-generated valid submissions
-- (one JSON body per line of BODIES, each with its own verifier nonce),
-- striped over wrk threads so no body is sent twice. Each thread formats
-- its own requests once, in init (before the timed run), and no response
-- callback runs: wrk's own counters tell answers (requests) from non-2xx
-- and 3xx ones (errors.status), so the load generator spends its share of
-- the cores on the sockets, not on Lua.
local bodies_file = os.getenv("AHV_BENCH_BODIES")
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local stride = tonumber(os.getenv("AHV_BENCH_THREADS"))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  reqs = {}
  local n = 0
  for line in io.lines(bodies_file) do
    if n % stride == id then
      reqs[#reqs + 1] = wrk.format(nil, "/v1/attest", nil, line)
    end
    n = n + 1
  end
  -- exhausted: counted as not-ok, never accepted
  spent = wrk.format(nil, "/v1/attest", nil, "{}")
  pos = 0
end

function request()
  pos = pos + 1
  return reqs[pos] or spent
end

function done(summary, latency, requests)
  local bad = summary.errors.status
  io.write(string.format("WRK ok=%d bad=%d duration_us=%d p50_us=%d p99_us=%d\n", summary.requests - bad, bad,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
