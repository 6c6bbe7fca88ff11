-- wrk script: POST the same body on every request and print the results as one JSON line.
-- The body and its content type come from the environment so both servers get byte-for-byte
-- the request their own contract asks for:
--   WRK_BODY_FILE     file holding the request body
--   WRK_CONTENT_TYPE  its Content-Type
local file = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE")
wrk.headers["Accept"] = "application/json"

-- summary.errors.status counts answers outside 2xx/3xx: a fast server that answers
-- errors is not fast, so the harness refuses a run that has any.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "non2xx": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.status, e.connect, e.read, e.write, e.timeout))
end
