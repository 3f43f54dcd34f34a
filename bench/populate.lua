-- SPDX-License-Identifier: AGPL-3.0-or-later
-- wrk script for bench/populate.sh: issues exactly `total` admin requests of one kind over
-- keep-alive connections, then stops. Run with one wrk thread (-t1): the counters are per thread.
--
--   wrk -t1 -cC -d600s -s bench/populate.lua URL -- MODE FIRST TOTAL NACCOUNTS
--
-- MODE accounts:    POST /v1/admin/accounts                      (TOTAL accounts)
-- MODE contracts:   PUT  /v1/admin/accounts/{FIRST+i}/contract    (i in 0..TOTAL-1)
-- MODE credentials: POST /v1/admin/accounts/{FIRST+i%NACCOUNTS}/credentials
-- The admin token comes from POPULATE_TOKEN, the plan code from POPULATE_PLAN (contracts); the
-- file POPULATE_DONE is written when every answer is in.
-- Once the TOTAL real requests are out, connections that still ask for one get GET /healthz, whose
-- answers are not counted; the run stops when every real request has its answer.

local mode, first, total, naccounts
-- wrk calls request() once right after init() to inspect the request, and never sends that one:
-- the first call answers a filler, so no real request is lost whether or not a wrk version does it.
local issued = -1
-- globals, so that done() can read them through thread:get
answered, failed = 0, 0
local headers

function init(args)
  mode = args[1]
  first = tonumber(args[2])
  total = tonumber(args[3])
  naccounts = tonumber(args[4] or args[3])
  headers = {
    ["Authorization"] = "Bearer " .. (os.getenv("POPULATE_TOKEN") or ""),
    ["Content-Type"] = "application/json",
  }
end

function request()
  issued = issued + 1
  if issued < 1 or issued > total then
    return wrk.format("GET", "/healthz")
  end
  local i = issued - 1
  if mode == "accounts" then
    return wrk.format("POST", "/v1/admin/accounts", headers, '{"name":"bench account ' .. issued .. '"}')
  elseif mode == "contracts" then
    local plan = os.getenv("POPULATE_PLAN") or "bench"
    return wrk.format("PUT", "/v1/admin/accounts/" .. (first + i) .. "/contract", headers,
                      '{"plan_code":"' .. plan .. '","timezone":"UTC"}')
  else
    return wrk.format("POST", "/v1/admin/accounts/" .. (first + i % naccounts) .. "/credentials", headers,
                      '{"label":"bench key ' .. issued .. '"}')
  end
end

function response(status, hdrs, body)
  if status == 200 and body:find('"status":"ok"', 1, true) then
    return -- a filler /healthz
  end
  answered = answered + 1
  if status < 200 or status >= 300 then
    failed = failed + 1
    if failed <= 3 then
      io.stderr:write("populate: " .. mode .. ": HTTP " .. status .. ": " .. body .. "\n")
    end
  end
  if answered == total then
    wrk.thread:stop()
    -- wrk's main thread sleeps for the whole -d duration: populate.sh waits for this file and
    -- then ends wrk with SIGINT, which makes it print its summary and call done().
    local f = io.open(os.getenv("POPULATE_DONE") or "/dev/null", "w")
    if f then
      f:write("done\n")
      f:close()
    end
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local a, f = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("answered")
    f = f + t:get("failed")
  end
  io.write(string.format("populate-result answered=%d failed=%d\n", a, f))
end
