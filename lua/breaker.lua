-- breaker: one step of an external dependency's circuit breaker, shared by every process.
-- The hash holds 'state' (closed, open or half_open; a missing hash is closed),
-- 'failures' (in a row, since the last success), 'opened_at' and 'probe_at'
-- (epoch ms, the server's TIME: hosts with skewed clocks share one timeline) and
-- 'error' (the last failure, for operators). An open breaker whose open time has
-- passed is half-open: the next 'check' hands its caller the one probe; a probe
-- not resolved within the open time is handed to the next caller. A success
-- closes a half-open breaker; a failure reopens it. A closed breaker opens after
-- ARGV[2] failures in a row. Every transition is made here, atomically.
--
-- KEYS[1]   breaker hash
-- ARGV[1]   event: 'check' (read; may half-open and hand out the probe),
--                  'fail' (record ARGV[4] failures), 'succeed' (record a success)
-- ARGV[2]   failures in a row that open a closed breaker
-- ARGV[3]   how long the breaker stays open, ms (and how long a probe is held)
-- ARGV[4]   failures to record ('fail' only)
-- ARGV[5]   the last failure's error text ('fail' only)
-- returns   {state, failures, ms until it half-opens (0 unless open),
--            transition ('' | 'opened' | 'half_open' | 'closed'), 1 if this caller holds
--            the probe now else 0}

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local event, threshold, open_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'opened_at', 'probe_at')
local stored = h[1] or 'closed'
local state, failures = stored, tonumber(h[2]) or 0
local opened_at, probe_at = tonumber(h[3]) or 0, tonumber(h[4]) or 0
local probe = 0

if state == 'open' and now >= opened_at + open_ms then
  state, probe_at = 'half_open', 0
end

if event == 'fail' then
  failures = failures + tonumber(ARGV[4])
  if state == 'half_open' or (state == 'closed' and failures >= threshold) then
    state, opened_at = 'open', now
  end
  redis.call('HSET', KEYS[1], 'error', ARGV[5])
elseif event == 'succeed' then
  if state == 'half_open' then state = 'closed' end
  if state == 'closed' then failures = 0 end
elseif event == 'check' then
  if state == 'half_open' and now >= probe_at + open_ms then
    probe_at, probe = now, 1
  end
else
  return redis.error_reply('breaker: unknown event ' .. tostring(event))
end

local transition = ''
if state ~= stored then
  transition = state == 'half_open' and 'half_open' or (state == 'open' and 'opened' or 'closed')
end
if transition ~= '' or event ~= 'check' or probe == 1 then
  redis.call('HSET', KEYS[1], 'state', state, 'failures', failures,
    'opened_at', opened_at, 'probe_at', probe_at)
end
local wait = 0
if state == 'open' then wait = opened_at + open_ms - now end
return {state, failures, wait, transition, probe}
