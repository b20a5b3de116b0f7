-- alerts.lua - wrk script for bench/run.sh: one alert per request.
--
-- Environment:
--   BENCH_TARGET  runbookd      POST /webhook, an Alertmanager v4 webhook
--                               payload holding one alert
--                 ceiling       POST /webhook to bench/ceiling.c, the same body
--                 alertmanager  POST /api/v2/alerts, a JSON array of one
--                               postable alert
--   BENCH_MODE    distinct      every request carries a new alert (a label
--                               and, for runbookd, the fingerprint come from
--                               a per-thread counter): new incident / new
--                               alert every time
--                 same          every request carries the same alert
--                               (re-delivery: runbookd's repeat path,
--                               Alertmanager's merge)
--   BENCH_RUN     0..255, keeps the alerts of different runs apart
--
-- done() prints one machine-readable line, "BENCH key=value ...", that
-- run.sh reads; wrk's own --latency report is kept in the raw log.

local target = os.getenv("BENCH_TARGET") or "runbookd"
local mode = os.getenv("BENCH_MODE") or "distinct"
local run = tonumber(os.getenv("BENCH_RUN") or "0") % 256
local starts = os.getenv("BENCH_STARTS") or os.date("!%Y-%m-%dT%H:%M:%S.000000000Z")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function webhook_body(instance, fp)
  return '{"receiver":"bench","status":"firing","alerts":[{"status":"firing",'
    .. '"labels":{"alertname":"BenchAlert","instance":"' .. instance .. '",'
    .. '"job":"bench","namespace":"bench","severity":"warning"},'
    .. '"annotations":{"summary":"runbookd benchmark alert",'
    .. '"runbook_url":"https://runbooks/8"},'
    .. '"startsAt":"' .. starts .. '","endsAt":"0001-01-01T00:00:00Z",'
    .. '"generatorURL":"http://bench/graph","fingerprint":"' .. fp .. '"}],'
    .. '"groupLabels":{"alertname":"BenchAlert"},'
    .. '"commonLabels":{"alertname":"BenchAlert","instance":"' .. instance .. '",'
    .. '"job":"bench","namespace":"bench","severity":"warning"},'
    .. '"commonAnnotations":{"summary":"runbookd benchmark alert",'
    .. '"runbook_url":"https://runbooks/8"},'
    .. '"externalURL":"http://bench:9093","version":"4",'
    .. '"groupKey":"{}:{alertname=\\"BenchAlert\\"}","truncatedAlerts":0}'
end

local function postable_body(instance)
  return '[{"labels":{"alertname":"BenchAlert","instance":"' .. instance .. '",'
    .. '"job":"bench","namespace":"bench","severity":"warning"},'
    .. '"annotations":{"summary":"runbookd benchmark alert",'
    .. '"runbook_url":"https://runbooks/8"},'
    .. '"startsAt":"' .. starts .. '","generatorURL":"http://bench/graph"}]'
end

local function body_for(n)
  local t = (mode == "same") and 0 or (tid or 0)
  local instance = string.format("bench-%d-%d-%d", run, t, n)
  if target == "alertmanager" then
    return postable_body(instance)
  end
  -- 16 lowercase hex digits, unique per (run, thread, counter).
  return webhook_body(instance, string.format("%02x%02x%012x", run, t % 256, n))
end

local path = (target == "alertmanager") and "/api/v2/alerts" or "/webhook"

function init(args)
  wrk.method = "POST"
  wrk.path = path
  wrk.headers["Content-Type"] = "application/json"
  if mode == "same" then
    wrk.body = body_for(0)
  end
end

if mode == "distinct" then
  local counter = 0
  function request()
    counter = counter + 1
    return wrk.format("POST", path, nil, body_for(counter))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d "
      .. "mean_us=%.1f max_us=%d err_connect=%d err_read=%d err_write=%d "
      .. "err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status,
    e.timeout))
end
