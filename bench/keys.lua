-- SPDX-License-Identifier: AGPL-3.0-or-later
-- wrk script for bench/run.sh: sends every request with the next API key of a file (one key a line),
-- round robin, so that the load spreads over several accounts and keys.
--
--   wrk -t1 -cC -dD -s bench/keys.lua URL -- KEYS_FILE

local keys = {}
local n = 0
local next_key = 0

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      n = n + 1
      keys[n] = line
    end
  end
  if n == 0 then
    error("keys.lua: no key in " .. tostring(args[1]))
  end
end

function request()
  next_key = next_key % n + 1
  return wrk.format(nil, nil, { ["X-API-Key"] = keys[next_key] })
end
