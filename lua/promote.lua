-- promote: move due entries of a stage's delayed set back into its stream.
-- Each due member is XADDed and removed in the same call, so an entry is never
-- both delayed and queued, and never dropped.
--
-- KEYS[1]   delayed sorted set of the stage
-- KEYS[2]   input stream of the stage
-- ARGV[1]   now, epoch milliseconds (entries scored <= now are due)
-- ARGV[2]   the most entries to move in this call
-- returns   {number of entries moved, when the next entry is due (epoch ms), or -1 when
--           none is left}, so the promoter sleeps until then instead of polling

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due do
  redis.call('XADD', KEYS[2], '*', unpack(cjson.decode(due[i])))
  redis.call('ZREM', KEYS[1], due[i])
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, nxt[2] and math.floor(tonumber(nxt[2])) or -1}
