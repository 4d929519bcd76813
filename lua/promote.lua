-- promote: move due entries of a stage's delayed set back into its stream.
-- Each due member is XADDed and removed in the same call, so an entry is never
-- both delayed and queued, and never dropped.
--
-- KEYS[1]   delayed sorted set of the stage
-- KEYS[2]   input stream of the stage
-- ARGV[1]   now, epoch milliseconds (entries scored <= now are due), or '' for the
--           server's TIME (the clock retry.lua scores by)
-- ARGV[2]   the most entries to move in this call
-- returns   {number of entries moved, milliseconds until the next entry is due (0 if it
--           is due already), or -1 when none is left}, so the promoter sleeps until then
--           instead of polling

local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due do
  redis.call('XADD', KEYS[2], '*', unpack(cjson.decode(due[i])))
  redis.call('ZREM', KEYS[1], due[i])
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if not nxt[2] then return {#due, -1} end
return {#due, math.max(0, math.floor(tonumber(nxt[2])) - now)}
