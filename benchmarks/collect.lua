-- wrk script for benchmarks/collect.py: GA4 hits as gtag.js sends them.
--
--   wrk ... http://127.0.0.1:PORT -s collect.lua -- PATH_AND_QUERY COOKIE
--
-- POSTs two events (one per body line) to PATH_AND_QUERY with the consent
-- cookie COOKIE ("-" for none), a browser user agent and X-Forwarded-For
-- (the benchmark runs the gateway with 127.0.0.1 as trusted proxy). The done
-- hook prints one line starting with "BENCH " with JSON figures
-- (latencies in microseconds) that the Python script parses.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non204 = 0
   wrk.method = "POST"
   wrk.path = args[1]
   wrk.body = "en=page_view&_et=12&ep.course=excel-voor-beginners\nen=scroll&epn.percent_scrolled=90"
   wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
   wrk.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      .. "Chrome/126.0.6478.126 Safari/537.36"
   wrk.headers["X-Forwarded-For"] = "203.0.113.77"
   if args[2] ~= "-" then
      wrk.headers["Cookie"] = args[2]
   end
end

function response(status, headers, body)
   if status ~= 204 then
      non204 = non204 + 1
   end
end

function done(summary, latency, requests)
   local non204_total = 0
   for _, thread in ipairs(threads) do
      non204_total = non204_total + (thread:get("non204") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "non204": %d, "socket_errors": %d, '
         .. '"p50_us": %d, "p99_us": %d}\n',
      summary.requests, summary.duration, non204_total, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
