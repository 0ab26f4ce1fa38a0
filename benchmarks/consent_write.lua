-- wrk script for benchmarks/consent_write.py.
--
--   wrk ... http://127.0.0.1:PORT/_consent -s consent_write.lua -- POST
--   wrk ... http://127.0.0.1:PORT/_consent -s consent_write.lua -- GET
--
-- POST sends {"action":"reject_all","categories":[]} as application/json with
-- no cookie and no Origin, so every request records a new consent. The done
-- hook prints one line starting with "BENCH " holding JSON figures
-- (latencies in microseconds) that the Python script parses.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non200 = 0
   local method = args[1] or "GET"
   wrk.method = method
   -- A browser's user agent (the gateway classifies it; the parse is cached).
   wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
   if method == "POST" then
      wrk.body = '{"action":"reject_all","categories":[]}'
      wrk.headers["Content-Type"] = "application/json"
   end
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
   end
end

function done(summary, latency, requests)
   local non200_total = 0
   for _, thread in ipairs(threads) do
      non200_total = non200_total + (thread:get("non200") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "non200": %d, "status_errors": %d, '
         .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, '
         .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, non200_total, e.status,
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
