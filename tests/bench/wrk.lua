-- wrk script shared by every measurement in tests/bench/run.sh (copied from
-- the team's shared benchmark, ../shared/bench/wrk/bench.lua).
--
-- BENCH_POST_BYTES=N (environment) turns the request into a POST with an
-- N-byte body; wrk adds the Content-Length header itself.
-- done() prints one machine-readable line that run.sh parses, so nothing
-- depends on the layout of wrk's human-readable report.
local post_bytes = tonumber(os.getenv("BENCH_POST_BYTES") or "")
if post_bytes and post_bytes > 0 then
  wrk.method = "POST"
  wrk.body = string.rep("x", post_bytes)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d "
      .. "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
